/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Canonical JSON as docs/journal.md defines it, and timestamps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journal.h"
#include "macro.h"

static char *canon(const char *json) {
        json_object *o = json_tokener_parse(json);
        char *s = NULL;
        assert_non_null(o);
        assert_int_equal(journal_canonical_json(o, &s, NULL), 0);
        json_object_put(o);
        return s;
}

static void test_sorted_compact(void **state) {
        _cleanup_free_ char *a = canon("{ \"b\": 1, \"a\": {\"z\": [3, 2, {\"y\": null, \"x\": true}], \"é\": false, \"Z\": \"\"} }");
        assert_string_equal(a, "{\"a\":{\"Z\":\"\",\"z\":[3,2,{\"x\":true,\"y\":null}],\"é\":false},\"b\":1}");
        /* bytewise: "@" < "A" < "_" < "a" < "é"; a prefix sorts first */
        _cleanup_free_ char *b = canon("{\"ab\":1,\"a\":2,\"_\":3,\"@t\":4,\"A\":5}");
        assert_string_equal(b, "{\"@t\":4,\"A\":5,\"_\":3,\"a\":2,\"ab\":1}");
}

static void test_numbers(void **state) {
        _cleanup_free_ char *a = canon("[0,-1,9223372036854775807,-9223372036854775808,18446744073709551615]");
        assert_string_equal(a, "[0,-1,9223372036854775807,-9223372036854775808,18446744073709551615]");
        json_object *d = json_tokener_parse("{\"x\":1.5}");
        char *s = NULL;
        assert_int_equal(journal_canonical_json(d, &s, NULL), -EINVAL);
        json_object_put(d);
}

static void test_strings(void **state) {
        /* json-c's escaping with JSON_C_TO_STRING_NOSLASHESCAPE, byte for byte */
        char raw[40];
        for (int i = 0; i < 32; i++)
                raw[i] = (char) (i + 1);
        raw[27] = '\\';
        raw[28] = '"';
        raw[29] = '/';
        raw[30] = 0x7f;
        memcpy(raw + 31, "\xe5\x8f\x96", 3);
        json_object *o = json_object_new_string_len(raw, 34);
        _cleanup_free_ char *mine = NULL;
        assert_int_equal(journal_canonical_json(o, &mine, NULL), 0);
        assert_string_equal(mine, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);

        _cleanup_free_ char *nul = canon("\"a\\u0000b\\/\"");
        assert_string_equal(nul, "\"a\\u0000b/\"");

        json_object *bad = json_object_new_string_len("ab\xff", 3);
        char *s = NULL;
        assert_int_equal(journal_canonical_json(bad, &s, NULL), -EINVAL);
        json_object_put(bad);
}

static void test_matches_jsonc_when_sorted(void **state) {
        /* an object whose keys were added in sorted order serializes the same in json-c */
        json_object *o = json_tokener_parse("{\"@timestamp\":\"2026-11-26T06:18:14.123456Z\",\"device\":{\"bus\":\"usb\","
                                            "\"classes\":[\"storage\"],\"serial\":\"4C53\\u0001\"},\"event\":{\"action\":"
                                            "\"device-blocked\",\"sequence\":42},\"mnguard\":{\"policy_serial\":2026112601}}");
        _cleanup_free_ char *mine = NULL;
        assert_int_equal(journal_canonical_json(o, &mine, NULL), 0);
        assert_string_equal(mine, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

static void test_limits(void **state) {
        json_object *o = json_object_new_array();
        for (int i = 0; i < 20; i++) {
                json_object *outer = json_object_new_array();
                json_object_array_add(outer, o);
                o = outer;
        }
        char *s = NULL;
        assert_int_equal(journal_canonical_json(o, &s, NULL), -EINVAL);
        json_object_put(o);

        json_object *big = json_object_new_object();
        char *huge = malloc(JOURNAL_RECORD_MAX + 10);
        memset(huge, 'x', JOURNAL_RECORD_MAX + 9);
        huge[JOURNAL_RECORD_MAX + 9] = 0;
        json_object_object_add(big, "x", json_object_new_string(huge));
        assert_int_equal(journal_canonical_json(big, &s, NULL), -EMSGSIZE);
        free(huge);
        json_object_put(big);
}

static void test_timestamps(void **state) {
        uint64_t t;
        char buf[JOURNAL_TIMESTAMP_MAX];
        const char *s = "2026-11-26T06:18:14.123456Z";
        assert_int_equal(journal_timestamp_parse(s, strlen(s), &t), 0);
        assert_string_equal(journal_timestamp_format(t, buf), s);
        s = "2026-11-26T15:18:14.123456+09:00";
        uint64_t t2;
        assert_int_equal(journal_timestamp_parse(s, strlen(s), &t2), 0);
        assert_int_equal(t, t2);
        s = "1970-01-01T00:00:01Z";
        assert_int_equal(journal_timestamp_parse(s, strlen(s), &t), 0);
        assert_int_equal(t, 1000000);
        s = "1970-01-01T00:00:00.5Z";
        assert_int_equal(journal_timestamp_parse(s, strlen(s), &t), 0);
        assert_int_equal(t, 500000);
        static const char *const bad[] = { "2026-02-30T00:00:00Z", "2026-11-26 06:18:14Z", "2026-11-26T06:18:14",
                                           "2026-11-26T24:00:00Z", "2026-11-26T06:18:14.Z", "2026-11-26T06:18:14Zx", "" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(journal_timestamp_parse(bad[i], strlen(bad[i]), &t), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sorted_compact), cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_strings),        cmocka_unit_test(test_matches_jsonc_when_sorted),
                cmocka_unit_test(test_limits),         cmocka_unit_test(test_timestamps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
