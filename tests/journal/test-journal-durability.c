/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Group commit durability: what journal_durable_sequence() reports is on disk for any other reader, and
 * survives the writer being killed (SIGKILL) at any moment; the chain stays whole across such crashes. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal-test-util.h"
#include "macro.h"

#define T0 UINT64_C(1795651200000000)

static int setup(void **state) {
        *state = jt_mkdtemp();
        return 0;
}

static int teardown(void **state) {
        jt_rm_rf(*state);
        return 0;
}

static uint64_t rows_seen_by_other_reader(const char *path) {
        Journal *r = NULL;
        assert_int_equal(journal_open_readonly(path, &r), 0);
        JournalQuery q = {};
        uint64_t n = jt_count(r, &q);
        JournalVerifyResult v = jt_verify(r);
        assert_true(v.intact);
        journal_close(r);
        return n;
}

static void test_visible_after_flush(void **state) {
        _cleanup_free_ char *path = jt_path(*state, "journal.db");
        Journal *j = NULL;
        assert_int_equal(journal_open(path, NULL, &j), 0);
        for (unsigned round = 1; round <= 3; round++) {
                for (unsigned i = 0; i < 100; i++) {
                        json_object *e = jt_event(i, T0 + i);
                        assert_int_equal(journal_append(j, e, NULL), 0);
                        json_object_put(e);
                }
                /* appended, not yet committed: a reader does not see them */
                assert_int_equal(rows_seen_by_other_reader(path), (round - 1) * 100);
                uint64_t deadline = journal_flush_deadline(j);
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t now = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
                assert_true(deadline <= now + JOURNAL_FLUSH_MAX_DELAY_USEC);
                assert_int_equal(journal_flush(j), 0);
                assert_int_equal(journal_durable_sequence(j), round * 100);
                assert_int_equal(rows_seen_by_other_reader(path), round * 100);
        }
        journal_close(j);
}

/* The writer: bursts of events, one commit per burst, reporting each durable sequence on fd. */
_Noreturn static void writer(const char *path, int fd) {
        Journal *j = NULL;
        if (journal_open(path, NULL, &j) < 0)
                _exit(2);
        for (unsigned i = 0;; i++) {
                json_object *e = jt_event(i, T0 + i);
                if (journal_append(j, e, NULL) < 0)
                        _exit(3);
                json_object_put(e);
                if (i % 97 == 96) {
                        if (journal_flush(j) < 0)
                                _exit(4);
                        uint64_t d = journal_durable_sequence(j);
                        if (write(fd, &d, sizeof(d)) != sizeof(d))
                                _exit(5);
                }
        }
}

static void test_kill_9(void **state) {
        _cleanup_free_ char *path = jt_path(*state, "journal.db");
        uint64_t reported = 0;
        srand((unsigned) getpid());

        for (int round = 0; round < 6; round++) {
                int p[2];
                assert_int_equal(pipe(p), 0);
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        close(p[0]);
                        writer(path, p[1]);
                }
                close(p[1]);
                /* let it write a while, then kill it in the middle of whatever it does */
                uint64_t target = reported + 500 + (uint64_t) (rand() % 3000), d;
                while (read(p[0], &d, sizeof(d)) == sizeof(d)) {
                        assert_true(d > reported);
                        reported = d;
                        if (d >= target) {
                                usleep((useconds_t) (rand() % 3000));
                                assert_int_equal(kill(pid, SIGKILL), 0);
                                break;
                        }
                }
                int status;
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
                /* whatever it told us before dying is on disk */
                while (read(p[0], &d, sizeof(d)) == sizeof(d))
                        reported = d;
                close(p[0]);

                JournalVerifyResult v = jt_verify_path(path);
                if (!v.intact)
                        fail_msg("round %d: %s", round, v.detail);
                assert_true(v.last_sequence >= reported);
                assert_int_equal(v.first_sequence, 1);
                assert_int_equal(v.n_records, v.last_sequence); /* no gap */
                reported = v.last_sequence;
        }

        /* and the next writer goes on from there */
        Journal *j = NULL;
        assert_int_equal(journal_open(path, NULL, &j), 0);
        json_object *e = jt_event(0, T0);
        uint64_t s;
        assert_int_equal(journal_append(j, e, &s), 0);
        json_object_put(e);
        assert_int_equal(s, reported + 1);
        journal_close(j);
        assert_true(jt_verify_path(path).intact);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_visible_after_flush, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill_9, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
