/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "strutil.h"

static void test_utf8(void **state) {
        size_t off = 99;
        assert_true(utf8_is_valid("abc", 3, NULL));
        assert_true(utf8_is_valid("取手市", strlen("取手市"), NULL));
        assert_false(utf8_is_valid("ab\xff", 3, &off));
        assert_int_equal(off, 2);
        assert_false(utf8_is_valid("\xc0\xaf", 2, &off));         /* overlong '/' */
        assert_false(utf8_is_valid("\xed\xa0\x80", 3, &off));     /* surrogate */
        assert_false(utf8_is_valid("\xf4\x90\x80\x80", 4, &off)); /* > U+10FFFF */
        assert_false(utf8_is_valid("\xe3\x81", 2, &off));         /* truncated */
}

static void test_sanitize(void **state) {
        _cleanup_free_ char *a = untrusted_sanitize("ok\xff\"\\", 5, 64);
        assert_string_equal(a, "ok\xef\xbf\xbd\"\\");
        _cleanup_free_ char *b = untrusted_sanitize("a\0b", 3, 64);
        assert_string_equal(b, "ab");

        char big[1000];
        memset(big, 'x', sizeof(big));
        _cleanup_free_ char *c = untrusted_sanitize(big, sizeof(big), 100);
        assert_int_equal(strlen(c), 103);
        assert_memory_equal(c + 100, "\xe2\x80\xa6", 3);

        /* never cut inside a character */
        _cleanup_free_ char *d = untrusted_sanitize("あいう", 9, 7);
        assert_string_equal(d, "あい\xe2\x80\xa6");

        _cleanup_free_ char *e = terminal_escape("a\x1b[31mb\x7f\xc2\x9b", 64);
        assert_string_equal(e, "a\\x1b[31mb\\x7f\\x9b");
        assert_true(utf8_is_valid(e, strlen(e), NULL));
        _cleanup_free_ char *f = terminal_escape("\\x01\x01", 64);
        assert_string_equal(f, "\\\\x01\\x01");
}

static void test_numbers(void **state) {
        uint16_t v;
        uint64_t u;
        assert_int_equal(parse_hex4("0781", &v), 0);
        assert_int_equal(v, 0x0781);
        assert_int_equal(parse_hex4("ABcd", &v), 0);
        assert_int_equal(v, 0xabcd);
        assert_int_equal(parse_hex4("781", &v), -EINVAL);
        assert_int_equal(parse_hex4("07811", &v), -EINVAL);
        assert_int_equal(parse_hex4("07g1", &v), -EINVAL);
        assert_int_equal(parse_u64("18446744073709551615", &u), 0);
        assert_int_equal(u, UINT64_MAX);
        assert_int_equal(parse_u64("18446744073709551616", &u), -ERANGE);
        assert_int_equal(parse_u64("-1", &u), -EINVAL);
        assert_int_equal(parse_u64("", &u), -EINVAL);
        assert_int_equal(parse_u64("1 ", &u), -EINVAL);
}

static void test_display_width(void **state) {
        assert_int_equal(utf8_display_width(""), 0);
        assert_int_equal(utf8_display_width("default"), 7);
        assert_int_equal(utf8_display_width("情報政策課-002"), 14);     /* 5 wide + 4 narrow */
        assert_int_equal(utf8_display_width("2F 複合機"), 9);
        assert_int_equal(utf8_display_width("ｶﾅ"), 2);                  /* halfwidth katakana: narrow */
        assert_int_equal(utf8_display_width("Ｆ"), 2);                  /* fullwidth latin: wide */
        assert_int_equal(utf8_display_width("e\xcc\x81"), 1);          /* e + combining acute */
        char *p = display_pad("複合機", 8);
        assert_string_equal(p, "複合機  ");
        free(p);
        p = display_pad("情報政策課", 4);                                 /* wider than the column: unchanged */
        assert_string_equal(p, "情報政策課");
        free(p);
}

static void test_dates(void **state) {
        int64_t d;
        int y, m, dd;
        assert_int_equal(civil_to_days(1970, 1, 1, &d), 0);
        assert_int_equal(d, 0);
        assert_int_equal(civil_to_days(2026, 11, 26, &d), 0);
        assert_int_equal(d, 20783);
        days_to_civil(d, &y, &m, &dd);
        assert_int_equal(y, 2026);
        assert_int_equal(m, 11);
        assert_int_equal(dd, 26);
        assert_int_equal(civil_to_days(2028, 2, 29, &d), 0);
        assert_int_equal(civil_to_days(2027, 2, 29, &d), -EINVAL);
        assert_int_equal(civil_to_days(2100, 2, 29, &d), -EINVAL);
        assert_int_equal(civil_to_days(2000, 2, 29, &d), 0);
        assert_int_equal(civil_to_days(2027, 4, 31, &d), -EINVAL);
        assert_int_equal(civil_to_days(2027, 13, 1, &d), -EINVAL);
        for (int64_t k = -1000; k < 80000; k += 17) {
                days_to_civil(k, &y, &m, &dd);
                assert_int_equal(civil_to_days(y, m, dd, &d), 0);
                assert_int_equal(d, k);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_sanitize),
                cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_dates),
                cmocka_unit_test(test_display_width),
        };
        return cmocka_run_group_tests_name("strutil", tests, NULL, NULL);
}
