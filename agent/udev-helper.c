/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguard-udev's decision for one udev event (see udev-helper.h). */
#include "udev-helper.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "device.h"
#include "lockout.h"
#include "macro.h"
#include "usb-class.h"
#include "usb-enforce.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref);

typedef enum EventKind {
        EVENT_OTHER,
        EVENT_USB_DEVICE,
        EVENT_USB_INTERFACE,
        EVENT_BLOCK,
} EventKind;

static bool streq_ptr(const char *a, const char *b) {
        return a && b && streq(a, b);
}

static bool value_char_is_safe(unsigned char c, bool edge) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                return true;
        if (c == ' ')
                return !edge; /* udev strips leading and trailing whitespace off imported values */
        return c != 0 && strchr(",._:/@+()-", c);
}

char *mn_udev_value_escape(const char *s, size_t max_bytes) {
        static const char hex[] = "0123456789abcdef";
        size_t n, o = 0;
        bool cut;
        char *out;

        if (!s)
                s = "";
        n = strnlen(s, max_bytes + 1);
        cut = n > max_bytes;
        if (cut)
                n = max_bytes;
        out = malloc(n * 4 + sizeof("..."));
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (value_char_is_safe(c, i == 0 || (i == n - 1 && !cut))) {
                        out[o++] = (char) c;
                        continue;
                }
                out[o++] = '\\';
                out[o++] = 'x';
                out[o++] = hex[c >> 4];
                out[o++] = hex[c & 0xf];
        }
        if (cut) {
                memcpy(out + o, "...", 3);
                o += 3;
        }
        out[o] = 0;
        return out;
}

static int print_escaped(FILE *f, const char *key, const char *value) {
        _cleanup_free_ char *e = mn_udev_value_escape(value, MN_UDEV_VALUE_MAX);
        if (!e)
                return -ENOMEM;
        fprintf(f, "%s=%s\n", key, e);
        return 0;
}

/* Class names are the policy's own: [a-z-] only. "none" for no class: udev ignores empty values. */
static void print_classes(FILE *f, const char *key, UsbClassMask m) {
        bool first = true;

        fprintf(f, "%s=", key);
        for (int c = 0; c < _USB_CLASS_MAX; c++)
                if (m & USB_CLASS_BIT(c)) {
                        fprintf(f, "%s%s", first ? "" : ",", usb_class_to_string((UsbClass) c));
                        first = false;
                }
        fprintf(f, "%s\n", first ? "none" : "");
}

static EventKind event_kind(struct udev_device *dev) {
        const char *subsystem = udev_device_get_subsystem(dev), *devtype = udev_device_get_devtype(dev);

        if (streq_ptr(subsystem, "usb") && streq_ptr(devtype, "usb_device"))
                return EVENT_USB_DEVICE;
        if (streq_ptr(subsystem, "usb") && streq_ptr(devtype, "usb_interface"))
                return EVENT_USB_INTERFACE;
        if (streq_ptr(subsystem, "block") && (streq_ptr(devtype, "disk") || streq_ptr(devtype, "partition")))
                return EVENT_BLOCK;
        return EVENT_OTHER;
}

static ssize_t interface_index(const MnDevice *d, const char *sysname) {
        for (size_t k = 0; sysname && k < d->n_interfaces; k++)
                if (streq_ptr(d->interfaces[k].sysname, sysname))
                        return (ssize_t) k;
        return -1;
}

typedef struct Decided {
        MnDevice **devices;
        size_t n;
        PolicyDecision *decisions;
        bool **blocked;
        MnLockoutEntry *entries;
} Decided;

static void decided_done(Decided *x) {
        for (size_t i = 0; x->blocked && i < x->n; i++)
                free(x->blocked[i]);
        free(x->blocked);
        free(x->decisions);
        free(x->entries);
        mn_devices_free(x->devices, x->n);
}

/* The lockout guard over every device present, with d's decision as made for this event. Only run
 * when d's decision cuts a keyboard or mouse: it decides every device present. */
