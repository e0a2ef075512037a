/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Allocation-failure torture of the reporter's reading side (docs/testing.md "Fault injection"): the NDJSON
 * batches mnguardd builds from its journal for the collector (reporter_read_batch(), agent/reporter.c).
 * The HTTPS half is not here: it runs on its own thread against a collector. After every round: the call
 * failed with an errno, or returned exactly the batch a run without failures returns — never a record of
 * this host passed over, never a batch cut short and called complete. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault.h"
#include "journal.h"
#include "reporter-batch.h"
#include "reporter.h"

#define HOST_ID "5f0c2a8e9b7d4e1f8a3c6b2d1e0f9a8b"
#define OTHER_ID "0123456789abcdef0123456789abcdef"
#define T0 UINT64_C(1795651200000000)
#define N_RECORDS 14
#define NOT_CALLED INT_MIN

static void add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0)
                fault_fail("cannot build the event (%s)", key);
}

/* Record k: a cloned image's history (another host id) at 3 and 4, a large one at 7, escapes at 9. */
static json_object *event(unsigned k) {
        char ts[JOURNAL_TIMESTAMP_MAX];
        json_object *ev = json_object_new_object(), *e = json_object_new_object(), *h = json_object_new_object(),
                    *u = json_object_new_object();
        if (!ev || !e || !h || !u)
                fault_fail("json_object_new_object");
        add(ev, "@timestamp", json_object_new_string(journal_timestamp_format(T0 + k * 1000000u, ts)));
        add(ev, "event", e);
        add(e, "action", json_object_new_string(k % 2 ? "device-blocked" : "file-written"));
        add(ev, "host", h);
        add(h, "id", json_object_new_string(k == 3 || k == 4 ? OTHER_ID : HOST_ID));
        add(h, "name", json_object_new_string("mn-pc-0123"));
        add(ev, "user", u);
        add(u, "name", json_object_new_string(k == 9 ? "ta\tnaka \"改\"" : "sato"));
        if (k == 7) {
                char big[5000];
                memset(big, 'x', sizeof(big) - 1);
                big[sizeof(big) - 1] = 0;
                json_object *f = json_object_new_object();
                add(ev, "file", f);
                add(f, "path", json_object_new_string(big));
        }
        return ev;
}

typedef struct Ctx {
        Journal *j;
        ReporterBatch want_all, want_tail;      /* without failures */
        ReporterBatch all, tail;
        int r_all, r_tail, want_r_all, want_r_tail;
} Ctx;

#define TAIL_AFTER 5

static void *setup(const char *dir) {
        Ctx *c = calloc(1, sizeof(Ctx));
        char *path = NULL;
        if (!c || asprintf(&path, "%s/journal.db", dir) < 0)
                abort();
        if (journal_open(path, &(JournalOptions) { .host_id = HOST_ID }, &c->j) < 0)
                fault_fail("journal_open");
        free(path);
        for (unsigned k = 0; k < N_RECORDS; k++) {
                json_object *ev = event(k);
                if (journal_append(c->j, ev, NULL) < 0)
                        fault_fail("journal_append");
                json_object_put(ev);
        }
        if (journal_flush(c->j) < 0)
                fault_fail("journal_flush");
        c->want_r_all = reporter_read_batch(c->j, HOST_ID, 0, REPORTER_BATCH_RECORDS_DEFAULT, &c->want_all);
        c->want_r_tail = reporter_read_batch(c->j, HOST_ID, TAIL_AFTER, REPORTER_BATCH_RECORDS_DEFAULT, &c->want_tail);
        fault_checkf(c->want_r_all == 1 && c->want_all.n == N_RECORDS - 2 && c->want_all.last_sequence == N_RECORDS,
                     "reporter_read_batch() without failures: %d, %zu records up to %" PRIu64, c->want_r_all,
                     c->want_all.n, c->want_all.last_sequence);
        fault_checkf(c->want_r_tail == 1 && c->want_tail.n == N_RECORDS - TAIL_AFTER,
                     "reporter_read_batch() after %d without failures: %d, %zu records", TAIL_AFTER, c->want_r_tail,
                     c->want_tail.n);
        c->r_all = c->r_tail = NOT_CALLED;
        return c;
}

static void run(void *userdata) {
        Ctx *c = userdata;
        /* each from an empty batch, as the reporter's loop reads them (fill()) */
        c->r_all = reporter_read_batch(c->j, HOST_ID, 0, REPORTER_BATCH_RECORDS_DEFAULT, &c->all);
        c->r_tail = reporter_read_batch(c->j, HOST_ID, TAIL_AFTER, REPORTER_BATCH_RECORDS_DEFAULT, &c->tail);
}

static void check_batch(const char *what, int r, const ReporterBatch *got, int want_r, const ReporterBatch *want) {
        if (r < 0) {
                fault_checkf(r > -4096, "%s: returned %d", what, r);
                return;
        }
        fault_checkf(r == want_r, "%s: returned %d, without failures %d", what, r, want_r);
        fault_checkf(got->n == want->n && got->last_sequence == want->last_sequence,
                     "%s: %zu records up to %" PRIu64 ", without failures %zu up to %" PRIu64, what, got->n,
                     got->last_sequence, want->n, want->last_sequence);
        fault_checkf(got->size == want->size && memcmp(got->data, want->data, want->size) == 0,
                     "%s: another batch than without failures", what);
}

static void check(void *userdata) {
        Ctx *c = userdata;
        check_batch("the first batch", c->r_all, &c->all, c->want_r_all, &c->want_all);
        check_batch("the batch after 5", c->r_tail, &c->tail, c->want_r_tail, &c->want_tail);
}

static void teardown(void *userdata) {
        Ctx *c = userdata;
        journal_close(c->j);
        free(c->want_all.data);
        free(c->want_tail.data);
        free(c->all.data);
        free(c->tail.data);
        free(c);
}

static void test_reporter_read_batch(void **state) {
        static const FaultScenario s = {
                .name = "reporter-read-batch",
                .setup = setup,
                .run = run,
                .check = check,
                .teardown = teardown,
                .max_rounds = 1000,
        };
        assert_int_equal(fault_torture(&s), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reporter_read_batch),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
