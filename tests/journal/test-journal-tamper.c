/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tampering with the database directly (sqlite3 C API): verification names the first broken sequence. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journal-test-util.h"
#include "macro.h"

#define T0 UINT64_C(1795651200000000)

typedef struct Fixture {
        char *dir, *path;
} Fixture;

/* n records, committed, journal closed. */
static Fixture *make(unsigned n) {
        Fixture *f = calloc(1, sizeof(Fixture));
        f->dir = jt_mkdtemp();
        f->path = jt_path(f->dir, "journal.db");
        Journal *j = NULL;
        assert_int_equal(journal_open(f->path, NULL, &j), 0);
        jt_append_n(j, n, T0, 1000000);
        journal_close(j);
        return f;
}

static int setup_small(void **state) {
        *state = make(100);
        return 0;
}

/* Large enough that verification splits it between threads. */
static int setup_large(void **state) {
        *state = make(120000);
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        jt_rm_rf(f->dir);
        free(f->path);
        free(f);
        return 0;
}

static void tamper(const char *path, const char *sql) {
        sqlite3 *db = jt_sqlite_open(path);
        jt_sql(db, sql);
        sqlite3_close(db);
}

static void expect_fault(const char *path, JournalFault fault, uint64_t seq) {
        JournalVerifyResult r = jt_verify_path(path);
        if (r.intact || r.fault != fault || r.fault_sequence != seq)
                fail_msg("expected %s at %" PRIu64 ", got intact=%d %s at %" PRIu64 ": %s", journal_fault_to_string(fault),
                         seq, r.intact, journal_fault_to_string(r.fault), r.fault_sequence, r.detail);
        assert_true(strlen(r.detail) > 0);
}

static void test_intact(void **state) {
        Fixture *f = *state;
        JournalVerifyResult r = jt_verify_path(f->path);
        assert_true(r.intact);
        assert_int_equal(r.fault, JOURNAL_FAULT_NONE);
        assert_int_equal(r.first_sequence, 1);
        assert_int_equal(r.last_sequence, r.n_records);
        assert_int_equal(strlen(r.last_hash), 64);
}

static void test_modify(void **state) {
        Fixture *f = *state;
        tamper(f->path, "UPDATE events SET body = replace(body, '\"tanaka\"', '\"nobody\"') WHERE seq = 41");
        expect_fault(f->path, JOURNAL_FAULT_MODIFIED, 41);
}

static void test_modify_and_rehash(void **state) {
        /* a forger who recomputes the hash of the changed record still breaks the next link */
        Fixture *f = *state;
        tamper(f->path, "UPDATE events SET hash = randomblob(32) WHERE seq = 50");
        expect_fault(f->path, JOURNAL_FAULT_MODIFIED, 50);
}

static void test_delete(void **state) {
        Fixture *f = *state;
        tamper(f->path, "DELETE FROM events WHERE seq = 17");
        expect_fault(f->path, JOURNAL_FAULT_MISSING, 17);
}

static void test_delete_range(void **state) {
        Fixture *f = *state;
        tamper(f->path, "DELETE FROM events WHERE seq BETWEEN 60 AND 70");
        expect_fault(f->path, JOURNAL_FAULT_MISSING, 60);
}

static void test_delete_first(void **state) {
        Fixture *f = *state;
        tamper(f->path, "DELETE FROM events WHERE seq = 1");
        expect_fault(f->path, JOURNAL_FAULT_MISSING, 1);
}

static void test_delete_tail(void **state) {
        Fixture *f = *state;
        tamper(f->path, "DELETE FROM events WHERE seq >= 98");
        expect_fault(f->path, JOURNAL_FAULT_TAIL, 98);
}

static void test_insert_forged(void **state) {
        Fixture *f = *state;
        /* a made-up record at the end */
        tamper(f->path, "INSERT INTO events (seq, ts, action, hash, body) "
                        "SELECT 101, ts, 'device-allowed', randomblob(32), "
                        "replace(body, '\"sequence\":100', '\"sequence\":101') FROM events WHERE seq = 100");
        expect_fault(f->path, JOURNAL_FAULT_LINK, 101);
}

static void test_insert_copied(void **state) {
        /* a copy of a genuine record put in at the end, renumbered */
        Fixture *f = *state;
        tamper(f->path, "INSERT INTO events (seq, ts, action, user_name, dev_serial, dev_vidpid, hash, body) "
                        "SELECT 101, ts, action, user_name, dev_serial, dev_vidpid, "
                        "hash, replace(body, '\"sequence\":100', '\"sequence\":101') FROM events WHERE seq = 100");
        expect_fault(f->path, JOURNAL_FAULT_LINK, 101);
}

