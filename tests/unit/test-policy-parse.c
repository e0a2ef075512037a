/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Parser tests: the good and bad corpora, the DESIGN.md example field by field, and every limit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fileio.h"
#include "macro.h"
#include "policy.h"
#include "strutil.h"
#include "test-helpers.h"

static int parse_text(const char *text, Policy **ret, PolicyDiagnostics *d) {
        return policy_parse(text, strlen(text), ret, d);
}

static void print_diags(const char *path, const PolicyDiagnostics *d) {
        for (size_t i = 0; i < d->n; i++)
                print_message("  %s:%u:%u: %s\n", path, d->items[i].line, d->items[i].column, d->items[i].message);
}

static bool has_diag(const PolicyDiagnostics *d, unsigned line, unsigned col, const char *substr) {
        for (size_t i = 0; i < d->n; i++)
                if (d->items[i].line == line && d->items[i].column == col && strstr(d->items[i].message, substr))
                        return true;
        return false;
}

static void test_good_corpus(void **state) {
        size_t n;
        char **files = list_yaml_files(MNGUARD_TEST_DATA "/policy-good", &n);
        assert_true(n >= 5);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *data = NULL;
                size_t size;
                assert_int_equal(read_full_file(files[i], POLICY_MAX_FILE_SIZE, &data, &size), 0);
                Policy *p = NULL;
                PolicyDiagnostics d;
                int r = policy_parse(data, size, &p, &d);
                if (r != 0)
                        print_diags(files[i], &d);
                assert_int_equal(r, 0);
                assert_non_null(p);
                assert_int_equal(d.n, 0);
                policy_free(p);
                policy_diagnostics_clear(&d);
        }
        strv_free(files);
}

/* Every bad file starts with one or more "# expect: LINE:COLUMN: message substring" lines. */
static void test_bad_corpus(void **state) {
        size_t n;
        char **files = list_yaml_files(MNGUARD_TEST_DATA "/policy-bad", &n);
        assert_true(n >= 30);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *data = NULL;
                size_t size;
                assert_int_equal(read_full_file(files[i], POLICY_MAX_FILE_SIZE, &data, &size), 0);

                Policy *p = NULL;
                PolicyDiagnostics d;
                int r = policy_parse(data, size, &p, &d);
                if (r != -EINVAL)
                        print_message("%s: expected to be refused\n", files[i]);
                assert_int_equal(r, -EINVAL);
                assert_null(p);
                assert_true(d.n >= 1);

                unsigned expectations = 0;
                for (const char *line = data; strncmp(line, "# expect: ", 10) == 0;) {
                        const char *e = line + 10, *nl = strchr(e, '\n');
                        unsigned l = 0, c = 0;
                        while (*e >= '0' && *e <= '9')
                                l = l * 10 + (unsigned) (*e++ - '0');
                        assert_int_equal(*e++, ':');
                        while (*e >= '0' && *e <= '9')
                                c = c * 10 + (unsigned) (*e++ - '0');
                        assert_int_equal(*e++, ':');
                        assert_int_equal(*e++, ' ');
                        _cleanup_free_ char *msg = strndup(e, (size_t) (nl - e));
                        if (!has_diag(&d, l, c, msg)) {
                                print_message("%s: missing %u:%u: %s; got:\n", files[i], l, c, msg);
                                print_diags(files[i], &d);
                                fail();
                        }
                        expectations++;
                        line = nl + 1;
                }
                assert_true(expectations >= 1);
                policy_diagnostics_clear(&d);
        }
        strv_free(files);
}

