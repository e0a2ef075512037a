/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Evaluation, table-driven: rules and defaults, users and groups, expiry, audit, classes, BadUSB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "policy.h"
#include "strutil.h"

static const char rules_policy[] =
        "mnguard-policy: 1\nserial: 5\nname: eval\n"
        "media:\n"
        "  - {name: expired, match: {serial: \"EXP\"}, access: read-write, until: 2026-11-25}\n"
        "  - {name: today-ok, match: {serial: \"TODAY\"}, access: read-write, until: 2026-11-26}\n"
        "  - name: ops-only\n"
        "    match: {vendor: \"0781\", product: \"5581\", serial: \"OPS\"}\n"
        "    access: read-write\n"
        "    users: [\"@mn-operators\", tanaka]\n"
        "  - {name: ro-stick, match: {vendor: \"0781\", serial: \"RO\"}, access: read-only}\n"
        "  - {name: cd, match: {fs-uuid: \"1234-abcd\"}, access: read-only, mode: audit}\n"
        "  - {name: sd-label, match: {fs-label: \"配布用\", bus: mmc}, access: read-only}\n"
        "  - {name: blocked-kbd, match: {vendor: \"046d\", product: \"c31c\"}, access: block}\n"
        "  - {name: phones, match: {classes: [still-image]}, access: block}\n"
        "  - {name: first-wins, match: {serial: \"RO\"}, access: block}\n"
        "print:\n"
        "  - {name: pdf, printer: \"*PDF*\", access: block}\n"
        "  - {name: floor2, printer: \"mn-floor2-*\", users: [\"@mn-operators\"], access: allow, max-pages: 100}\n";

static const char defaults_policy[] = "mnguard-policy: 1\nserial: 6\nname: defaults only\n";

static const char audit_policy[] =
        "mnguard-policy: 1\nserial: 7\nname: audit\nmode: audit\ndefaults: {storage: read-only}\n";

static const char open_policy[] =
        "mnguard-policy: 1\nserial: 8\nname: open\n"
        "defaults: {storage: read-write, usb-classes-blocked: [], print: allow}\n";

enum { P_RULES, P_DEFAULTS, P_AUDIT, P_OPEN, _P_MAX };
static Policy *policies[_P_MAX];

static int setup(void **state) {
        const char *texts[_P_MAX] = { rules_policy, defaults_policy, audit_policy, open_policy };
        for (int i = 0; i < _P_MAX; i++) {
                PolicyDiagnostics d;
                int r = policy_parse(texts[i], strlen(texts[i]), &policies[i], &d);
                for (size_t k = 0; k < d.n; k++)
                        print_message("policy %d: %u:%u: %s\n", i, d.items[k].line, d.items[k].column, d.items[k].message);
                policy_diagnostics_clear(&d);
                if (r < 0)
                        return -1;
        }
        return 0;
}

static int teardown(void **state) {
        for (int i = 0; i < _P_MAX; i++)
                policies[i] = policy_free(policies[i]);
        return 0;
}

#define MAX_IF 4
typedef struct Row {
        const char *what;
        int policy;
        /* device */
        const char *bus;
        uint16_t vendor, product; /* 0/0 = no ids */
        const char *serial;
        const char *fs_uuid, *fs_label;
        UsbClass ifs[MAX_IF];
        size_t n_ifs;
        bool storage_disk; /* non-USB disk: no interfaces, is_storage */
        /* subject */
        const char *user;
        const char *group;
        const char *date;
        /* expected */
        PolicyVerdict verdict;
        const char *rule;
        bool audit;
        const char *cut; /* per interface: 'x' cut, '-' kept */
} Row;

#define STICK .bus = "usb", .vendor = 0x0781, .product = 0x5581, .ifs = { USB_CLASS_STORAGE }, .n_ifs = 1
#define TODAY "2026-11-26"

