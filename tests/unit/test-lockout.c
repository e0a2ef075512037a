/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The lockout guard, table-driven: sets of present devices, decided by real policies (defaults, class
 * rules, explicit rules, audit), then guarded. Each row says what every device ends up with. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "device.h"
#include "lockout.h"
#include "macro.h"
#include "policy.h"

#define MAX_IF  4
#define MAX_DEV 4
#define TODAY   20783 /* 2026-11-26 */

typedef enum Dev {
        KBD_A,   /* 046d:c31c keyboard (boot keyboard + a consumer-control HID interface), 1-3 */
        KBD_A2,  /* the same model at 1-9 */
        KBD_B,   /* 413c:2113 keyboard, 1-8 */
        MOUSE,   /* 046d:c077 mouse, 1-4 */
        COMBO,   /* wireless receiver: keyboard + mouse, 1-10 */
        BADUSB,  /* storage + boot keyboard, serial BADUSB, 1-5 */
        STICK,   /* storage, 1-1 */
        PHONE,   /* MTP + ADB, 1-6 */
        MYSTERY, /* a keyboard whose descriptors were cut short (functions unknown), 1-15 */
        _DEV_MAX,
} Dev;

typedef struct IfSpec {
        uint8_t cls, sub, proto;
        const char *label;
} IfSpec;

typedef struct DevSpec {
        const char *syspath;
        uint16_t vendor, product;
        const char *serial;
        IfSpec ifs[MAX_IF];
        size_t n_ifs;
        bool functions_unknown;
} DevSpec;

#define USB1 "/sys/devices/pci0000:00/0000:00:14.0/usb1/"
#define IF_KBD   { 0x03, 0x01, 0x01, NULL }
#define IF_HID   { 0x03, 0x00, 0x00, NULL }
#define IF_MOUSE { 0x03, 0x01, 0x02, NULL }
#define IF_STOR  { 0x08, 0x06, 0x50, NULL }

static const DevSpec specs[_DEV_MAX] = {
        [KBD_A]  = { USB1 "1-3",  0x046d, 0xc31c, NULL,     { IF_KBD, IF_HID }, 2 },
        [KBD_A2] = { USB1 "1-9",  0x046d, 0xc31c, NULL,     { IF_KBD }, 1 },
        [KBD_B]  = { USB1 "1-8",  0x413c, 0x2113, NULL,     { IF_KBD }, 1 },
        [MOUSE]  = { USB1 "1-4",  0x046d, 0xc077, NULL,     { IF_MOUSE }, 1 },
        [COMBO]  = { USB1 "1-10", 0x046d, 0xc52b, NULL,     { IF_KBD, IF_MOUSE, IF_HID }, 3 },
        [BADUSB] = { USB1 "1-5",  0x0951, 0x1666, "BADUSB", { IF_STOR, IF_KBD }, 2 },
        [STICK]  = { USB1 "1-1",  0x0781, 0x5581, "STICK",  { IF_STOR }, 1 },
        [PHONE]  = { USB1 "1-6",  0x18d1, 0x4ee2, "PHONE",  { { 0xff, 0xff, 0x00, "MTP" }, { 0xff, 0x42, 0x01, "ADB" } }, 2 },
        [MYSTERY] = { USB1 "1-15", 0x0951, 0x1667, NULL,    { IF_KBD }, 1, true },
};

static MnDevice devices[_DEV_MAX];
static MnInterface interfaces[_DEV_MAX][MAX_IF];

enum {
        P_DEFAULTS,
        P_BLOCK_KBD_A,      /* explicit: 046d:c31c */
        P_BLOCK_KEYBOARDS,  /* explicit: both keyboard models */
        P_CLASS_HID,        /* class rule: every hid device */
        P_CLASS_STORAGE,    /* class rule: every device with storage */
        P_BLOCK_MOUSE,      /* explicit: the mouse */
        P_BLOCK_BADUSB,     /* explicit: serial BADUSB */
        P_AUDIT_KBD_A,      /* explicit block of 046d:c31c, in audit mode */
        P_BLOCK_COMBO_FS,   /* explicit by fs-label: matches nothing here */
        _P_MAX,
};

