/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Applies a device decision to sysfs "authorized" (docs/usb-enforcement.md):
 *  - the whole device (usb_device authorized=0) when the decision is "block": an explicit block rule,
 *    a BadUSB composite, or every function cut; the kernel then removes its interfaces;
 *  - else each interface the decision cuts (usb_interface authorized=0, Linux >= 4.4), and 1 for the
 *    others, so that a policy change that allows a function gives it back.
 * Writes go through a directory fd held on the device (mn_usb_open()), then openat() of one name at a
 * time: the device directory, an interface directory below it, "authorized". A device unplugged and
 * another plugged into the same port meanwhile is a new directory, and the held fd does not reach it.
 * Every write is read back. In audit mode nothing is written; the result says what would be.
 *
 * Works on real sysfs and in umockdev testbeds (LD_PRELOAD=libumockdev-preload redirects the open of
 * /sys/...; the openat()s below it follow). Library code: no logging. */

#include <stdbool.h>
#include <stddef.h>

#include "device.h"
#include "policy.h"

/* What "authorized" should say, derived from a decision (after the lockout guard). Pure. */
typedef struct MnUsbPlan {
        bool audit;                 /* compute, write nothing */
        bool cut_device;            /* authorized=0 on the device itself */
        size_t n_interfaces;        /* = the device's n_interfaces */
        bool cut_interface[MN_DEVICE_MAX_INTERFACES]; /* authorized=0 on this interface (unless cut_device) */
} MnUsbPlan;

/* interface_blocked holds d->n_interfaces entries (may be NULL when there are none). Returns 0,
 * -EOPNOTSUPP for a device without "authorized" (not USB: the block layer enforces those), -EINVAL. */
int mn_usb_plan(const MnDevice *d, const PolicyDecision *dec, const bool *interface_blocked, MnUsbPlan *ret);

/* One "authorized" attribute. */
typedef struct MnAuthState {
        int before;    /* 0 or 1 as read; -1 when not there (an interface the kernel removed or has not
                        * created, or not looked at because the device is cut whole) */
        int after;     /* the value it has now (enforce) or would have (audit); -1 when not there */
        bool changed;  /* after != before: written (enforce) or would be (audit) */
        int error;     /* 0, or the negative errno of the write or its read-back */
} MnAuthState;

typedef struct MnEnforceResult {
        bool audit;            /* nothing was written */
        bool changed;          /* something was written (or, in audit mode, would be) */
        bool whole_device;     /* the device is cut whole */
        MnAuthState device;
        size_t n_interfaces;
        MnAuthState interfaces[MN_DEVICE_MAX_INTERFACES]; /* in the order of the device's interfaces */
        UsbClassMask blocked;  /* functions cut now (device or interfaces), changed or not */
        UsbClassMask cut;      /* functions cut by this call: 1 -> 0 */
        UsbClassMask restored; /* functions given back by this call: 0 -> 1 */
        size_t n_cut;          /* interfaces cut now (all of them when whole_device) */
} MnEnforceResult;

/* Opens the device's sysfs directory (O_PATH): the fd the caller holds for as long as the device is
 * present. Returns the fd or a negative errno. */
int mn_usb_open(const char *syspath);

/* Makes sysfs match plan. On a device being re-authorized the device is written first (the kernel
 * then creates its interfaces), then each interface that must stay cut gets its 0. *result is filled
 * whether or not an error is returned (it says what was done). Returns 0 when every attribute that
 * exists holds the planned value, -ENODEV when the device is gone, or the first error of a write or a
 * read-back that did not give the value written (-EIO). */
int mn_usb_enforce(int dirfd, const MnDevice *d, const MnUsbPlan *plan, MnEnforceResult *result);

/* Reads "authorized" below dirfd: name NULL for the device itself, else an interface's sysname.
 * Returns 0 with *ret 0 or 1, -ENOENT when there is no such attribute, -EBADMSG for another value. */
int mn_usb_read_authorized(int dirfd, const char *name, int *ret);
