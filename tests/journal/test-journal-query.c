/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Query filters: time range, action glob, user, device serial or vendor:product, limit, order, paging. */
#include <errno.h>
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
#define MIN UINT64_C(60000000)
#define N 400

typedef struct Fixture {
        char *dir;
        Journal *j;
} Fixture;

/* 400 events a minute apart; event i: action actions[i % 4], user users[i % 4], serial ...i % 50,
 * product 5581 + i % 3 (see journal-test-util.c). */
static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        f->dir = jt_mkdtemp();
        _cleanup_free_ char *path = jt_path(f->dir, "journal.db");
        assert_int_equal(journal_open(path, NULL, &f->j), 0);
        jt_append_n(f->j, N, T0, MIN);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        journal_close(f->j);
        jt_rm_rf(f->dir);
        free(f);
        return 0;
}

typedef struct Collect {
        uint64_t seq[N + 1];
        size_t n;
} Collect;

static int collect(const JournalRecord *r, void *userdata) {
        Collect *c = userdata;
        /* each delivered record is a complete, parseable event with its hash */
        json_object *o = json_tokener_parse(r->json), *mn, *h;
        assert_non_null(o);
        assert_int_equal(strlen(r->json), r->json_len);
        assert_true(json_object_object_get_ex(o, "mnguard", &mn) && json_object_object_get_ex(mn, "hash", &h));
        assert_int_equal(json_object_get_string_len(h), 64);
        json_object_put(o);
        assert_true(c->n < ELEMENTSOF(c->seq));
        c->seq[c->n++] = r->sequence;
        return 0;
}

static Collect *run(Journal *j, const JournalQuery *q) {
        static Collect c;
        c.n = 0;
        assert_int_equal(journal_query(j, q, collect, &c, NULL), 0);
        return &c;
}

static void test_all(void **state) {
        Fixture *f = *state;
        JournalQuery q = {};
        Collect *c = run(f->j, &q);
        assert_int_equal(c->n, N);
        for (size_t i = 0; i < c->n; i++)
                assert_int_equal(c->seq[i], i + 1);
}

static void test_time(void **state) {
        Fixture *f = *state;
        /* [T0 + 10 min, T0 + 20 min): events 10..19 = sequences 11..20 */
        JournalQuery q = { .since_usec = T0 + 10 * MIN, .until_usec = T0 + 20 * MIN };
        Collect *c = run(f->j, &q);
        assert_int_equal(c->n, 10);
        assert_int_equal(c->seq[0], 11);
        assert_int_equal(c->seq[9], 20);
        JournalQuery since = { .since_usec = T0 + 390 * MIN };
        assert_int_equal(jt_count(f->j, &since), 10);
        JournalQuery until = { .until_usec = T0 + 1 };
        assert_int_equal(jt_count(f->j, &until), 1);
}

static void test_action(void **state) {
        Fixture *f = *state;
        JournalQuery q = { .action = "device-blocked" };
        assert_int_equal(jt_count(f->j, &q), N / 4);
        JournalQuery g = { .action = "device-*" };
        assert_int_equal(jt_count(f->j, &g), 3 * N / 4);
        JournalQuery g2 = { .action = "*-[bc]*" };
        assert_int_equal(jt_count(f->j, &g2), N / 2);
        JournalQuery none = { .action = "print-*" };
        assert_int_equal(jt_count(f->j, &none), 0);
}