#define HEAD "mnguard-policy: 1\nserial: 1\nname: lockout\n"
static const char *const policy_texts[_P_MAX] = {
        [P_DEFAULTS] = HEAD,
        [P_BLOCK_KBD_A] = HEAD "media:\n  - {name: kbd-a, match: {vendor: \"046d\", product: \"c31c\"}, access: block}\n",
        [P_BLOCK_KEYBOARDS] = HEAD "media:\n"
                                   "  - {name: kbd-a, match: {vendor: \"046d\", product: \"c31c\"}, access: block}\n"
                                   "  - {name: kbd-b, match: {vendor: \"413c\", product: \"2113\"}, access: block}\n",
        [P_CLASS_HID] = HEAD "media:\n  - {name: no-hid, match: {classes: [hid]}, access: block}\n",
        [P_CLASS_STORAGE] = HEAD "media:\n  - {name: no-storage, match: {classes: [storage], bus: usb}, access: block}\n",
        [P_BLOCK_MOUSE] = HEAD "media:\n  - {name: mouse, match: {vendor: \"046d\", product: \"c077\"}, access: block}\n",
        [P_BLOCK_BADUSB] = HEAD "media:\n  - {name: bad, match: {serial: \"BADUSB\"}, access: block}\n",
        [P_AUDIT_KBD_A] = HEAD "mode: audit\nmedia:\n  - {name: kbd-a, match: {vendor: \"046d\", product: \"c31c\"}, access: block}\n",
        [P_BLOCK_COMBO_FS] = HEAD "media:\n  - {name: by-label, match: {fs-label: \"X\"}, access: block}\n",
};
static Policy *policies[_P_MAX];

enum {
        F_CHANGED = 1 << 0,
        F_INPUT = 1 << 1,
        F_LAST_KBD = 1 << 2,
        F_LAST_MOUSE = 1 << 3,
};

typedef struct Want {
        Dev dev;
        PolicyVerdict verdict;
        const char *cut; /* one '1' (cut) or '0' per interface, after the guard */
        unsigned flags;
        PolicyVerdict original; /* when F_CHANGED */
} Want;

typedef struct Row {
        const char *what;
        int policy;
        size_t n;
        Want want[MAX_DEV];
        int changed;
} Row;

#define W(d, v, c) { .dev = (d), .verdict = (v), .cut = (c) }
#define WC(d, v, c, f, o) { .dev = (d), .verdict = (v), .cut = (c), .flags = (f), .original = (o) }

