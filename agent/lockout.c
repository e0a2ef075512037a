/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The lockout guard (see lockout.h): pure, no I/O. */
#include "lockout.h"

#include <errno.h>
#include <string.h>

#include "macro.h"

#define REASON_INPUT_KEPT     "lockout guard: keyboards and mice are not cut by a default or class rule"
#define REASON_LAST_KEYBOARD  "lockout guard: the last keyboard present stays authorized"
#define REASON_LAST_MOUSE     "lockout guard: the last mouse present stays authorized"

typedef enum RuleKind {
        RULE_DEFAULT,
        RULE_CLASS,    /* matches by classes or bus only: not this device in particular */
        RULE_EXPLICIT, /* names the device (vendor, product, serial) or its media (fs-uuid, fs-label) */
} RuleKind;

typedef enum InputKind {
        INPUT_KEYBOARD,
        INPUT_MOUSE,
} InputKind;

static RuleKind rule_kind(const Policy *p, const char *rule) {
        if (!rule || streq(rule, POLICY_RULE_DEFAULT))
                return RULE_DEFAULT;
        for (size_t i = 0; p && i < p->n_media; i++) {
                const MediaRule *r = &p->media[i];
                if (r->name != rule && !streq(r->name, rule))
                        continue;
                const MediaMatch *m = &r->match;
                return m->has_vendor || m->has_product || m->serial || m->fs_uuid || m->fs_label ? RULE_EXPLICIT
                                                                                                 : RULE_CLASS;
        }
        /* A rule we cannot find cannot be shown to name the device: protect the input. */
        return RULE_CLASS;
}

static bool is_input(const MnInterface *i, InputKind kind) {
        return kind == INPUT_KEYBOARD ? i->keyboard : i->mouse;
}

static bool cut(const MnLockoutEntry *e, size_t k) {
        return e->decision->verdict == VERDICT_BLOCK || e->interface_blocked[k];
}

/* Every interface is HID: a keyboard, a mouse, a receiver for both. Not a composite. A device whose
 * descriptors could not be read whole may hide anything behind its keyboard: not only HID. */
static bool only_hid(const MnDevice *d) {
        if (d->n_interfaces == 0 || d->functions_unknown)
                return false;
        for (size_t k = 0; k < d->n_interfaces; k++)
                if (d->interfaces[k].function != USB_CLASS_HID)
                        return false;
        return true;
}

static bool has_input(const MnDevice *d, InputKind kind) {
        for (size_t k = 0; k < d->n_interfaces; k++)
                if (is_input(&d->interfaces[k], kind))
                        return true;
        return false;
}

/* The device keeps an input interface of this kind after its decision. */
static bool keeps_input(const MnLockoutEntry *e, InputKind kind) {
        if (e->decision->audit)
                return has_input(e->device, kind);
        for (size_t k = 0; k < e->device->n_interfaces; k++)
                if (is_input(&e->device->interfaces[k], kind) && !cut(e, k))
                        return true;
        return false;
}

bool mn_lockout_cuts_input(const MnDevice *d, const PolicyDecision *dec, const bool *interface_blocked) {
        if (dec->audit)
                return false;
        for (size_t k = 0; k < d->n_interfaces; k++) {
                const MnInterface *i = &d->interfaces[k];
                if ((i->keyboard || i->mouse) && (dec->verdict == VERDICT_BLOCK || interface_blocked[k]))
                        return true;
        }
        return false;
}

/* After interfaces were given back: the verdict and the classes cut that follow from interface_blocked. */
static void recompute(MnLockoutEntry *e) {
        const MnDevice *d = e->device;
        PolicyDecision *dec = e->decision;
        UsbClassMask blocked = 0, kept = 0;
        size_t n_blocked = 0;

        for (size_t k = 0; k < d->n_interfaces; k++) {
                if (e->interface_blocked[k]) {
                        n_blocked++;
                        blocked |= USB_CLASS_BIT(d->interfaces[k].function);
                } else
                        kept |= USB_CLASS_BIT(d->interfaces[k].function);
        }
        dec->blocked = blocked;
        if (n_blocked > 0)
                dec->verdict = VERDICT_PARTIAL;
        else if ((kept & USB_CLASS_BIT(USB_CLASS_STORAGE)) && dec->storage != MEDIA_BLOCK)
                dec->verdict = dec->storage == MEDIA_READ_ONLY ? VERDICT_READ_ONLY : VERDICT_READ_WRITE;
        else
                dec->verdict = VERDICT_ALLOW;
}