static void test_design_example_fields(void **state) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        assert_int_equal(read_full_file(MNGUARD_TEST_DATA "/policy-good/design-example.yaml", POLICY_MAX_FILE_SIZE,
                                        &data, &size), 0);
        Policy *p = NULL;
        PolicyDiagnostics d;
        assert_int_equal(policy_parse(data, size, &p, &d), 0);

        assert_int_equal(p->format, 1);
        assert_int_equal(p->serial, 2026112601ULL);
        assert_string_equal(p->name, "取手市 マイナンバー利用事務系 標準");
        assert_int_equal(p->mode, POLICY_MODE_ENFORCE);
        assert_int_equal(p->defaults.storage, MEDIA_BLOCK);
        assert_int_equal(p->defaults.usb_classes_blocked, USB_CLASSES_BLOCKED_DEFAULT);
        assert_int_equal(p->defaults.print, PRINT_BLOCK);
        assert_false(p->defaults.clipboard_allow);

        assert_int_equal(p->n_media, 2);
        const MediaRule *r = &p->media[0];
        assert_string_equal(r->name, "情報政策課-001");
        assert_true(r->match.has_vendor && r->match.has_product);
        assert_int_equal(r->match.vendor, 0x0781);
        assert_int_equal(r->match.product, 0x5581);
        assert_string_equal(r->match.serial, "4C530001230101117384");
        assert_int_equal(r->access, MEDIA_READ_WRITE);
        assert_int_equal(r->users.n, 2);
        assert_string_equal(r->users.names[0], "@mn-operators");
        assert_string_equal(r->users.names[1], "tanaka");
        assert_true(r->has_until);
        int64_t day;
        assert_int_equal(civil_to_days(2027, 3, 31, &day), 0);
        assert_int_equal(r->until_days, day);
        assert_int_equal(r->mode, _POLICY_MODE_INHERIT);
        assert_int_equal(r->line, 11);

        r = &p->media[1];
        assert_string_equal(r->match.fs_uuid, "1234-ABCD");
        assert_int_equal(r->access, MEDIA_READ_ONLY);
        assert_int_equal(r->mode, POLICY_MODE_AUDIT);
        assert_false(r->has_until);

        assert_int_equal(p->n_print, 1);
        assert_string_equal(p->print[0].name, "2F 複合機");
        assert_string_equal(p->print[0].printer, "mn-floor2-*");
        assert_int_equal(p->print[0].access, PRINT_ALLOW);
        assert_int_equal(p->print[0].max_pages, 100);

        assert_int_equal(p->clipboard.n_protected_apps, 1);
        assert_string_equal(p->clipboard.protected_apps[0], "mynumber-app");
        assert_true(p->clipboard.allow_within_app);
        assert_true(p->clipboard.detect_individual_number);
        policy_free(p);
        policy_diagnostics_clear(&d);
}

static void test_fail_closed_defaults(void **state) {
        Policy *p = NULL;
        PolicyDiagnostics d;
        assert_int_equal(parse_text("mnguard-policy: 1\nserial: 0\nname: x\n", &p, &d), 0);
        assert_int_equal(p->mode, POLICY_MODE_ENFORCE);
        assert_int_equal(p->defaults.storage, MEDIA_BLOCK);
        assert_int_equal(p->defaults.usb_classes_blocked, USB_CLASSES_BLOCKED_DEFAULT);
        assert_int_equal(p->defaults.print, PRINT_BLOCK);
        assert_false(p->defaults.clipboard_allow);
        assert_true(p->clipboard.detect_individual_number);
        policy_free(p);
        policy_diagnostics_clear(&d);

        /* defaults.storage governs the storage class whatever the list says */
        assert_int_equal(parse_text("mnguard-policy: 1\nserial: 0\nname: x\ndefaults: {storage: read-only}\n", &p, &d), 0);
        assert_false(p->defaults.usb_classes_blocked & USB_CLASS_BIT(USB_CLASS_STORAGE));
        policy_free(p);
        policy_diagnostics_clear(&d);
        assert_int_equal(parse_text("mnguard-policy: 1\nserial: 0\nname: x\ndefaults: {usb-classes-blocked: [network]}\n",
                                    &p, &d), 0);
        assert_true(p->defaults.usb_classes_blocked & USB_CLASS_BIT(USB_CLASS_STORAGE));
        assert_false(p->defaults.usb_classes_blocked & USB_CLASS_BIT(USB_CLASS_WIRELESS));
        policy_free(p);
        policy_diagnostics_clear(&d);
}