static int apply_lockout(struct udev *udev, const MnUdevContext *ctx, const MnDevice *d, PolicyDecision *dec,
                         bool *blocked, MnLockoutResult *ret) {
        _cleanup_(decided_done) Decided x = {};
        size_t m = 1;
        int r;

        *ret = (MnLockoutResult) { .original_verdict = dec->verdict };
        if (!mn_lockout_cuts_input(d, dec, blocked))
                return 0;

        /* Without the others, d counts as the only device: the guard then keeps it rather than risk
         * locking the user out. */
        r = mn_devices_enumerate(udev, &x.devices, &x.n);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                x.n = 0;

        x.decisions = calloc(x.n + 1, sizeof(PolicyDecision));
        x.blocked = calloc(x.n + 1, sizeof(bool *));
        x.entries = calloc(x.n + 1, sizeof(MnLockoutEntry));
        if (!x.decisions || !x.blocked || !x.entries)
                return -ENOMEM;

        x.entries[0] = (MnLockoutEntry) { .device = d, .decision = dec, .interface_blocked = blocked };
        for (size_t i = 0; i < x.n; i++) {
                if (streq_ptr(x.devices[i]->syspath, d->syspath))
                        continue; /* this event's own view of it is entry 0 */
                r = mn_device_decide(x.devices[i], ctx->policy, ctx->subject, ctx->today, &x.decisions[i],
                                     &x.blocked[i]);
                if (r < 0)
                        return r;
                x.entries[m++] = (MnLockoutEntry) {
                        .device = x.devices[i],
                        .decision = &x.decisions[i],
                        .interface_blocked = x.blocked[i],
                };
        }
        r = mn_lockout_apply(ctx->policy, x.entries, m);
        if (r < 0)
                return r;
        *ret = x.entries[0].result;
        return 0;
}

static const char *lockout_name(const MnLockoutResult *l) {
        return l->last_keyboard ? "last-keyboard" : l->last_mouse ? "last-mouse" : "input-kept";
}

/* What udev is to do, as properties. Every key is always written, so that no value can be left over
 * from an earlier event of the device (udev carries properties over on "move"; older versions did
 * more). */
typedef struct Outcome {
        bool managed;
        const char *device;           /* sysname, untrusted */
        const char *decision, *rule, *reason;
        UsbClassMask classes, blocked;
        bool audit, functions_unknown;
        const char *lockout;
        const char *interface_function;
        bool cut_device;              /* the decision cuts the physical device whole */
        bool cut_this;                /* this event's usb_device or usb_interface is to be cut */
        const char *storage;          /* block events: block, read-only, read-write; else NULL */
} Outcome;

static int print_outcome(FILE *f, const Outcome *o) {
        bool storage_blocked = o->storage && streq(o->storage, "block");
        bool read_only = o->storage && streq(o->storage, "read-only");
        int r;

        fprintf(f, "MNGUARD_MANAGED=%d\n", o->managed);
        if ((r = print_escaped(f, "MNGUARD_DEVICE", o->device ?: "none")) < 0 ||
            (r = print_escaped(f, "MNGUARD_DECISION", o->decision ?: "none")) < 0 ||
            (r = print_escaped(f, "MNGUARD_RULE", o->rule ?: "none")) < 0 ||
            (r = print_escaped(f, "MNGUARD_REASON", o->reason ?: "none")) < 0)
                return r;
        print_classes(f, "MNGUARD_CLASSES", o->classes);
        print_classes(f, "MNGUARD_BLOCKED", o->blocked);
        fprintf(f, "MNGUARD_AUDIT=%d\n", o->audit);
        fprintf(f, "MNGUARD_LOCKOUT=%s\n", o->lockout ?: "none");
        fprintf(f, "MNGUARD_FUNCTIONS_UNKNOWN=%d\n", o->functions_unknown);
        fprintf(f, "MNGUARD_INTERFACE_FUNCTION=%s\n", o->interface_function ?: "none");
        fprintf(f, "MNGUARD_CUT_DEVICE=%d\n", o->cut_device);
        /* The rule writes authorized=0 on this event's device when MNGUARD_AUTHORIZE is 0. */
        fprintf(f, "MNGUARD_AUTHORIZE=%d\n", !(o->cut_this && !o->audit));
        fprintf(f, "MNGUARD_WOULD_AUTHORIZE=%d\n", !o->cut_this);
        fprintf(f, "MNGUARD_STORAGE=%s\n", o->storage ?: "none");
        fprintf(f, "MNGUARD_READ_ONLY=%d\n", read_only && !o->audit);
        /* MNGUARD_UDISKS tells the rule, at the next event, that the UDISKS_* keys were ours. */
        fprintf(f, "MNGUARD_UDISKS=%d\n", storage_blocked && !o->audit);
        if (storage_blocked && !o->audit)
                fprintf(f, "UDISKS_IGNORE=1\nUDISKS_AUTO=0\n");
        return 0;
}