static const Row rows[] = {
        { "unregistered stick", P_RULES, STICK, .serial = "X", .date = TODAY,
          .verdict = VERDICT_BLOCK, .rule = "default", .cut = "x" },
        { "expired rule does not match", P_RULES, STICK, .serial = "EXP", .date = TODAY,
          .verdict = VERDICT_BLOCK, .rule = "default", .cut = "x" },
        { "expired rule still matched the day before", P_RULES, STICK, .serial = "EXP", .date = "2026-11-25",
          .verdict = VERDICT_READ_WRITE, .rule = "expired", .cut = "-" },
        { "until is inclusive", P_RULES, STICK, .serial = "TODAY", .date = TODAY,
          .verdict = VERDICT_READ_WRITE, .rule = "today-ok", .cut = "-" },
        { "listed user", P_RULES, STICK, .serial = "OPS", .user = "tanaka", .date = TODAY,
          .verdict = VERDICT_READ_WRITE, .rule = "ops-only", .cut = "-" },
        { "member of listed group", P_RULES, STICK, .serial = "OPS", .user = "sato", .group = "mn-operators",
          .date = TODAY, .verdict = VERDICT_READ_WRITE, .rule = "ops-only", .cut = "-" },
        { "user not listed falls to defaults", P_RULES, STICK, .serial = "OPS", .user = "sato", .group = "users",
          .date = TODAY, .verdict = VERDICT_BLOCK, .rule = "default", .cut = "x" },
        { "nobody logged in falls to defaults", P_RULES, STICK, .serial = "OPS", .date = TODAY,
          .verdict = VERDICT_BLOCK, .rule = "default", .cut = "x" },
        { "group name is not a user name", P_RULES, STICK, .serial = "OPS", .user = "mn-operators", .date = TODAY,
          .verdict = VERDICT_BLOCK, .rule = "default", .cut = "x" },
        { "first match wins", P_RULES, STICK, .serial = "RO", .date = TODAY,
          .verdict = VERDICT_READ_ONLY, .rule = "ro-stick", .cut = "-" },
        { "serial is case-sensitive", P_RULES, STICK, .serial = "ro", .date = TODAY,
          .verdict = VERDICT_BLOCK, .rule = "default", .cut = "x" },
        { "fs-uuid case-insensitive, audit rule", P_RULES, .bus = "ata", .fs_uuid = "1234-ABCD",
          .storage_disk = true, .date = TODAY, .verdict = VERDICT_READ_ONLY, .rule = "cd", .audit = true, .cut = "" },
        { "label on mmc", P_RULES, .bus = "mmc", .fs_label = "配布用", .storage_disk = true, .date = TODAY,
          .verdict = VERDICT_READ_ONLY, .rule = "sd-label", .cut = "" },
        { "same label on another bus", P_RULES, .bus = "usb", .vendor = 1, .product = 2, .fs_label = "配布用",
          .ifs = { USB_CLASS_STORAGE }, .n_ifs = 1, .date = TODAY, .verdict = VERDICT_BLOCK, .rule = "default",
          .cut = "x" },
        { "explicit rule blocks a keyboard", P_RULES, .bus = "usb", .vendor = 0x046d, .product = 0xc31c,
          .ifs = { USB_CLASS_HID }, .n_ifs = 1, .date = TODAY, .verdict = VERDICT_BLOCK, .rule = "blocked-kbd",
          .cut = "x" },
        { "other keyboard allowed", P_RULES, .bus = "usb", .vendor = 0x046d, .product = 0xc52b,
          .ifs = { USB_CLASS_HID, USB_CLASS_HID }, .n_ifs = 2, .date = TODAY, .verdict = VERDICT_ALLOW,
          .rule = "default", .cut = "--" },
        { "class rule", P_RULES, .bus = "usb", .vendor = 0x18d1, .product = 0x4ee1,
          .ifs = { USB_CLASS_STILL_IMAGE, USB_CLASS_VENDOR }, .n_ifs = 2, .date = TODAY, .verdict = VERDICT_BLOCK,
          .rule = "phones", .cut = "xx" },

        { "BadUSB: HID + storage cut whole", P_DEFAULTS, .bus = "usb", .vendor = 0x1234, .product = 0x5678,
          .ifs = { USB_CLASS_HID, USB_CLASS_STORAGE }, .n_ifs = 2, .date = TODAY, .verdict = VERDICT_BLOCK,
          .rule = "default", .cut = "xx" },
        { "MTP phone loses only MTP", P_DEFAULTS, .bus = "usb", .vendor = 0x18d1, .product = 0x4ee1,
          .ifs = { USB_CLASS_STILL_IMAGE, USB_CLASS_VENDOR }, .n_ifs = 2, .date = TODAY,
          .verdict = VERDICT_PARTIAL, .rule = "default", .cut = "x-" },
        { "RNDIS tether cut", P_DEFAULTS, .bus = "usb", .vendor = 0x04e8, .product = 0x6863,
          .ifs = { USB_CLASS_NETWORK, USB_CLASS_NETWORK }, .n_ifs = 2, .date = TODAY, .verdict = VERDICT_BLOCK,
          .rule = "default", .cut = "xx" },
        { "webcam allowed", P_DEFAULTS, .bus = "usb", .vendor = 0x046d, .product = 0x0825,
          .ifs = { USB_CLASS_VIDEO, USB_CLASS_VIDEO, USB_CLASS_AUDIO }, .n_ifs = 3, .date = TODAY,
          .verdict = VERDICT_ALLOW, .rule = "default", .cut = "---" },
        { "bluetooth dongle cut", P_DEFAULTS, .bus = "usb", .vendor = 0x8087, .product = 0x0a2b,
          .ifs = { USB_CLASS_WIRELESS, USB_CLASS_WIRELESS }, .n_ifs = 2, .date = TODAY,
          .verdict = VERDICT_BLOCK, .rule = "default", .cut = "xx" },
        { "SD card blocked", P_DEFAULTS, .bus = "mmc", .storage_disk = true, .date = TODAY,
          .verdict = VERDICT_BLOCK, .rule = "default", .cut = "" },
        { "device with nothing restricted", P_DEFAULTS, .bus = "usb", .vendor = 1, .product = 1, .date = TODAY,
          .verdict = VERDICT_ALLOW, .rule = "default", .cut = "" },

        { "audit policy: stick read-only", P_AUDIT, STICK, .serial = "X", .date = TODAY,
          .verdict = VERDICT_READ_ONLY, .rule = "default", .audit = true, .cut = "-" },
        { "audit policy: phone would be cut", P_AUDIT, .bus = "usb", .vendor = 0x18d1, .product = 0x4ee1,
          .ifs = { USB_CLASS_STILL_IMAGE, USB_CLASS_VENDOR }, .n_ifs = 2, .date = TODAY,
          .verdict = VERDICT_PARTIAL, .rule = "default", .audit = true, .cut = "x-" },
        { "storage + network under read-only default", P_AUDIT, .bus = "usb", .vendor = 2, .product = 3,
          .ifs = { USB_CLASS_STORAGE, USB_CLASS_NETWORK }, .n_ifs = 2, .date = TODAY, .verdict = VERDICT_PARTIAL,
          .rule = "default", .audit = true, .cut = "-x" },

        { "open policy: stick read-write", P_OPEN, STICK, .serial = "X", .date = TODAY,
          .verdict = VERDICT_READ_WRITE, .rule = "default", .cut = "-" },
        { "open policy: SD read-write", P_OPEN, .bus = "mmc", .storage_disk = true, .date = TODAY,
          .verdict = VERDICT_READ_WRITE, .rule = "default", .cut = "" },
};