static const Row rows[] = {
        { .what = "defaults leave input alone, cut the stick", .policy = P_DEFAULTS, .n = 3, .want =
          { W(KBD_A, VERDICT_ALLOW, "00"), W(MOUSE, VERDICT_ALLOW, "0"), W(STICK, VERDICT_BLOCK, "1") }, .changed = 0 },
        { .what = "BadUSB is cut whole while another keyboard is present", .policy = P_DEFAULTS, .n = 2, .want =
          { W(BADUSB, VERDICT_BLOCK, "11"), W(KBD_A, VERDICT_ALLOW, "00") }, .changed = 0 },
        { .what = "BadUSB as the only keyboard keeps its keyboard, loses its storage", .policy = P_DEFAULTS, .n = 1, .want =
          { WC(BADUSB, VERDICT_PARTIAL, "10", F_CHANGED | F_LAST_KBD, VERDICT_BLOCK) }, .changed = 1 },
        { .what = "a mouse is not a keyboard: BadUSB still the last keyboard", .policy = P_DEFAULTS, .n = 2, .want =
          { WC(BADUSB, VERDICT_PARTIAL, "10", F_CHANGED | F_LAST_KBD, VERDICT_BLOCK), W(MOUSE, VERDICT_ALLOW, "0") }, .changed = 1 },
        { .what = "explicit rule blocks a keyboard while another is present", .policy = P_BLOCK_KBD_A, .n = 2, .want =
          { W(KBD_A, VERDICT_BLOCK, "11"), W(KBD_B, VERDICT_ALLOW, "0") }, .changed = 0 },
        { .what = "explicit rule never blocks the last keyboard", .policy = P_BLOCK_KBD_A, .n = 2, .want =
          { WC(KBD_A, VERDICT_ALLOW, "00", F_CHANGED | F_LAST_KBD, VERDICT_BLOCK), W(STICK, VERDICT_BLOCK, "1") }, .changed = 1 },
        { .what = "a real keyboard is spared before a BadUSB composite", .policy = P_BLOCK_KBD_A, .n = 2, .want =
          { W(BADUSB, VERDICT_BLOCK, "11"), WC(KBD_A, VERDICT_ALLOW, "00", F_CHANGED | F_LAST_KBD, VERDICT_BLOCK) }, .changed = 1 },
        { .what = "both keyboards blocked: the lower syspath is spared", .policy = P_BLOCK_KEYBOARDS, .n = 2, .want =
          { W(KBD_B, VERDICT_BLOCK, "1"), WC(KBD_A, VERDICT_ALLOW, "00", F_CHANGED | F_LAST_KBD, VERDICT_BLOCK) }, .changed = 1 },
        { .what = "two of the same model blocked: one is spared", .policy = P_BLOCK_KBD_A, .n = 2, .want =
          { W(KBD_A2, VERDICT_BLOCK, "1"), WC(KBD_A, VERDICT_ALLOW, "00", F_CHANGED | F_LAST_KBD, VERDICT_BLOCK) }, .changed = 1 },
        { .what = "a class rule never cuts keyboards or mice", .policy = P_CLASS_HID, .n = 3, .want =
          { WC(KBD_A, VERDICT_ALLOW, "00", F_CHANGED | F_INPUT, VERDICT_BLOCK),
            WC(MOUSE, VERDICT_ALLOW, "0", F_CHANGED | F_INPUT, VERDICT_BLOCK),
            WC(COMBO, VERDICT_ALLOW, "000", F_CHANGED | F_INPUT, VERDICT_BLOCK) }, .changed = 3 },
        { .what = "a class rule cuts a BadUSB composite whole, like the defaults", .policy = P_CLASS_STORAGE, .n = 3, .want =
          { W(BADUSB, VERDICT_BLOCK, "11"), W(KBD_B, VERDICT_ALLOW, "0"), W(STICK, VERDICT_BLOCK, "1") }, .changed = 0 },
        { .what = "... but not when it is the last keyboard", .policy = P_CLASS_STORAGE, .n = 2, .want =
          { WC(BADUSB, VERDICT_PARTIAL, "10", F_CHANGED | F_LAST_KBD, VERDICT_BLOCK), W(STICK, VERDICT_BLOCK, "1") }, .changed = 1 },
        { .what = "explicit rule never blocks the last mouse", .policy = P_BLOCK_MOUSE, .n = 2, .want =
          { WC(MOUSE, VERDICT_ALLOW, "0", F_CHANGED | F_LAST_MOUSE, VERDICT_BLOCK), W(KBD_A, VERDICT_ALLOW, "00") }, .changed = 1 },
        { .what = "a receiver with a mouse counts as a mouse", .policy = P_BLOCK_MOUSE, .n = 2, .want =
          { W(MOUSE, VERDICT_BLOCK, "1"), W(COMBO, VERDICT_ALLOW, "000") }, .changed = 0 },
        { .what = "audit mode cuts nothing: nothing to guard", .policy = P_AUDIT_KBD_A, .n = 1, .want =
          { W(KBD_A, VERDICT_BLOCK, "11") }, .changed = 0 },
        { .what = "explicit rule on a BadUSB that is the last keyboard", .policy = P_BLOCK_BADUSB, .n = 1, .want =
          { WC(BADUSB, VERDICT_PARTIAL, "10", F_CHANGED | F_LAST_KBD, VERDICT_BLOCK) }, .changed = 1 },
        { .what = "explicit rule on a BadUSB with a keyboard present", .policy = P_BLOCK_BADUSB, .n = 2, .want =
          { W(BADUSB, VERDICT_BLOCK, "11"), W(KBD_B, VERDICT_ALLOW, "0") }, .changed = 0 },
        { .what = "no input devices at all: nothing changes", .policy = P_DEFAULTS, .n = 2, .want =
          { W(PHONE, VERDICT_PARTIAL, "10"), W(STICK, VERDICT_BLOCK, "1") }, .changed = 0 },
        { .what = "a rule matching nothing present", .policy = P_BLOCK_COMBO_FS, .n = 1, .want =
          { W(COMBO, VERDICT_ALLOW, "000") }, .changed = 0 },
        { .what = "a keyboard with unknown functions is cut like a BadUSB composite", .policy = P_DEFAULTS, .n = 2, .want =
          { W(MYSTERY, VERDICT_BLOCK, "1"), W(KBD_B, VERDICT_ALLOW, "0") }, .changed = 0 },
        { .what = "... unless it is the last keyboard", .policy = P_DEFAULTS, .n = 1, .want =
          { WC(MYSTERY, VERDICT_ALLOW, "0", F_CHANGED | F_LAST_KBD, VERDICT_BLOCK) }, .changed = 1 },
        { .what = "nothing present", .policy = P_DEFAULTS, .n = 0, .want = {}, .changed = 0 },
};

