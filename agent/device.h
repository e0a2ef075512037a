/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The agent's view of a physical device: one USB device that is not a hub, or one removable disk
 * that is not on USB (SD/MMC, optical, ...). Built from libudev; the one code path that both
 * `mnguardctl devices` and the daemon use to classify what is plugged in.
 *
 * All strings are sanitized copies of untrusted device data (strutil.h: valid UTF-8, capped). */

#include <libudev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

typedef struct MnRemovablePatterns MnRemovablePatterns; /* removable-patterns.h */

/* The kernel caps a configuration at 32 interfaces (USB_MAXINTERFACES): more means a forged sysfs,
 * and the device is refused with -E2BIG. */
#define MN_DEVICE_MAX_INTERFACES  64
/* Disk plus partitions per device (GPT allows 128 partitions): the rest is flagged fs_truncated. */
#define MN_DEVICE_MAX_FILESYSTEMS 64
/* Physical devices listed by mn_devices_enumerate(); more gives -E2BIG. */
#define MN_DEVICES_MAX            4096

typedef struct MnInterface {
        char *syspath;
        char *sysname; /* e.g. "1-1:1.0" */
        uint8_t cls, subclass, protocol;
        char *label;   /* the interface string descriptor (sysfs "interface"), may be NULL */
        UsbClass function;
        bool keyboard, mouse;
        /* Recovered from the device's "descriptors" attribute: the interface is not in sysfs now (the
         * device is deauthorized or not configured yet); syspath and sysname are where the kernel
         * will create it. label is NULL then. */
        bool from_descriptors;
} MnInterface;

typedef struct MnFilesystem {
        char *devnode;  /* /dev/sdb1 */
        char *type, *uuid, *label; /* from udev ID_FS_*, libblkid as a fallback; may be NULL */
} MnFilesystem;

typedef struct MnDevice {
        char *syspath;
        char *sysname;
        char *bus;          /* "usb", "mmc", "ata", "scsi", ... */
        bool has_ids;
        uint16_t vendor, product;
        char *serial, *manufacturer, *model; /* may be NULL */
        bool optical;
        bool has_authorized;     /* USB devices: the sysfs "authorized" attribute exists */
        bool authorized;
        MnInterface *interfaces;
        size_t n_interfaces;
        MnFilesystem *fs;
        size_t n_fs;
        bool fs_truncated;       /* more block devices than MN_DEVICE_MAX_FILESYSTEMS; the rest omitted */
        UsbClassMask classes;    /* union of the interfaces' functions; storage for removable disks */
        /* USB devices whose interfaces are not (all) in sysfs and whose "descriptors" attribute is
         * missing, malformed or cut short: what the device can do is not known. mn_device_decide()
         * blocks such a device unless a rule names it (fail closed). */
        bool functions_unknown;
        /* A block disk listed only because agent.conf's removable-patterns names it (a loop device in
         * tests): it does not say it is removable itself. */
        bool extra_removable;
} MnDevice;

MnDevice *mn_device_free(MnDevice *d);
static inline void mn_device_freep(MnDevice **p) { mn_device_free(*p); }

/* Builds the view of a "usb_device" or of a block "disk". Returns -ENODEV for a device that is not a
 * physical device mnguard decides (a hub, a non-removable disk, a disk that belongs to a USB device). */
int mn_device_new_from_udev(struct udev_device *dev, MnDevice **ret);
/* The same, and a block disk whose kernel name matches one of extra's patterns counts as removable
 * media while it holds a medium (sysfs size > 0), see removable-patterns.h. extra may be NULL. */
int mn_device_new_from_udev_with_patterns(struct udev_device *dev, const MnRemovablePatterns *extra,
                                          MnDevice **ret);

/* The device mnguard decides for an event on dev: dev itself for a usb_device, its usb_device for an
 * interface or for a block device on USB, the disk for a partition of a non-USB disk, dev for such a disk.
 * Borrowed from dev (no reference taken); NULL for anything else. */
struct udev_device *mn_device_physical_parent(struct udev_device *dev);

/* Every present physical device, sorted by syspath. Works whether or not udev has initialized the
 * devices (umockdev testbeds never mark them initialized). */
int mn_devices_enumerate(struct udev *udev, MnDevice ***ret, size_t *ret_n);
/* The same with agent.conf's extra removable-media patterns (may be NULL). */
int mn_devices_enumerate_with_patterns(struct udev *udev, const MnRemovablePatterns *extra, MnDevice ***ret,
                                       size_t *ret_n);
void mn_devices_free(MnDevice **v, size_t n);

/* Fills a PolicyDevice that points into d. storage must hold d->n_interfaces PolicyInterfaces and
 * fs_storage 2 * d->n_fs string pointers; both must outlive *ret. */
void mn_device_to_policy(const MnDevice *d, PolicyDevice *ret, PolicyInterface *storage,
                         const char **fs_storage);

/* mn_device_to_policy() + policy_decide_device(). *ret_interface_blocked (if non-NULL) gets a new
 * array of d->n_interfaces bools (true = cut), to be freed by the caller. A device whose functions are
 * unknown (functions_unknown) that no rule decided is blocked whole. Returns 0 or -ENOMEM. */
int mn_device_decide(const MnDevice *d, const Policy *p, const PolicySubject *subject, int64_t today,
                     PolicyDecision *ret, bool **ret_interface_blocked);