/* Whether this event's device is cut, and what a block device's storage gets. */
static void outcome_enforcement(struct udev_device *dev, EventKind kind, const MnDevice *d,
                                const PolicyDecision *dec, const MnUsbPlan *plan, Outcome *o) {
        struct udev_device *i;
        ssize_t k;

        o->cut_device = d->has_authorized && plan->cut_device;
        switch (kind) {
        case EVENT_USB_DEVICE:
                o->cut_this = plan->cut_device;
                return;
        case EVENT_USB_INTERFACE:
                k = interface_index(d, udev_device_get_sysname(dev));
                if (k >= 0)
                        o->interface_function = usb_class_to_string(d->interfaces[k].function);
                o->cut_this = plan->cut_device || (k >= 0 && plan->cut_interface[k]);
                return;
        case EVENT_BLOCK:
                if (!d->has_authorized) {
                        /* Not on USB (or nothing to cut there): the disk is decided whole. */
                        bool cut = dec->verdict == VERDICT_BLOCK || (dec->blocked & USB_CLASS_BIT(USB_CLASS_STORAGE));
                        o->storage = cut ? "block" : media_access_to_string(dec->storage);
                } else {
                        /* On USB: the storage function is the interface the disk hangs off. */
                        i = udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_interface");
                        k = i ? interface_index(d, udev_device_get_sysname(i)) : -1;
                        bool cut = plan->cut_device || (k >= 0 ? plan->cut_interface[k]
                                                                : (dec->blocked & USB_CLASS_BIT(USB_CLASS_STORAGE)));
                        o->storage = cut ? "block" : media_access_to_string(dec->storage);
                }
                return;
        default:
                return;
        }
}

static int decide(struct udev *udev, struct udev_device *dev, EventKind kind, const MnUdevContext *ctx, FILE *f) {
        _cleanup_(mn_device_freep) MnDevice *d = NULL;
        _cleanup_free_ bool *blocked = NULL;
        struct udev_device *phys = mn_device_physical_parent(dev);
        MnLockoutResult lockout;
        PolicyDecision dec;
        MnUsbPlan plan = {};
        Outcome o = {};
        int r;

        r = phys ? mn_device_new_from_udev(phys, &d) : -ENODEV;
        if (r == -ENODEV || r == -ENOENT || r == -ENXIO)
                /* Not one mnguard decides (a hub, an internal disk), or unplugged meanwhile. */
                return print_outcome(f, &o);
        if (r == -E2BIG) {
                /* More interfaces than the kernel allows: a forged device. Cut it. */
                o = (Outcome) {
                        .managed = true,
                        .decision = "block",
                        .rule = POLICY_RULE_DEFAULT,
                        .reason = "more interfaces than USB allows (forged device)",
                        .functions_unknown = true,
                        .cut_device = kind != EVENT_BLOCK,
                        .cut_this = kind != EVENT_BLOCK,
                        .storage = kind == EVENT_BLOCK ? "block" : NULL,
                };
                return print_outcome(f, &o);
        }
        if (r < 0)
                return r;

        r = mn_device_decide(d, ctx->policy, ctx->subject, ctx->today, &dec, &blocked);
        if (r < 0)
                return r;
        r = apply_lockout(udev, ctx, d, &dec, blocked, &lockout);
        if (r < 0)
                return r;
        if (d->has_authorized) {
                r = mn_usb_plan(d, &dec, blocked, &plan);
                if (r < 0)
                        return r;
        }

        o = (Outcome) {
                .managed = true,
                .device = d->sysname,
                .decision = policy_verdict_to_string(dec.verdict),
                .rule = dec.rule ?: POLICY_RULE_DEFAULT,
                .reason = dec.reason,
                .classes = d->classes,
                .blocked = dec.blocked,
                .audit = dec.audit,
                .functions_unknown = d->functions_unknown,
                .lockout = lockout.changed ? lockout_name(&lockout) : NULL,
        };
        outcome_enforcement(dev, kind, d, &dec, &plan, &o);
        return print_outcome(f, &o);
}

int mn_udev_decide(struct udev *udev, const char *syspath, const MnUdevContext *ctx, FILE *out) {
        _cleanup_(udev_device_unrefp) struct udev_device *dev = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        EventKind kind;
        int r;

        dev = udev_device_new_from_syspath(udev, syspath);
        if (!dev)
                return errno > 0 ? -errno : -ENODEV;
        kind = event_kind(dev);

        /* Everything is written at once at the end, or nothing. */
        f = open_memstream(&text, &len);
        if (!f)
                return -ENOMEM;
        fprintf(f, "MNGUARD_SNAPSHOT=%s\n", ctx->snapshot == MN_SNAPSHOT_OK        ? "ok"
                                            : ctx->snapshot == MN_SNAPSHOT_MISSING ? "missing"
                                                                                   : "invalid");
        fprintf(f, "MNGUARD_FAIL_CLOSED=%d\n", ctx->snapshot != MN_SNAPSHOT_OK);
        fprintf(f, "MNGUARD_POLICY_SERIAL=%llu\n", (unsigned long long) ctx->policy->serial);

        r = kind == EVENT_OTHER ? print_outcome(f, &(Outcome) {}) : decide(udev, dev, kind, ctx, f);
        if (r < 0)
                return r;

        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        if (fwrite(text, 1, len, out) != len || fflush(out) != 0)
                return -EIO;
        return 0;
}
