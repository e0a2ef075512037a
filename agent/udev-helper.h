/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* mnguard-udev's decision for one udev event: which physical device the event's device belongs to,
 * what the policy (the snapshot, or the fail-closed defaults) decides for it after the lockout guard,
 * and the udev properties that make the rule in installer/udev/70-mnguard.rules enforce it. Part of
 * the mnguard-udev binary. See docs/usb-enforcement.md for the properties. */

#include <libudev.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"

/* Bytes of an untrusted or free-text value escaped into one property; the rest is cut with "...". */
#define MN_UDEV_VALUE_MAX 256

typedef enum MnSnapshotState {
        MN_SNAPSHOT_OK,
        MN_SNAPSHOT_MISSING, /* no snapshot: fail closed */
        MN_SNAPSHOT_INVALID, /* unreadable, untrusted or invalid: fail closed */
} MnSnapshotState;

typedef struct MnUdevContext {
        const Policy *policy;          /* the snapshot, or the built-in fail-closed policy */
        MnSnapshotState snapshot;
        const PolicySubject *subject;  /* NULL: nobody logged in */
        int64_t today;                 /* local date, days since 1970-01-01 */
} MnUdevContext;

/* A udev property value that says exactly what s is and can do nothing: bytes outside
 * [A-Za-z0-9 ,._:/@+()-] (and a leading space) become "\xNN", a backslash too; at most max_bytes of s,
 * then "...". Returns a new string or NULL on allocation failure. */
char *mn_udev_value_escape(const char *s, size_t max_bytes);

/* Decides the device at syspath (a usb_device, a usb_interface, a block disk or partition) and writes
 * KEY=VALUE lines to out. A device mnguard does not decide (a hub, an internal disk) gets
 * MNGUARD_MANAGED=0. Returns 0, or a negative errno when no decision could be made and nothing was
 * written (the rule's static fallback then applies). */
int mn_udev_decide(struct udev *udev, const char *syspath, const MnUdevContext *ctx, FILE *out);