static int setup(void **state) {
        for (int i = 0; i < _P_MAX; i++) {
                PolicyDiagnostics d;
                int r = policy_parse(policy_texts[i], strlen(policy_texts[i]), &policies[i], &d);
                for (size_t k = 0; k < d.n; k++)
                        print_message("policy %d: %u:%u: %s\n", i, d.items[k].line, d.items[k].column, d.items[k].message);
                policy_diagnostics_clear(&d);
                if (r < 0)
                        return -1;
        }
        for (int i = 0; i < _DEV_MAX; i++) {
                const DevSpec *s = &specs[i];
                MnDevice *d = &devices[i];
                *d = (MnDevice) {
                        .syspath = (char *) s->syspath,
                        .sysname = (char *) strrchr(s->syspath, '/') + 1,
                        .bus = (char *) "usb",
                        .has_ids = true,
                        .vendor = s->vendor,
                        .product = s->product,
                        .serial = (char *) s->serial,
                        .has_authorized = true,
                        .authorized = true,
                        .interfaces = interfaces[i],
                        .n_interfaces = s->n_ifs,
                        .functions_unknown = s->functions_unknown,
                };
                for (size_t k = 0; k < s->n_ifs; k++) {
                        const IfSpec *f = &s->ifs[k];
                        MnInterface *m = &interfaces[i][k];
                        *m = (MnInterface) {
                                .cls = f->cls,
                                .subclass = f->sub,
                                .protocol = f->proto,
                                .label = (char *) f->label,
                                .function = usb_class_classify(f->cls, f->sub, f->proto, f->label, false),
                                .keyboard = usb_interface_is_keyboard(f->cls, f->sub, f->proto),
                                .mouse = usb_interface_is_mouse(f->cls, f->sub, f->proto),
                        };
                        d->classes |= USB_CLASS_BIT(m->function);
                }
        }
        return 0;
}

static int teardown(void **state) {
        for (int i = 0; i < _P_MAX; i++)
                policies[i] = policy_free(policies[i]);
        return 0;
}