static void copy_file(const char *from, const char *to) {
        FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
        char buf[65536];
        size_t n;
        assert_non_null(a);
        assert_non_null(b);
        while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
                assert_int_equal(fwrite(buf, 1, n, b), n);
        fclose(a);
        fclose(b);
}

static void test_insert_valid_extension(void **state) {
        /* A forger who computes a valid record 101 (here: with the journal itself, on a copy) and puts it
         * in, search runs included, without the journal: the chain is whole, the journal's own last
         * commit says 100. */
        Fixture *f = *state;
        _cleanup_free_ char *forged = jt_path(f->dir, "forged.db");
        copy_file(f->path, forged);
        Journal *j = NULL;
        assert_int_equal(journal_open(forged, NULL, &j), 0);
        jt_append_n(j, 1, T0 + 500000000, 1);
        journal_close(j);
        _cleanup_free_ char *sql = NULL;
        assert_true(asprintf(&sql, "ATTACH '%s' AS f; INSERT INTO events SELECT * FROM f.events WHERE seq = 101;"
                                 "DELETE FROM runs; INSERT INTO runs SELECT * FROM f.runs", forged) > 0);
        tamper(f->path, sql);
        expect_fault(f->path, JOURNAL_FAULT_TAIL, 101);
}

static void test_insert_middle(void **state) {
        /* shift 30.. up by one and put a record in at 30 */
        Fixture *f = *state;
        tamper(f->path, "UPDATE events SET seq = seq + 1000000 WHERE seq >= 30;"
                        "UPDATE events SET seq = seq - 1000000 + 1 WHERE seq >= 1000000;"
                        "INSERT INTO events (seq, ts, action, hash, body) "
                        "SELECT 30, ts, action, hash, body FROM events WHERE seq = 29");
        expect_fault(f->path, JOURNAL_FAULT_SEQUENCE, 30);
}

static void test_reorder(void **state) {
        Fixture *f = *state;
        tamper(f->path, "UPDATE events SET seq = -1 WHERE seq = 20;"
                        "UPDATE events SET seq = 20 WHERE seq = 25;"
                        "UPDATE events SET seq = 25 WHERE seq = -1");
        expect_fault(f->path, JOURNAL_FAULT_SEQUENCE, 20);
}

static void test_hide_from_queries(void **state) {
        Fixture *f = *state;
        tamper(f->path, "UPDATE events SET action = 'device-connected' WHERE seq = 33");
        expect_fault(f->path, JOURNAL_FAULT_INDEX, 33);
}

static void test_hide_user(void **state) {
        Fixture *f = *state;
        tamper(f->path, "UPDATE events SET user_name = 'someone' WHERE seq = 12");
        expect_fault(f->path, JOURNAL_FAULT_INDEX, 12);
}

/* The search runs (journal-runs.c): a run deleted or narrowed hides records from queries by user or
 * device. In the small journal users and devices change with every record: a run per record. */
static void test_delete_run(void **state) {
        Fixture *f = *state;
        tamper(f->path, "DELETE FROM runs WHERE kind = 1 AND first_seq <= 40 AND last_seq >= 40");
        expect_fault(f->path, JOURNAL_FAULT_INDEX, 40);
}

static void test_narrow_run_time(void **state) {
        Fixture *f = *state;
        tamper(f->path, "UPDATE runs SET max_ts = min_ts - 1 WHERE kind = 2 AND first_seq <= 60 AND last_seq >= 60");
        expect_fault(f->path, JOURNAL_FAULT_INDEX, 60);
}

static void test_move_run_value(void **state) {
        Fixture *f = *state;
        tamper(f->path, "UPDATE runs SET value = '0781:ffff' WHERE kind = 3 AND first_seq <= 70 AND last_seq >= 70");
        expect_fault(f->path, JOURNAL_FAULT_INDEX, 70);
}

static void test_column_types(void **state) {
        /* Values that read back equal to the body but that no search finds: a time stored as text sorts
         * after every integer (hidden from --until), a user name stored as a blob never equals the text
         * searched for. */
        Fixture *f = *state;
        tamper(f->path, "UPDATE events SET ts = CAST(ts AS TEXT) || 'x' WHERE seq = 7");
        expect_fault(f->path, JOURNAL_FAULT_INDEX, 7);
        tamper(f->path, "UPDATE events SET user_name = CAST(user_name AS BLOB) WHERE seq = 5");
        expect_fault(f->path, JOURNAL_FAULT_INDEX, 5);
}