static void test_user_device(void **state) {
        Fixture *f = *state;
        JournalQuery u = { .user = "sato" };
        assert_int_equal(jt_count(f->j, &u), N / 4);
        JournalQuery s = { .device = "4C530001230100000007" };
        assert_int_equal(jt_count(f->j, &s), N / 50);
        JournalQuery vp = { .device = "0781:5582" };
        Collect *c = run(f->j, &vp);
        assert_int_equal(c->n, 133);
        assert_int_equal(c->seq[0], 2);
        JournalQuery vpu = { .device = "0781:5582", .user = "sato" }; /* i % 3 == 1 and i % 4 == 1 */
        assert_int_equal(jt_count(f->j, &vpu), 34);
        JournalQuery upper = { .device = "0781:558A" };
        assert_int_equal(jt_count(f->j, &upper), 0);
        JournalQuery all = { .user = "tanaka", .action = "device-blocked", .since_usec = T0, .until_usec = T0 + 40 * MIN };
        assert_int_equal(jt_count(f->j, &all), 10);
}

static void test_limit_order_paging(void **state) {
        Fixture *f = *state;
        JournalQuery q = { .limit = 5, .order = JOURNAL_ORDER_DESCENDING };
        Collect *c = run(f->j, &q);
        assert_int_equal(c->n, 5);
        assert_int_equal(c->seq[0], N);
        assert_int_equal(c->seq[4], N - 4);

        /* page through one user's records 7 at a time, both ways */
        for (int dir = 0; dir < 2; dir++) {
                JournalQuery p = { .user = "suzuki", .limit = 7, .order = dir ? JOURNAL_ORDER_DESCENDING : JOURNAL_ORDER_ASCENDING };
                uint64_t seen = 0, last = dir ? UINT64_MAX : 0;
                for (;;) {
                        c = run(f->j, &p);
                        if (c->n == 0)
                                break;
                        for (size_t i = 0; i < c->n; i++) {
                                assert_true(dir ? c->seq[i] < last : c->seq[i] > last);
                                last = c->seq[i];
                        }
                        seen += c->n;
                        p.has_after = true;
                        p.after_sequence = last;
                        p.after_usec = T0 + (last - 1) * MIN;
                }
                assert_int_equal(seen, N / 4);
        }
}

static int stop_after_three(const JournalRecord *r, void *userdata) {
        (void) r;
        return ++*(int *) userdata == 3 ? 1 : 0;
}

static int fail_at_two(const JournalRecord *r, void *userdata) {
        (void) r;
        return ++*(int *) userdata == 2 ? -ECANCELED : 0;
}

static void test_callback_stops(void **state) {
        Fixture *f = *state;
        JournalQuery q = {};
        int n = 0;
        uint64_t count = 0;
        assert_int_equal(journal_query(f->j, &q, stop_after_three, &n, &count), 0);
        assert_int_equal(n, 3);
        assert_int_equal(count, 3);
        n = 0;
        assert_int_equal(journal_query(f->j, &q, fail_at_two, &n, NULL), -ECANCELED);
}

static void test_untrusted_strings(void **state) {
        /* strings with quotes, backslashes, controls and non-ASCII come back intact and match filters */
        Fixture *f = *state;
        json_object *e = jt_event(0, T0 + 1000 * MIN), *u, *d;
        json_object_object_get_ex(e, "user", &u);
        json_object_object_add(u, "name", json_object_new_string("田中\"\\\x01"));
        json_object_object_get_ex(e, "device", &d);
        json_object_object_add(d, "serial", json_object_new_string("S/N\t1"));
        assert_int_equal(journal_append(f->j, e, NULL), 0);
        json_object_put(e);
        assert_int_equal(journal_flush(f->j), 0);
        JournalQuery q = { .user = "田中\"\\\x01", .device = "S/N\t1" };
        assert_int_equal(jt_count(f->j, &q), 1);
        assert_true(jt_verify(f->j).intact);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_all, setup, teardown),
                cmocka_unit_test_setup_teardown(test_time, setup, teardown),
                cmocka_unit_test_setup_teardown(test_action, setup, teardown),
                cmocka_unit_test_setup_teardown(test_user_device, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limit_order_paging, setup, teardown),
                cmocka_unit_test_setup_teardown(test_callback_stops, setup, teardown),
                cmocka_unit_test_setup_teardown(test_untrusted_strings, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