static void mark_changed(MnLockoutEntry *e, const char *reason) {
        e->result.changed = true;
        e->result.reason = reason;
        e->decision->reason = reason;
}

/* Gives back every HID interface (all of them for a device that is only HID). */
static void spare_hid(MnLockoutEntry *e, const char *reason) {
        const MnDevice *d = e->device;

        mark_changed(e, reason);
        /* A whole-device cut becomes per interface: everything but HID stays cut. */
        if (e->decision->verdict == VERDICT_BLOCK)
                for (size_t k = 0; k < d->n_interfaces; k++)
                        e->interface_blocked[k] = true;
        for (size_t k = 0; k < d->n_interfaces; k++)
                if (d->interfaces[k].function == USB_CLASS_HID)
                        e->interface_blocked[k] = false;
        recompute(e);
}

/* Rule 1: defaults and class rules leave keyboards and mice alone, but for the BadUSB composite. */
static void protect_input(const Policy *p, MnLockoutEntry *e) {
        const MnDevice *d = e->device;

        if (!mn_lockout_cuts_input(d, e->decision, e->interface_blocked))
                return;
        if (rule_kind(p, e->decision->rule) == RULE_EXPLICIT)
                return;
        if (e->decision->verdict == VERDICT_BLOCK && !only_hid(d))
                return; /* BadUSB: cut whole, unless it is the last keyboard or mouse (rule 3) */
        e->result.input_kept = true;
        spare_hid(e, REASON_INPUT_KEPT);
}

/* Lower is spared first: a device that is only HID (a real keyboard), then composites; then by
 * syspath, so that the same device is spared every time the set is decided. */
static int spare_order(const MnLockoutEntry *a, const MnLockoutEntry *b) {
        bool ha = only_hid(a->device), hb = only_hid(b->device);
        if (ha != hb)
                return ha ? -1 : 1;
        return strcmp(a->device->syspath ?: "", b->device->syspath ?: "");
}

/* Rule 3: when no device keeps an input interface of this kind, spare one. */
static void keep_last(MnLockoutEntry *v, size_t n, InputKind kind) {
        MnLockoutEntry *best = NULL;

        for (size_t i = 0; i < n; i++) {
                MnLockoutEntry *e = &v[i];
                if (!has_input(e->device, kind))
                        continue;
                if (keeps_input(e, kind))
                        return; /* one is left: nothing to do */
                if (!best || spare_order(e, best) < 0)
                        best = e;
        }
        if (!best)
                return; /* no such device present */

        if (kind == INPUT_KEYBOARD)
                best->result.last_keyboard = true;
        else
                best->result.last_mouse = true;
        spare_hid(best, kind == INPUT_KEYBOARD ? REASON_LAST_KEYBOARD : REASON_LAST_MOUSE);
}

int mn_lockout_apply(const Policy *p, MnLockoutEntry *v, size_t n) {
        int changed = 0;

        if (n > 0 && !v)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!v[i].device || !v[i].decision || (v[i].device->n_interfaces > 0 && !v[i].interface_blocked))
                        return -EINVAL;
                v[i].result = (MnLockoutResult) { .original_verdict = v[i].decision->verdict };
        }

        for (size_t i = 0; i < n; i++)
                protect_input(p, &v[i]);
        keep_last(v, n, INPUT_KEYBOARD);
        keep_last(v, n, INPUT_MOUSE);

        for (size_t i = 0; i < n; i++)
                changed += v[i].result.changed;
        return changed;
}
