/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Retention by age and size: never past the collector's ack, and the rest still verifies from the anchor. */
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
#define DAY UINT64_C(86400000000)

typedef struct Fixture {
        char *dir, *path;
        Journal *j;
} Fixture;

/* 100 days, 10 records a day: day d holds sequences 10d+1 .. 10d+10. */
static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        f->dir = jt_mkdtemp();
        f->path = jt_path(f->dir, "journal.db");
        assert_int_equal(journal_open(f->path, NULL, &f->j), 0);
        jt_append_n(f->j, 1000, T0, DAY / 10);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        journal_close(f->j);
        jt_rm_rf(f->dir);
        free(f->path);
        free(f);
        return 0;
}

static uint64_t count_action(Journal *j, const char *action) {
        JournalQuery q = { .action = action };
        return jt_count(j, &q);
}

static void test_age_bounded_by_ack(void **state) {
        Fixture *f = *state;
        JournalStats st;
        uint64_t now = T0 + 100 * DAY;
        JournalRetention rt = { .max_age_usec = 30 * DAY }; /* keep days 70..99 */

        /* nothing acked: nothing goes */
        assert_int_equal(journal_prune(f->j, &rt, now), 0);
        assert_int_equal(journal_get_stats(f->j, &st), 0);
        assert_int_equal(st.first_sequence, 1);

        /* acked up to 250: 1..250 go, though the age limit would allow 700 */
        assert_int_equal(journal_set_acked(f->j, 250), 0);
        assert_int_equal(journal_prune(f->j, &rt, now), 250);
        assert_int_equal(journal_get_stats(f->j, &st), 0);
        assert_int_equal(st.first_sequence, 251);
        assert_int_equal(st.anchor_sequence, 250);
        assert_int_equal(st.last_sequence, 1001); /* the journal-pruned record */
        assert_int_equal(count_action(f->j, "journal-pruned"), 1);
        JournalVerifyResult r = jt_verify(f->j);
        assert_true(r.intact);
        assert_int_equal(r.first_sequence, 251);
        assert_int_equal(r.n_records, 751);

        /* acked everything: the age limit decides */
        assert_int_equal(journal_set_acked(f->j, 1001), 0);
        assert_int_equal(journal_prune(f->j, &rt, now), 450);
        assert_int_equal(journal_get_stats(f->j, &st), 0);
        assert_int_equal(st.first_sequence, 701);
        assert_int_equal(st.anchor_sequence, 700);
        assert_int_equal(journal_prune(f->j, &rt, now), 0);
        assert_true(jt_verify(f->j).intact);

        /* sequences go on; still verifiable after reopening, and read-only */
        journal_close(f->j);
        assert_int_equal(journal_open(f->path, NULL, &f->j), 0);
        jt_append_n(f->j, 5, now, 1);
        assert_int_equal(journal_durable_sequence(f->j), 1007);
        JournalVerifyResult ro = jt_verify_path(f->path);
        assert_true(ro.intact);
        assert_int_equal(ro.first_sequence, 701);
        assert_int_equal(ro.last_sequence, 1007);
}

static void test_ignore_ack(void **state) {
        Fixture *f = *state;
        JournalRetention rt = { .max_age_usec = 10 * DAY, .ignore_ack = true };
        assert_int_equal(journal_prune(f->j, &rt, T0 + 100 * DAY), 900);
        assert_true(jt_verify(f->j).intact);
}

static void test_size(void **state) {
        Fixture *f = *state;
        JournalStats before, after;
        assert_int_equal(journal_get_stats(f->j, &before), 0);
        JournalRetention rt = { .max_size_bytes = before.size_bytes / 2, .ignore_ack = true };
        int n = journal_prune(f->j, &rt, T0);
        assert_true(n > 400 && n < 800);
        assert_int_equal(journal_get_stats(f->j, &after), 0);
        assert_true(after.size_bytes <= rt.max_size_bytes);
        assert_int_equal(after.first_sequence, (uint64_t) n + 1);
        assert_true(jt_verify(f->j).intact);
        /* the file shrank as well (incremental vacuum) */
        FILE *fp = fopen(f->path, "rb");
        fseek(fp, 0, SEEK_END);
        long size = ftell(fp);
        fclose(fp);
        assert_true((uint64_t) size <= before.size_bytes);
}

static void test_everything_acked_and_old(void **state) {
        Fixture *f = *state;
        assert_int_equal(journal_set_acked(f->j, 1000), 0);
        JournalRetention rt = { .max_age_usec = 1 };
        assert_int_equal(journal_prune(f->j, &rt, T0 + 1000 * DAY), 1000);
        JournalStats st;
        assert_int_equal(journal_get_stats(f->j, &st), 0);
        assert_int_equal(st.first_sequence, 1001);
        JournalVerifyResult r = jt_verify(f->j);
        assert_true(r.intact);
        assert_int_equal(r.n_records, 1);
}

static void test_prefix_deleted_behind_the_journal(void **state) {
        /* Records removed and the anchor moved by hand, as pruning would, but without a journal-pruned
         * record: verification says so. */
        Fixture *f = *state;
        assert_int_equal(journal_set_acked(f->j, 100), 0);
        JournalRetention rt = { .max_age_usec = 1 };
        assert_int_equal(journal_prune(f->j, &rt, T0 + 1000 * DAY), 100);
        journal_close(f->j);
        f->j = NULL;
        sqlite3 *db = jt_sqlite_open(f->path);
        jt_sql(db, "UPDATE meta SET value = '200' WHERE key = 'anchor_seq';"
                   "UPDATE meta SET value = (SELECT lower(hex(hash)) FROM events WHERE seq = 200) WHERE key = 'anchor_hash';"
                   "DELETE FROM events WHERE seq <= 200");
        sqlite3_close(db);
        JournalVerifyResult r = jt_verify_path(f->path);
        assert_false(r.intact);
        assert_int_equal(r.fault, JOURNAL_FAULT_ANCHOR);
        assert_int_equal(r.fault_sequence, 201);

        /* and without moving the anchor: records missing */
        db = jt_sqlite_open(f->path);
        jt_sql(db, "UPDATE meta SET value = '100' WHERE key = 'anchor_seq'");
        sqlite3_close(db);
        r = jt_verify_path(f->path);
        assert_int_equal(r.fault, JOURNAL_FAULT_MISSING);
        assert_int_equal(r.fault_sequence, 101);
        assert_int_equal(journal_open(f->path, NULL, &f->j), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_age_bounded_by_ack, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ignore_ack, setup, teardown),
                cmocka_unit_test_setup_teardown(test_size, setup, teardown),
                cmocka_unit_test_setup_teardown(test_everything_acked_and_old, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prefix_deleted_behind_the_journal, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