static const char header[] = "mnguard-policy: 1\nserial: 1\nname: limits\n";

static void expect_refused(const char *text, size_t size, unsigned line, const char *substr) {
        Policy *p = NULL;
        PolicyDiagnostics d;
        assert_int_equal(policy_parse(text, size, &p, &d), -EINVAL);
        bool found = false;
        for (size_t i = 0; i < d.n; i++)
                found |= d.items[i].line == line && strstr(d.items[i].message, substr) != NULL;
        if (!found) {
                print_message("expected line %u: %s\n", line, substr);
                print_diags("input", &d);
        }
        assert_true(found);
        policy_diagnostics_clear(&d);
}

static void expect_accepted(const char *text, size_t size) {
        Policy *p = NULL;
        PolicyDiagnostics d;
        int r = policy_parse(text, size, &p, &d);
        if (r != 0)
                print_diags("input", &d);
        assert_int_equal(r, 0);
        policy_free(p);
        policy_diagnostics_clear(&d);
}

static void test_limit_file_size(void **state) {
        size_t size = POLICY_MAX_FILE_SIZE + 1;
        char *big = malloc(size);
        assert_non_null(big);
        memset(big, '#', size);
        big[size - 1] = '\n';
        expect_refused(big, size, 0, "at most 1048576");
        free(big);
}

static void rules_text(TextBuf *b, size_t n_media, size_t n_print) {
        tb_printf(b, "%s", header);
        if (n_media) {
                tb_printf(b, "media:\n");
                for (size_t i = 0; i < n_media; i++)
                        tb_printf(b, "- {name: m%zu, match: {bus: usb}, access: block}\n", i);
        }
        if (n_print) {
                tb_printf(b, "print:\n");
                for (size_t i = 0; i < n_print; i++)
                        tb_printf(b, "- {name: p%zu, printer: q, access: block}\n", i);
        }
}

static void test_limit_rule_counts(void **state) {
        TextBuf b = {};
        rules_text(&b, POLICY_MAX_MEDIA_RULES, 0);
        assert_true(b.len <= POLICY_MAX_FILE_SIZE);
        expect_accepted(b.data, b.len);
        tb_free(&b);
        rules_text(&b, POLICY_MAX_MEDIA_RULES + 1, 0);
        assert_true(b.len <= POLICY_MAX_FILE_SIZE);
        expect_refused(b.data, b.len, 5, "at most 16384 are allowed");
        tb_free(&b);
        rules_text(&b, 0, POLICY_MAX_PRINT_RULES + 1);
        expect_refused(b.data, b.len, 5, "at most 4096 are allowed");
        tb_free(&b);
}

static void test_limit_list_items(void **state) {
        TextBuf b = {};
        tb_printf(&b, "%smedia:\n- name: r\n  match: {bus: usb}\n  access: block\n  users: [", header);
        for (int i = 0; i <= POLICY_MAX_LIST_ITEMS; i++)
                tb_printf(&b, "%su%d", i ? ", " : "", i);
        tb_printf(&b, "]\n");
        expect_refused(b.data, b.len, 8, "at most 1024 are allowed");
        tb_free(&b);
}

static void test_limit_string_and_name(void **state) {
        TextBuf b = {};
        tb_printf(&b, "%scontact: \"", header);
        for (int i = 0; i <= POLICY_MAX_STRING; i++)
                tb_printf(&b, "x");
        tb_printf(&b, "\"\n");
        expect_refused(b.data, b.len, 4, "at most 1024 are allowed");
        tb_free(&b);

        tb_printf(&b, "%smedia:\n- name: r\n  match: {serial: \"", header);
        for (int i = 0; i <= POLICY_MAX_NAME; i++)
                tb_printf(&b, "7");
        tb_printf(&b, "\"}\n  access: block\n");
        expect_refused(b.data, b.len, 6, "at most 256 are allowed");
        tb_free(&b);
}

