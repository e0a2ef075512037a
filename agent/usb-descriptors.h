/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The binary sysfs "descriptors" attribute of a USB device: the 18-byte device descriptor followed by
 * the raw descriptors of each configuration, as the device sent them. It stays readable after the
 * device has been deauthorized (authorized=0), when the kernel has removed its interfaces from sysfs,
 * so it is how mnguard still knows what a cut device is.
 *
 * Pure parser: no I/O. The bytes come from the device and are untrusted: every length is checked
 * against what is left, and nothing is read past the buffer. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kernel serves at most the device descriptor plus 65535 bytes of configuration descriptors
 * (drivers/usb/core/sysfs.c). A larger file is not from a kernel. */
#define MN_USB_DESCRIPTORS_MAX   (18 + 65535)
/* USB_MAXCONFIG: configurations the kernel keeps. */
#define MN_USB_DESC_MAX_CONFIGS  8
/* Interfaces kept over every configuration parsed (the kernel allows 32 per configuration). The rest
 * sets truncated. */
#define MN_USB_DESC_MAX_INTERFACES 64

typedef struct MnUsbDescInterface {
        uint8_t config; /* bConfigurationValue of its configuration */
        uint8_t number; /* bInterfaceNumber */
        uint8_t cls, subclass, protocol; /* of the first alternate setting seen (normally 0) */
} MnUsbDescInterface;

typedef struct MnUsbDescriptors {
        uint16_t vendor, product;
        uint8_t device_class;
        size_t n_configs;                  /* configurations parsed */
        MnUsbDescInterface interfaces[MN_USB_DESC_MAX_INTERFACES];
        size_t n_interfaces;
        /* Something was malformed, cut short or did not fit: the interfaces listed may not be all the
         * device has. Callers treat the device's functions as unknown (fail closed). */
        bool truncated;
} MnUsbDescriptors;

/* Parses buf[0..n). config_value selects one configuration (its bConfigurationValue); 0 takes every
 * configuration, for a device that is not configured (the kernel may pick any of them once it is
 * authorized). With a config_value that no configuration has, every configuration is taken.
 * Returns 0, or -EBADMSG when there is no valid device descriptor. */
int mn_usb_descriptors_parse(const uint8_t *buf, size_t n, uint8_t config_value, MnUsbDescriptors *ret);