static void test_device_table(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const Row *row = &rows[i];
                PolicyInterface ifs[MAX_IF];
                for (size_t k = 0; k < row->n_ifs; k++)
                        ifs[k].cls = row->ifs[k];
                const char *uuids[1] = { row->fs_uuid }, *labels[1] = { row->fs_label };
                PolicyDevice dev = {
                        .bus = row->bus,
                        .has_ids = row->vendor || row->product,
                        .vendor = row->vendor,
                        .product = row->product,
                        .serial = row->serial,
                        .fs_uuids = uuids,
                        .fs_labels = labels,
                        .n_fs = (row->fs_uuid || row->fs_label) ? 1 : 0,
                        .interfaces = ifs,
                        .n_interfaces = row->n_ifs,
                        .is_storage = row->storage_disk,
                };
                for (size_t k = 0; k < row->n_ifs; k++)
                        dev.is_storage |= row->ifs[k] == USB_CLASS_STORAGE;
                const char *groups[1] = { row->group };
                PolicySubject subject = { .user = row->user, .groups = groups, .n_groups = row->group ? 1 : 0 };
                int64_t today;
                int y = 0, m = 0, d = 0;
                for (int k = 0; k < 4; k++) y = y * 10 + (row->date[k] - '0');
                m = (row->date[5] - '0') * 10 + (row->date[6] - '0');
                d = (row->date[8] - '0') * 10 + (row->date[9] - '0');
                assert_int_equal(civil_to_days(y, m, d, &today), 0);

                PolicyDecision dec;
                bool cut[MAX_IF] = {};
                policy_decide_device(policies[row->policy], &dev, &subject, today, &dec, cut);

                char got_cut[MAX_IF + 1] = "";
                for (size_t k = 0; k < row->n_ifs; k++)
                        got_cut[k] = cut[k] ? 'x' : '-';
                if (dec.verdict != row->verdict || strcmp(dec.rule, row->rule) != 0 || dec.audit != row->audit ||
                    strcmp(got_cut, row->cut) != 0) {
                        print_message("row %zu \"%s\": got %s/%s/audit=%d/cut=%s, want %s/%s/audit=%d/cut=%s\n", i,
                                      row->what, policy_verdict_to_string(dec.verdict), dec.rule, dec.audit, got_cut,
                                      policy_verdict_to_string(row->verdict), row->rule, row->audit, row->cut);
                        fail();
                }
                assert_non_null(dec.reason);
        }
}

