/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The daemon's device watch: a libudev monitor on the "udev" source (initialized devices only) for USB
 * devices, their interfaces and block devices, plus coldplug of what is present at start. Every event
 * re-decides the physical device it belongs to (one classification path: device.c), runs the lockout
 * guard over all present devices, enforces through sysfs "authorized" (usb-enforce.c) and records
 * device-connected / -allowed / -read-only / -blocked / -removed events. */

#include <stdbool.h>
#include <stddef.h>

typedef struct Manager Manager;
typedef struct UsbWatch UsbWatch;

/* Bounds */
#define USB_WATCH_MAX_DEVICES 4096
#define USB_WATCH_RCVBUF (16 * 1024 * 1024) /* uevent socket buffer: bursts must not be dropped */

int usb_watch_new(Manager *m, UsbWatch **ret);
UsbWatch *usb_watch_free(UsbWatch *w);

/* Decides every device present now (before READY=1). */
int usb_watch_coldplug(UsbWatch *w);

/* Re-decides every device: the policy or the user changed. */
int usb_watch_redecide_all(UsbWatch *w, const char *why);

size_t usb_watch_n_devices(const UsbWatch *w);
