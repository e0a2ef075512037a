/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The record parser's one-pass fast path (record-scan.c) against the full json-c path: on the journal's
 * own records both agree field by field; on thousands of mutated lines, whatever the fast path accepts the
 * full path accepts too, with the same digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "collector-test-util.h"
#include "record-scan.h"

#define RECORDS 300u
#define MUTATIONS 20000u

static void same_record(const IngestRecord *a, const IngestRecord *b) {
        assert_int_equal(a->sequence, b->sequence);
        assert_int_equal(a->timestamp_usec, b->timestamp_usec);
        assert_memory_equal(a->hash, b->hash, SHA256_SIZE);
        assert_memory_equal(a->prev_hash, b->prev_hash, SHA256_SIZE);
        assert_memory_equal(a->digest, b->digest, SHA256_SIZE);
        assert_int_equal(a->hash_ok, b->hash_ok);
        assert_string_equal(a->action, b->action);
        assert_string_equal(a->user_name ?: "", b->user_name ?: "");
        assert_string_equal(a->dev_serial ?: "", b->dev_serial ?: "");
        assert_string_equal(a->dev_vidpid, b->dev_vidpid);
        assert_int_equal(a->policy_serial, b->policy_serial);
        assert_string_equal(a->agent_version, b->agent_version);
        assert_int_equal(a->json_len, b->json_len);
        assert_memory_equal(a->json, b->json, a->json_len);
}

static void test_journal_records(void **state) {
        CtChain chain;
        char id[HOST_ID_LEN + 1];
        ct_host_id(7, id);
        ct_chain_init(&chain, id, "mn-pc-テスト");
        for (unsigned i = 0; i < RECORDS; i++) {
                char *line, hid1[HOST_ID_LEN + 1], hid2[HOST_ID_LEN + 1], err[256];
                char *name1 = NULL, *name2 = NULL;
                size_t len;
                IngestRecord fast = {}, full = {};
                assert_int_equal(ct_chain_next(&chain, i, 1764115200000000ull + i * 1000000ull, &line, &len), 0);
                assert_int_equal(record_parse_fast(line, len, &fast, hid1, &name1), 0);
                assert_int_equal(record_parse_full(line, len, &full, hid2, &name2, err, sizeof(err)), 0);
                assert_true(fast.hash_ok);
                assert_int_equal(fast.policy_serial, 2026112601u);
                same_record(&fast, &full);
                assert_string_equal(hid1, hid2);
                assert_string_equal(name1, name2);
                record_done(&fast);
                record_done(&full);
                free(name1);
                free(name2);
                free(line);
        }
}

static void test_mutations(void **state) {
        CtChain chain;
        char id[HOST_ID_LEN + 1], *line;
        size_t len;
        unsigned accepted = 0;
        static const char alphabet[] = "{}[]\",:\\0123456789abcdefnultrue -.eE\t\x7f\xc3\xa9\xff";
        ct_host_id(8, id);
        ct_chain_init(&chain, id, "mn-pc");
        assert_int_equal(ct_chain_next(&chain, 3, 1764115200000000ull, &line, &len), 0);
        srand(1);
        for (unsigned m = 0; m < MUTATIONS; m++) {
                char *copy = malloc(len + 2), hid1[HOST_ID_LEN + 1], hid2[HOST_ID_LEN + 1], err[256];
                size_t n = len;
                memcpy(copy, line, len);
                size_t at = (size_t) rand() % len;
                char c = alphabet[(size_t) rand() % (sizeof(alphabet) - 1)];
                switch (rand() % 3) {
                case 0: copy[at] = c; break;                                    /* replace */
                case 1: memmove(copy + at, copy + at + 1, len - at - 1); n--; break;   /* delete */
                default: memmove(copy + at + 1, copy + at, len - at); copy[at] = c; n++; break; /* insert */
                }
                IngestRecord fast = {}, full = {};
                if (record_parse_fast(copy, n, &fast, hid1, NULL) == 0) {
                        accepted++;
                        assert_int_equal(record_parse_full(copy, n, &full, hid2, NULL, err, sizeof(err)), 0);
                        same_record(&fast, &full);
                        record_done(&full);
                        record_done(&fast);
                }
                free(copy);
        }
        free(line);
        /* some mutations keep the line valid (a digit or letter inside a string) */
        assert_true(accepted > 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_journal_records),
                cmocka_unit_test(test_mutations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