typedef struct PrintRow {
        int policy;
        const char *queue, *user, *group;
        uint32_t pages;
        PrintAccess access;
        const char *rule;
} PrintRow;

static const PrintRow print_rows[] = {
        { P_RULES, "mn-floor2-a", "sato", "mn-operators", 10, PRINT_ALLOW, "floor2" },
        { P_RULES, "mn-floor2-a", "sato", "mn-operators", 100, PRINT_ALLOW, "floor2" },
        { P_RULES, "mn-floor2-a", "sato", "mn-operators", 101, PRINT_BLOCK, "floor2" },
        { P_RULES, "mn-floor2-a", "sato", "mn-operators", 0, PRINT_BLOCK, "floor2" },
        { P_RULES, "mn-floor2-a", "sato", "users", 1, PRINT_BLOCK, "default" },
        { P_RULES, "Cups-PDF", "sato", "mn-operators", 1, PRINT_BLOCK, "pdf" },
        { P_RULES, "mn-floor3", "sato", "mn-operators", 1, PRINT_BLOCK, "default" },
        { P_OPEN, "anything", NULL, NULL, 0, PRINT_ALLOW, "default" },
};

static void test_print_table(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(print_rows); i++) {
                const PrintRow *r = &print_rows[i];
                const char *groups[1] = { r->group };
                PolicySubject s = { .user = r->user, .groups = groups, .n_groups = r->group ? 1 : 0 };
                PrintDecision dec;
                policy_decide_print(policies[r->policy], r->queue, &s, r->pages, &dec);
                if (dec.access != r->access || strcmp(dec.rule, r->rule) != 0) {
                        print_message("print row %zu: got %d/%s want %d/%s\n", i, dec.access, dec.rule, r->access, r->rule);
                        fail();
                }
        }
}

static void test_classify(void **state) {
        assert_int_equal(usb_class_classify(0x08, 0x06, 0x50, NULL, false), USB_CLASS_STORAGE);
        assert_int_equal(usb_class_classify(0x06, 0x01, 0x01, NULL, false), USB_CLASS_STILL_IMAGE);
        assert_int_equal(usb_class_classify(0xff, 0xff, 0x00, "MTP", false), USB_CLASS_STILL_IMAGE);
        assert_int_equal(usb_class_classify(0xff, 0xff, 0x00, NULL, true), USB_CLASS_STILL_IMAGE);
        assert_int_equal(usb_class_classify(0xff, 0x42, 0x01, "ADB Interface", true), USB_CLASS_VENDOR);
        assert_int_equal(usb_class_classify(0xff, 0xff, 0x00, "MTPX", false), USB_CLASS_VENDOR);
        assert_int_equal(usb_class_classify(0xe0, 0x01, 0x03, NULL, false), USB_CLASS_NETWORK);
        assert_int_equal(usb_class_classify(0xe0, 0x01, 0x01, NULL, false), USB_CLASS_WIRELESS);
        assert_int_equal(usb_class_classify(0xef, 0x04, 0x01, NULL, false), USB_CLASS_NETWORK);
        assert_int_equal(usb_class_classify(0x02, 0x06, 0x00, NULL, false), USB_CLASS_NETWORK);
        assert_int_equal(usb_class_classify(0x0a, 0x00, 0x00, NULL, false), USB_CLASS_NETWORK);
        assert_int_equal(usb_class_classify(0x03, 0x01, 0x01, NULL, false), USB_CLASS_HID);
        assert_true(usb_interface_is_keyboard(0x03, 0x01, 0x01));
        assert_true(usb_interface_is_mouse(0x03, 0x01, 0x02));
        assert_false(usb_interface_is_keyboard(0x08, 0x06, 0x50));
        for (int c = 0; c < _USB_CLASS_MAX; c++)
                assert_int_equal(usb_class_from_string(usb_class_to_string(c)), c);
        assert_int_equal(usb_class_from_string("usb-stick"), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_device_table),
                cmocka_unit_test(test_print_table),
                cmocka_unit_test(test_classify),
        };
        return cmocka_run_group_tests_name("policy-eval", tests, setup, teardown);
}
