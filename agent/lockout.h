/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The lockout guard: nobody is left without a keyboard or mouse by the policy. A pure function over the
 * devices present and the policy's decisions for them, run after the decisions and before enforcement
 * (by mnguardd and mnguard-udev alike). See docs/usb-enforcement.md.
 *
 *  1. A default or a class rule (a media rule that does not name the device by vendor, product,
 *     serial, fs-uuid or fs-label) never cuts a keyboard or mouse: a device that is only HID is kept
 *     whole; a partial cut leaves its HID interfaces alone. The one exception is the BadUSB guard: a
 *     composite that mixes HID with a function that is cut is cut whole. A device whose functions
 *     are unknown (MnDevice.functions_unknown: malformed descriptors) counts as such a composite.
 *  2. An explicit rule naming a keyboard or mouse may block it.
 *  3. But never the last keyboard, nor the last mouse: when no keyboard present would keep a keyboard
 *     interface, one is spared (a device that is only HID in preference to a composite, then the
 *     lowest syspath). A spared device that is only HID stays authorized whole; a spared composite
 *     (BadUSB) keeps its HID interfaces and loses everything else the policy cut.
 *
 * Keyboards and mice are the HID boot interfaces (usb_interface_is_keyboard/_mouse). Decisions in audit
 * mode cut nothing and are left alone. Only USB devices are counted: a PS/2 or built-in keyboard is not
 * seen, so the guard may spare a USB keyboard that was not the last one. */

#include <stdbool.h>
#include <stddef.h>

#include "device.h"
#include "policy.h"

typedef struct MnLockoutResult {
        bool changed;          /* the guard changed this decision */
        bool input_kept;       /* rule 1: a default or class rule would have cut HID interfaces */
        bool last_keyboard;    /* rule 3: spared as the last keyboard present */
        bool last_mouse;       /* rule 3: spared as the last mouse present */
        PolicyVerdict original_verdict; /* what the policy decided, before the guard */
        const char *reason;    /* static English; NULL when unchanged */
} MnLockoutResult;

typedef struct MnLockoutEntry {
        const MnDevice *device;
        PolicyDecision *decision;  /* in/out: verdict, blocked and reason may change */
        bool *interface_blocked;   /* in/out: device->n_interfaces entries, true = cut */
        MnLockoutResult result;    /* out */
} MnLockoutEntry;

/* Applies the guard to every device present. p is the policy that made the decisions (to tell an
 * explicit rule from a class rule; NULL treats every rule as a class rule). Returns the number of
 * decisions changed, or -EINVAL. */
int mn_lockout_apply(const Policy *p, MnLockoutEntry *v, size_t n);

/* Whether the decision cuts a keyboard (or a mouse) interface of d. */
bool mn_lockout_cuts_input(const MnDevice *d, const PolicyDecision *dec, const bool *interface_blocked);