static void test_overlapping_runs(void **state) {
        /* A forged run over everything, as a second run of a user: queries still show each record once;
         * verification reports the run */
        Fixture *f = *state;
        Journal *j = NULL;
        JournalQuery q = { .user = "sato" };
        assert_int_equal(journal_open_readonly(f->path, &j), 0);
        uint64_t before = jt_count(j, &q);
        journal_close(j);
        tamper(f->path, "INSERT INTO runs VALUES (1, 'sato', 9000000000000000000, 0, 100, 0)");
        assert_int_equal(journal_open_readonly(f->path, &j), 0);
        assert_int_equal(jt_count(j, &q), before);
        journal_close(j);
        expect_fault(f->path, JOURNAL_FAULT_INDEX, 2); /* sato's first real run, which the forged one overlaps */
}

static void test_runs_missing(void **state) {
        /* Without its runs table a journal can be searched by nothing and written to by nothing: verify
         * says so, and opening it for writing sets it aside and starts a new one */
        Fixture *f = *state;
        tamper(f->path, "DROP TABLE runs");
        expect_fault(f->path, JOURNAL_FAULT_INDEX, 1);
        Journal *j = NULL;
        assert_int_equal(journal_open(f->path, NULL, &j), 0);
        assert_non_null(journal_set_aside_path(j));
        assert_true(jt_verify(j).intact);
        journal_close(j);
}

static void test_long_run(void **state) {
        /* 300 records of one user and device after the 100: one run per kind; cutting it short hides the
         * rest, and queries find exactly the records of the run */
        Fixture *f = *state;
        Journal *j = NULL;
        assert_int_equal(journal_open(f->path, NULL, &j), 0);
        for (unsigned i = 0; i < 300; i++) {
                json_object *ev = jt_event(4 * 50, T0 + 200000000 + i * UINT64_C(1000000)); /* tanaka, serial 0 */
                assert_int_equal(journal_append(j, ev, NULL), 0);
                json_object_put(ev);
        }
        assert_int_equal(journal_flush(j), 0);
        JournalQuery user = { .user = "tanaka", .since_usec = T0 + 200000000 };
        assert_int_equal(jt_count(j, &user), 300);
        JournalQuery serial = { .device = "4C530001230100000000" };
        assert_int_equal(jt_count(j, &serial), 300 + 2); /* and records 1 and 51 */
        journal_close(j);
        sqlite3 *db = jt_sqlite_open(f->path);
        assert_int_equal(jt_sql_int(db, "SELECT count(*) FROM runs WHERE first_seq = 101 AND last_seq = 400"), 3);
        sqlite3_close(db);
        assert_true(jt_verify_path(f->path).intact);
        tamper(f->path, "UPDATE runs SET last_seq = 250 WHERE kind = 1 AND first_seq = 101");
        expect_fault(f->path, JOURNAL_FAULT_INDEX, 251);
}

static void test_large_intact_and_faults(void **state) {
        Fixture *f = *state;
        test_intact(state);
        /* faults in different thread ranges: the first one is reported */
        tamper(f->path, "UPDATE events SET body = replace(body, 'Cruzer', 'Kruzer') WHERE seq = 110000");
        expect_fault(f->path, JOURNAL_FAULT_MODIFIED, 110000);
        tamper(f->path, "DELETE FROM events WHERE seq = 70001");
        expect_fault(f->path, JOURNAL_FAULT_MISSING, 70001);
        tamper(f->path, "UPDATE events SET seq = -1 WHERE seq = 3;"
                        "UPDATE events SET seq = 3 WHERE seq = 4;"
                        "UPDATE events SET seq = 4 WHERE seq = -1");
        expect_fault(f->path, JOURNAL_FAULT_SEQUENCE, 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_intact, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_modify, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_modify_and_rehash, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_delete, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_delete_range, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_delete_first, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_delete_tail, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_insert_forged, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_insert_copied, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_insert_valid_extension, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_insert_middle, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_reorder, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_hide_from_queries, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_hide_user, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_delete_run, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_narrow_run_time, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_move_run_value, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_long_run, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_column_types, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_overlapping_runs, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_runs_missing, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_large_intact_and_faults, setup_large, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
