/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 個人番号 check digit and the streaming scanner: table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "individual-number.h"
#include "macro.h"

/* Check digits. Published examples: 123456789018 (the commonly used sample number), 983205673214
 * (valid) and 983205673210 (invalid) from write-ups of 総務省令第八十五号 第五条; the rest follow from
 * the formula by hand: remainders 0 and 1 give 0. */
static const struct {
        const char *number;
        bool valid;
} check_cases[] = {
        { "123456789018", true },
        { "123456789010", false },
        { "123456789017", false },
        { "983205673214", true },
        { "983205673210", false },
        { "000000000000", true },  /* Σ = 0: remainder 0 → 0 */
        { "000000000019", true },  /* P1 = 1, Q1 = 2: 2 mod 11 = 2 → 9 */
        { "000000000018", false },
        { "100000000005", true },  /* P11 = 1, Q11 = 6: 6 → 5 */
        { "100000000001", false },
        { "111111111118", true },  /* Σ Q = 2+3+4+5+6+7+2+3+4+5+6 = 47, 47 mod 11 = 3 → 8 */
        { "222222222225", true },  /* 94 mod 11 = 6 → 5 */
        { "999999999996", true },   /* 9·47 = 423, 423 mod 11 = 5 → 6 */
        { "999999999992", false },
        { "99999999999", false },  /* 11 digits */
        { "1234567890180", false }, /* 13 digits */
        { "12345678901a", false },
        { "", false },
};

static void test_check_digit_table(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(check_cases); i++) {
                bool v = mn_individual_number_valid_string(check_cases[i].number);
                if (v != check_cases[i].valid)
                        fail_msg("%s: expected %s", check_cases[i].number, check_cases[i].valid ? "valid" : "invalid");
        }
}

/* Every 11-digit prefix has exactly one valid check digit, the one the formula gives. */
static void test_exactly_one_check_digit(void **state) {
        uint8_t d[12] = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 0 };
        for (unsigned round = 0; round < 500; round++) {
                unsigned valid = 0;
                for (uint8_t c = 0; c < 10; c++) {
                        d[11] = c;
                        valid += mn_individual_number_valid(d);
                }
                assert_int_equal(valid, 1);
                d[round % 11] = (uint8_t) ((d[round % 11] + 7) % 10);
        }
}

static const struct {
        const char *name;
        const char *text;
        uint64_t found;
} scan_cases[] = {
        { "plain", "123456789018", 1 },
        { "in a sentence", "個人番号は123456789018です。", 1 },
        { "wrong check digit passes", "個人番号は123456789017です。", 0 },
        { "two", "A: 123456789018, B: 983205673214.", 2 },
        { "one valid one not", "123456789018 983205673210", 1 },
        { "13 digits (法人番号) is not one", "1234567890180", 0 },
        { "preceded by a digit", "9123456789018", 0 },
        { "11 digits", "12345678901", 0 },
        { "spaces 4-4-4", "1234 5678 9018", 1 },
        { "hyphens 4-4-4", "1234-5678-9018", 1 },
        { "mixed separators are not one group", "1234-5678 9018", 0 },
        { "4-4-4-4 card number", "1234-5678-9018-1234", 0 },
        { "4-4-4 with prefix group", "12-1234-5678-9018", 0 },
        { "3-4-4-1 is not the grouping", "123-4567-8901-8", 0 },
        { "double space breaks the group", "1234  5678  9018", 0 },
        { "full-width digits", "１２３４５６７８９０１８", 1 },
        { "full-width with ideographic space", "１２３４　５６７８　９０１８", 1 },
        { "full-width dash", "1234－5678－9018", 1 },
        { "katakana long mark as dash", "1234ー5678ー9018", 1 },
        { "mixed width digits", "１23456789０18", 1 },
        { "surrounded by letters", "ID123456789018X", 1 },
        { "newline separated is two numbers' worth of text", "123456789018\n983205673214", 2 },
        { "tab is not a separator", "1234\t5678\t9018", 0 },
        { "zero number", "000000000000", 1 },
        { "no digits", "住民票の写し", 0 },
        { "empty", "", 0 },
        { "trailing hyphen", "1234-5678-9018-", 1 },
        { "invalid UTF-8 between", "12345\xff" "6789018", 0 },
        { "phone number", "03-1234-5678", 0 },
};

static void test_scan_table(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(scan_cases); i++) {
                uint64_t n = mn_individual_numbers_count(scan_cases[i].text, strlen(scan_cases[i].text), MN_TEXT_UTF8);
                if (n != scan_cases[i].found)
                        fail_msg("%s: found %llu, expected %llu", scan_cases[i].name, (unsigned long long) n,
                                 (unsigned long long) scan_cases[i].found);
        }
}

/* Selection data comes in pieces: every split point, byte by byte too, gives the same count. */
static void test_scan_chunked(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(scan_cases); i++) {
                const char *t = scan_cases[i].text;
                size_t n = strlen(t);
                for (size_t cut = 0; cut <= n; cut++) {
                        MnNumberScanner s;
                        mn_number_scanner_init(&s, MN_TEXT_UTF8);
                        mn_number_scanner_feed(&s, t, cut);
                        mn_number_scanner_feed(&s, t + cut, n - cut);
                        assert_int_equal(mn_number_scanner_finish(&s), scan_cases[i].found);
                }
                MnNumberScanner s;
                mn_number_scanner_init(&s, MN_TEXT_UTF8);
                for (size_t k = 0; k < n; k++)
                        mn_number_scanner_feed(&s, t + k, 1);
                assert_int_equal(mn_number_scanner_finish(&s), scan_cases[i].found);
        }
}

static void test_latin1(void **state) {
        /* STRING targets are Latin-1: 0xA0 is a no-break space, bytes ≥ 0x80 are letters */
        assert_int_equal(mn_individual_numbers_count("1234\xa0" "5678\xa0" "9018", 14, MN_TEXT_LATIN1), 1);
        assert_int_equal(mn_individual_numbers_count("\xe9" "123456789018\xe9", 14, MN_TEXT_LATIN1), 1);
        assert_int_equal(mn_individual_numbers_count("123456789017", 12, MN_TEXT_LATIN1), 0);
}

static void test_large_text(void **state) {
        /* a number at the end of a megabyte of digits-free text, and one among digit noise */
        static char buf[1024 * 1024 + 64];
        memset(buf, 'x', sizeof(buf));
        memcpy(buf + sizeof(buf) - 13, "123456789018", 12);
        assert_int_equal(mn_individual_numbers_count(buf, sizeof(buf), MN_TEXT_UTF8), 1);
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (char) ('0' + i % 10);
        assert_int_equal(mn_individual_numbers_count(buf, sizeof(buf), MN_TEXT_UTF8), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_check_digit_table),
                cmocka_unit_test(test_exactly_one_check_digit),
                cmocka_unit_test(test_scan_table),
                cmocka_unit_test(test_scan_chunked),
                cmocka_unit_test(test_latin1),
                cmocka_unit_test(test_large_text),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
