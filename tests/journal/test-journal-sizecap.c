/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The journal's own size cap (SQLite max_page_count: SQLITE_FULL like a full disk, without root): writes
 * fail, the backlog holds, losses are counted; size retention makes room and commits the backlog in the
 * same transaction, then a journal-gap record follows. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journal-diskfull-common.h"
#include "macro.h"

static int setup(void **state) {
        *state = jt_mkdtemp();
        return 0;
}

static int teardown(void **state) {
        jt_rm_rf(*state);
        return 0;
}

static void test_size_cap(void **state) {
        _cleanup_free_ char *path = jt_path(*state, "journal.db");
        JournalOptions o = { .backlog_max_events = DF_BACKLOG, .retry_usec = 1, .max_size_bytes = 1024 * 1024 };
        Journal *j = NULL;
        DiskFull d;

        assert_int_equal(journal_open(path, &o, &j), 0);
        df_fill(j, path, &d);
        assert_true(d.committed > 100);

        /* flushing alone cannot help; retention can */
        assert_int_equal(journal_flush(j), -ENOSPC);
        JournalRetention rt = { .max_size_bytes = 512 * 1024, .ignore_ack = true };
        int n = journal_prune(j, &rt, DF_T0);
        assert_true(n > 0);
        /* rounds of pruning: one journal-pruned record each */
        JournalQuery pq = { .action = "journal-pruned" };
        uint64_t pruned_records = jt_count(j, &pq);
        assert_true(pruned_records >= 1);
        df_check_recovered(j, path, &d, (unsigned) pruned_records);
        journal_close(j);

        /* reopened with the cap: still verifies, and appends go on */
        assert_int_equal(journal_open(path, &o, &j), 0);
        jt_append_n(j, 5, DF_T0 + 9000000, 1);
        assert_true(jt_verify(j).intact);
        journal_close(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
