/* SPDX-License-Identifier: GPL-2.0-or-later */
/* agent.conf's removable-media patterns: what is accepted, how lists parse, what matches. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "removable-patterns.h"

static void test_valid(void **state) {
        static const char *const good[] = { "loop*", "nbd[0-9]*", "mmcblk?", "sr0", "ze[!x]*", "vd[^a]", "dm-1" };
        static const char *const bad[] = {
                "", "l", "*", "?d*", "[ab]*", "*loop", "lo op", "loop/0", "../sda", "loop\\*", "lo[op",
                "lo]op", "lo!op", "lo[[a]]", "loop*\n", "sd\xc3\xa9",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa*", /* 73 bytes */
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                assert_true(mn_removable_pattern_valid(good[i]));
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_false(mn_removable_pattern_valid(bad[i]));
        assert_false(mn_removable_pattern_valid(NULL));
}

static void test_parse_and_match(void **state) {
        MnRemovablePatterns p = {};
        size_t bad = 0;

        assert_int_equal(mn_removable_patterns_parse("loop*, nbd[0-9]*\tsr0,,loop*", &p, &bad), 0);
        assert_int_equal(p.n, 3); /* the duplicate is kept once */
        assert_true(mn_removable_patterns_match(&p, "loop0"));
        assert_true(mn_removable_patterns_match(&p, "loop12"));
        assert_true(mn_removable_patterns_match(&p, "nbd3"));
        assert_true(mn_removable_patterns_match(&p, "sr0"));
        assert_false(mn_removable_patterns_match(&p, "sda"));
        assert_false(mn_removable_patterns_match(&p, "nbdx"));
        assert_false(mn_removable_patterns_match(&p, "sr01"));
        assert_false(mn_removable_patterns_match(&p, ""));
        assert_false(mn_removable_patterns_match(&p, NULL));
        assert_false(mn_removable_patterns_match(NULL, "loop0"));

        /* A bad list leaves the old one alone and says where. */
        assert_int_equal(mn_removable_patterns_parse("loop* * sdb", &p, &bad), -EINVAL);
        assert_int_equal(bad, 6);
        assert_int_equal(p.n, 3);

        assert_int_equal(mn_removable_patterns_parse("", &p, NULL), 0);
        assert_int_equal(p.n, 0);
        assert_false(mn_removable_patterns_match(&p, "loop0"));
        mn_removable_patterns_clear(&p);
}

static void test_limits(void **state) {
        MnRemovablePatterns p = {};
        char list[MN_REMOVABLE_LIST_MAX + 2];
        size_t o = 0;

        for (int i = 0; i < MN_REMOVABLE_PATTERNS_MAX; i++)
                o += (size_t) snprintf(list + o, sizeof(list) - o, "dev%d* ", i);
        assert_int_equal(mn_removable_patterns_parse(list, &p, NULL), 0);
        assert_int_equal(p.n, MN_REMOVABLE_PATTERNS_MAX);
        assert_int_equal(mn_removable_patterns_add(&p, "one-more*"), -E2BIG);
        assert_int_equal(mn_removable_patterns_add(&p, "dev0*"), 0); /* a duplicate is fine when full */
        mn_removable_patterns_clear(&p);

        (void) snprintf(list + o, sizeof(list) - o, "extra*");
        assert_int_equal(mn_removable_patterns_parse(list, &p, NULL), -E2BIG);
        assert_int_equal(p.n, 0);

        memset(list, 'a', sizeof(list) - 1);
        list[sizeof(list) - 1] = 0;
        assert_int_equal(mn_removable_patterns_parse(list, &p, NULL), -E2BIG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_parse_and_match),
                cmocka_unit_test(test_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