static void check_row(const Row *row) {
        MnLockoutEntry entries[MAX_DEV] = {};
        PolicyDecision decisions[MAX_DEV] = {};
        bool *blocked[MAX_DEV] = {};
        const Policy *p = policies[row->policy];

        print_message("# %s\n", row->what);
        for (size_t i = 0; i < row->n; i++) {
                const MnDevice *d = &devices[row->want[i].dev];
                assert_int_equal(mn_device_decide(d, p, NULL, TODAY, &decisions[i], &blocked[i]), 0);
                entries[i] = (MnLockoutEntry) { .device = d, .decision = &decisions[i], .interface_blocked = blocked[i] };
        }

        assert_int_equal(mn_lockout_apply(p, entries, row->n), row->changed);

        for (size_t i = 0; i < row->n; i++) {
                const Want *w = &row->want[i];
                const MnLockoutResult *res = &entries[i].result;
                const MnDevice *d = &devices[w->dev];
                char cut[MAX_IF + 1] = {};

                for (size_t k = 0; k < d->n_interfaces; k++)
                        cut[k] = blocked[i][k] ? '1' : '0';
                if (decisions[i].verdict != w->verdict || strcmp(cut, w->cut) != 0)
                        fail_msg("%s: %s: got %s [%s], want %s [%s]", row->what, d->sysname,
                                 policy_verdict_to_string(decisions[i].verdict), cut,
                                 policy_verdict_to_string(w->verdict), w->cut);
                assert_int_equal(res->changed, !!(w->flags & F_CHANGED));
                assert_int_equal(res->input_kept, !!(w->flags & F_INPUT));
                assert_int_equal(res->last_keyboard, !!(w->flags & F_LAST_KBD));
                assert_int_equal(res->last_mouse, !!(w->flags & F_LAST_MOUSE));
                if (res->changed) {
                        assert_int_equal(res->original_verdict, w->original);
                        assert_non_null(res->reason);
                        assert_ptr_equal(decisions[i].reason, res->reason);
                        /* The guard gives functions back, it never cuts: what stays cut is in blocked. */
                        UsbClassMask m = 0;
                        for (size_t k = 0; k < d->n_interfaces; k++)
                                if (blocked[i][k])
                                        m |= USB_CLASS_BIT(d->interfaces[k].function);
                        assert_int_equal(decisions[i].blocked, m);
                } else
                        assert_null(res->reason);
                /* The rule that decided is still named. */
                assert_non_null(decisions[i].rule);
                free(blocked[i]);
        }
}

static void test_table(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                check_row(&rows[i]);
}

static void test_stable_under_order(void **state) {
        /* The same set in any order spares the same keyboard. */
        const Dev orders[2][2] = { { KBD_A, KBD_B }, { KBD_B, KBD_A } };
        const Policy *p = policies[P_BLOCK_KEYBOARDS];

        for (int o = 0; o < 2; o++) {
                MnLockoutEntry e[2];
                PolicyDecision dec[2];
                bool *b[2];
                for (int i = 0; i < 2; i++) {
                        assert_int_equal(mn_device_decide(&devices[orders[o][i]], p, NULL, TODAY, &dec[i], &b[i]), 0);
                        e[i] = (MnLockoutEntry) { .device = &devices[orders[o][i]], .decision = &dec[i], .interface_blocked = b[i] };
                }
                assert_int_equal(mn_lockout_apply(p, e, 2), 1);
                for (int i = 0; i < 2; i++) {
                        assert_int_equal(e[i].result.last_keyboard, orders[o][i] == KBD_A);
                        free(b[i]);
                }
        }
}

static void test_unknown_rule_and_errors(void **state) {
        /* A rule the guard cannot find (another policy) counts as a class rule: the keyboard is kept. */
        PolicyDecision dec;
        bool *b;
        assert_int_equal(mn_device_decide(&devices[KBD_A], policies[P_BLOCK_KBD_A], NULL, TODAY, &dec, &b), 0);
        assert_int_equal(dec.verdict, VERDICT_BLOCK);
        MnLockoutEntry e[2] = {
                { .device = &devices[KBD_A], .decision = &dec, .interface_blocked = b },
        };
        PolicyDecision other;
        bool *ob;
        assert_int_equal(mn_device_decide(&devices[KBD_B], policies[P_DEFAULTS], NULL, TODAY, &other, &ob), 0);
        e[1] = (MnLockoutEntry) { .device = &devices[KBD_B], .decision = &other, .interface_blocked = ob };
        assert_int_equal(mn_lockout_apply(policies[P_DEFAULTS], e, 2), 1);
        assert_true(e[0].result.input_kept);
        assert_int_equal(dec.verdict, VERDICT_ALLOW);
        free(b);
        free(ob);

        assert_int_equal(mn_lockout_apply(NULL, NULL, 0), 0);
        assert_int_equal(mn_lockout_apply(NULL, NULL, 1), -EINVAL);
        MnLockoutEntry bad = { .device = &devices[KBD_A] };
        assert_int_equal(mn_lockout_apply(NULL, &bad, 1), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_stable_under_order),
                cmocka_unit_test(test_unknown_rule_and_errors),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