static void test_limit_depth(void **state) {
        TextBuf b = {};
        tb_printf(&b, "%sclipboard:", header);
        for (int i = 0; i < POLICY_MAX_DEPTH; i++)
                tb_printf(&b, "%*s\n%*sk%d:", 0, "", 2 * (i + 1), "", i);
        tb_printf(&b, " v\n");
        expect_refused(b.data, b.len, 4 + POLICY_MAX_DEPTH, "nesting deeper than 8 levels");
        tb_free(&b);
}

static void test_limit_diagnostics(void **state) {
        TextBuf b = {};
        tb_printf(&b, "%s", header);
        for (int i = 0; i < 2 * POLICY_MAX_DIAGNOSTICS; i++)
                tb_printf(&b, "unknown%d: 1\n", i);
        Policy *p = NULL;
        PolicyDiagnostics d;
        assert_int_equal(policy_parse(b.data, b.len, &p, &d), -EINVAL);
        assert_int_equal(d.n, POLICY_MAX_DIAGNOSTICS);
        assert_true(d.truncated);
        policy_diagnostics_clear(&d);
        tb_free(&b);
}

static void test_diagnostics_in_file_order(void **state) {
        const char *text = "mnguard-policy: 1\nserial: 1\nname: x\nzzz: 1\nmedia:\n- name: a\n  match: {vendor: \"x\"}\n"
                           "  access: nope\naaa: 2\n";
        Policy *p = NULL;
        PolicyDiagnostics d;
        assert_int_equal(parse_text(text, &p, &d), -EINVAL);
        assert_true(d.n >= 4);
        for (size_t i = 1; i < d.n; i++)
                assert_true(d.items[i - 1].line < d.items[i].line ||
                            (d.items[i - 1].line == d.items[i].line && d.items[i - 1].column <= d.items[i].column));
        policy_diagnostics_clear(&d);
}

static void test_identifiers_quoted(void **state) {
        /* Plain scalars YAML would type as numbers/booleans/null are refused for identifiers... */
        static const char *const refused[] = { "0123", "1e5", "0x1F", "true", "~", "3.14", "-7", "1_000", ".inf" };
        /* ...while plain words that are strings anyway are fine. */
        static const char *const accepted[] = { "A1", "4C53", "1234-ABCD", "e5", "x0123", "0123abc", "1.2.3" };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                _cleanup_free_ char *t = NULL;
                assert_true(asprintf(&t, "%smedia:\n- name: r\n  match: {serial: %s}\n  access: block\n", header,
                                     refused[i]) > 0);
                expect_refused(t, strlen(t), 6, "serial must be a quoted string");
        }
        for (size_t i = 0; i < ELEMENTSOF(accepted); i++) {
                _cleanup_free_ char *t = NULL;
                assert_true(asprintf(&t, "%smedia:\n- name: r\n  match: {serial: %s}\n  access: block\n", header,
                                     accepted[i]) > 0);
                expect_accepted(t, strlen(t));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good_corpus),
                cmocka_unit_test(test_bad_corpus),
                cmocka_unit_test(test_design_example_fields),
                cmocka_unit_test(test_fail_closed_defaults),
                cmocka_unit_test(test_limit_file_size),
                cmocka_unit_test(test_limit_rule_counts),
                cmocka_unit_test(test_limit_list_items),
                cmocka_unit_test(test_limit_string_and_name),
                cmocka_unit_test(test_limit_depth),
                cmocka_unit_test(test_limit_diagnostics),
                cmocka_unit_test(test_diagnostics_in_file_order),
                cmocka_unit_test(test_identifiers_quoted),
        };
        return cmocka_run_group_tests_name("policy-parse", tests, NULL, NULL);
}
