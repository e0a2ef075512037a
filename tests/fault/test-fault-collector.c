/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Allocation-failure torture of the collector's ingest (docs/testing.md "Fault injection"): an NDJSON batch
 * parsed (batch_parse(): the one-pass record scanner and, for records it cannot prove canonical, json-c and
 * the canonical writer) and stored on SQLite with its chain checks (storage_ingest()). After every round:
 * a valid batch was not refused as malformed; the whole batch is stored or none of it (rows counted); what
 * is stored is what a run without failures stores (flags, alerts, host state); and the same batch sent
 * again without failures is stored exactly once. The second scenario stores the batch piece by piece while it is
 * parsed (batch_ingest() with pieces of a few records: the parsing thread, storage_ingest_pieces()). */
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
#include <sqlite3.h>

#include "batch.h"
#include "fault.h"
#include "journal.h"
#include "storage.h"

#define HOST_ID "5f0c2a8e9b7d4e1f8a3c6b2d1e0f9a8b"
#define T0 UINT64_C(1795651200000000)
#define NOW (T0 + UINT64_C(86400000000))
#define N_FIRST 10      /* stored before the round: 1-10 */
#define N_LAST 25       /* the batch: 11-20 and 23-25 (21 and 22 missing: a gap) */
#define N_BATCH 13
#define NOT_CALLED INT_MIN

/* The NDJSON bodies, made once by a real journal. */
static char *body_first, *body_batch;
static size_t len_first, len_batch;

static void add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0)
                fault_fail("cannot build the event (%s)", key);
}

/* Record k: most take the scanner's fast path; 12 has a key with an escape and 14 a number of 19 digits,
 * which only the json-c path accepts; 16 has escapes in values. */
static json_object *event(unsigned k) {
        char ts[JOURNAL_TIMESTAMP_MAX];
        json_object *ev = json_object_new_object(), *e = json_object_new_object(), *h = json_object_new_object(),
                    *u = json_object_new_object(), *d = json_object_new_object(), *m = json_object_new_object();
        if (!ev || !e || !h || !u || !d || !m)
                fault_fail("json_object_new_object");
        add(ev, "@timestamp", json_object_new_string(journal_timestamp_format(T0 + k * UINT64_C(1000000), ts)));
        add(ev, "event", e);
        add(e, "action", json_object_new_string(k == 1 ? "agent-started" : "device-blocked"));
        add(e, "outcome", json_object_new_string("success"));
        add(ev, "host", h);
        add(h, "id", json_object_new_string(HOST_ID));
        add(h, "name", json_object_new_string(k < 20 ? "mn-pc-0123" : "mn-pc-0123-renamed"));
        add(ev, "user", u);
        add(u, "name", json_object_new_string(k == 16 ? "ta\tnaka \"改\" \\" : "sato"));
        add(ev, "device", d);
        add(d, "vendor", json_object_new_string("0781"));
        add(d, "product", json_object_new_string("5581"));
        add(d, "serial", json_object_new_string("4C530001230112345678"));
        add(ev, "mnguard", m);
        add(m, "policy_serial", json_object_new_uint64(2026112601));
        if (k == 1)
                add(m, "version", json_object_new_string("0.1.0"));
        if (k == 12) {
                json_object *l = json_object_new_object();
                add(ev, "labels", l);
                add(l, "tab\tkey", json_object_new_string("x"));
        }
        if (k == 14)
                add(m, "big", json_object_new_uint64(UINT64_C(1000000000000000001)));
        return ev;
}

static void append_line(char **body, size_t *len, const char *line, size_t n) {
        char *p = realloc(*body, *len + n + 1);
        if (!p)
                abort();
        memcpy(p + *len, line, n);
        p[*len + n] = '\n';
        *body = p;
        *len += n + 1;
}

static void init(void) {
        char *dir = fault_mkdtemp(), *path = NULL;
        Journal *j = NULL;
        JournalExporter *e = NULL;
        const char *line;
        size_t n;

        if (body_first) {       /* made by an earlier scenario */
                fault_rm_rf(dir);
                free(dir);
                return;
        }
        if (asprintf(&path, "%s/journal.db", dir) < 0 || journal_open(path, &(JournalOptions) { .host_id = HOST_ID }, &j) < 0)
                fault_fail("journal_open");
        for (unsigned k = 1; k <= N_LAST; k++) {
                json_object *ev = event(k);
                if (journal_append(j, ev, NULL) < 0)
                        fault_fail("journal_append");
                json_object_put(ev);
        }
        if (journal_flush(j) < 0 || journal_exporter_new(j, NULL, &e) < 0)
                fault_fail("journal_exporter_new");
        for (uint64_t seq = 1; journal_exporter_next(e, &line, &n) > 0; seq++) {
                if (seq > N_LAST)
                        break; /* the manifest */
                if (seq <= N_FIRST)
                        append_line(&body_first, &len_first, line, n);
                else if (seq != 21 && seq != 22)
                        append_line(&body_batch, &len_batch, line, n);
        }
        journal_exporter_free(e);
        journal_close(j);
        fault_rm_rf(dir);
        free(dir);
        free(path);
}

typedef struct Ctx {
        bool streamed;
        char *db_path;
        Storage *s;
        int r_parse, r_ingest;
        BatchError err;
        IngestResult res;
} Ctx;

static int ingest(Storage *s, bool streamed, const char *body, size_t len, IngestResult *ret, BatchError *err,
                  int *ret_parse) {
        IngestBatch b = {};
        int r;
        if (streamed) {
                /* every body in pieces of about one record */
                const BatchIngestOptions o = { .stream_min_bytes = 0, .piece_bytes = 512 };
                size_t received = 0;
                r = batch_ingest(s, HOST_ID, body, len, NOW, &o, ret, &received, err);
                if (ret_parse)
                        *ret_parse = err->status != 0 ? r : 0;
                return r;
        }
        r = batch_parse(body, len, HOST_ID, &b, err);
        if (ret_parse)
                *ret_parse = r;
        if (r < 0)
                return r;
        r = storage_ingest(s, HOST_ID, b.host_name, b.records, b.n, NULL, NOW, ret);
        batch_done(&b);
        return r;
}

static void *setup_with(const char *dir, bool streamed) {
        Ctx *c = calloc(1, sizeof(Ctx));
        char *spec = NULL;
        IngestResult res;
        BatchError err;
        if (!c || asprintf(&c->db_path, "%s/collector.db", dir) < 0 || asprintf(&spec, "sqlite:%s", c->db_path) < 0)
                abort();
        int r = storage_open(spec, 1, &c->s);
        free(spec);
        fault_checkf(r == 0, "storage_open: %s", strerror(-r));
        r = ingest(c->s, false, body_first, len_first, &res, &err, NULL);
        fault_checkf(r == 0 && res.n_stored == N_FIRST, "the first batch: %s (%s)", strerror(-r), err.message);
        c->r_parse = c->r_ingest = NOT_CALLED;
        c->streamed = streamed;
        return c;
}

static void *setup(const char *dir) {
        return setup_with(dir, false);
}

static void *setup_streamed(const char *dir) {
        return setup_with(dir, true);
}

static void run(void *userdata) {
        Ctx *c = userdata;
        c->r_ingest = ingest(c->s, c->streamed, body_batch, len_batch, &c->res, &c->err, &c->r_parse);
}

static int64_t sql_int(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
                fault_fail("%s: %s", sql, sqlite3_errmsg(db));
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

/* The stored state, read with a connection of its own: 0 nothing of the batch, 1 all of it. */
static int stored(const char *path) {
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
                fault_fail("sqlite3_open_v2 %s", path);
        int64_t events = sql_int(db, "SELECT count(*) FROM events WHERE host_id = '" HOST_ID "'");
        int64_t alerts = sql_int(db, "SELECT count(*) FROM alerts WHERE host_id = '" HOST_ID "' AND kind != 'enrolled'");
        int64_t gaps = sql_int(db, "SELECT count(*) FROM alerts WHERE kind = 'gap' AND seq = 21 AND seq_end = 22");
        int64_t n_events = sql_int(db, "SELECT n_events FROM hosts WHERE host_id = '" HOST_ID "'");
        int64_t last = sql_int(db, "SELECT last_seq FROM hosts WHERE host_id = '" HOST_ID "'");
        int64_t contiguous = sql_int(db, "SELECT contiguous_seq FROM hosts WHERE host_id = '" HOST_ID "'");
        int64_t flagged = sql_int(db, "SELECT count(*) FROM events WHERE flags != 0");
        int64_t gap_flag = sql_int(db, "SELECT count(*) FROM events WHERE seq = 23 AND flags = 4");
        int64_t bad_digest = sql_int(db, "SELECT count(*) FROM events WHERE digest != hash");
        int64_t named = sql_int(db, "SELECT count(*) FROM hosts WHERE host_name = 'mn-pc-0123-renamed'");
        int64_t users = sql_int(db, "SELECT count(*) FROM events WHERE user_name IS NULL OR dev_serial IS NULL");
        sqlite3_close(db);

        fault_checkf(bad_digest == 0, "%" PRId64 " records stored as not hashing to their hash", bad_digest);
        fault_checkf(users == 0, "%" PRId64 " records stored without their user or device columns", users);
        if (events == N_FIRST) {
                fault_checkf(alerts == 0 && n_events == N_FIRST && last == N_FIRST && contiguous == N_FIRST && flagged == 0,
                             "none of the batch stored, but alerts %" PRId64 ", host n_events %" PRId64 " last %" PRId64
                             " contiguous %" PRId64 ", %" PRId64 " flagged",
                             alerts, n_events, last, contiguous, flagged);
                return 0;
        }
        fault_checkf(events == N_FIRST + N_BATCH, "%" PRId64 " events stored: part of the batch", events);
        fault_checkf(alerts == 1 && gaps == 1, "the batch stored with %" PRId64 " alerts (%" PRId64 " for the gap)", alerts, gaps);
        fault_checkf(n_events == N_FIRST + N_BATCH && last == N_LAST && contiguous == 20,
                     "the batch stored, but host n_events %" PRId64 " last %" PRId64 " contiguous %" PRId64, n_events, last,
                     contiguous);
        fault_checkf(flagged == 1 && gap_flag == 1, "the batch stored with %" PRId64 " records flagged", flagged);
        fault_checkf(named == 1, "the host's new name was not stored with the batch");
        return 1;
}

static void check(void *userdata) {
        Ctx *c = userdata;
        IngestResult res = {};
        BatchError err = {};

        /* a valid batch is never refused as malformed (the agent would not send it again as is) */
        fault_checkf(c->r_parse == 0 || c->r_parse == -ENOMEM, "batch_parse() returned %d (%d: %s)", c->r_parse,
                     c->err.status, c->err.message);
        fault_checkf(c->r_ingest >= 0 || c->r_ingest == NOT_CALLED || c->r_ingest > -4096, "storage_ingest() returned %d",
                     c->r_ingest);
        int all = stored(c->db_path);
        if (c->r_ingest == 0) {
                fault_checkf(all, "storage_ingest() succeeded and the batch is not stored");
                fault_checkf(c->res.n_stored == N_BATCH && c->res.acked_sequence == 20 && c->res.last_sequence == N_LAST,
                             "storage_ingest() succeeded: stored %zu, acked %" PRIu64 ", last %" PRIu64, c->res.n_stored,
                             c->res.acked_sequence, c->res.last_sequence);
        } else
                fault_checkf(!all, "storage_ingest() returned %d and the batch is stored", c->r_ingest);

        /* the agent sends it again: stored exactly once */
        int r = ingest(c->s, c->streamed, body_batch, len_batch, &res, &err, NULL);
        fault_checkf(r == 0, "the batch sent again without failures: %s (%s)", strerror(-r), err.message);
        fault_checkf(res.n_stored == (all ? 0 : N_BATCH) && res.n_duplicates == (all ? N_BATCH : 0) && res.n_conflicts == 0,
                     "sent again: stored %zu, duplicates %zu, conflicts %zu", res.n_stored, res.n_duplicates,
                     res.n_conflicts);
        fault_check(stored(c->db_path) == 1);
}

static void teardown(void *userdata) {
        Ctx *c = userdata;
        storage_close(c->s);
        free(c->db_path);
        free(c);
}

/* Every allocation of the ingest failing in turn (max_rounds 0: all of them, about 550 / 600). */
static void torture(const char *name, void *(*setup_fn)(const char *dir)) {
        const FaultScenario s = {
                .name = name,
                .init = init,
                .setup = setup_fn,
                .run = run,
                .check = check,
                .teardown = teardown,
                .max_rounds = 0,
        };
        assert_int_equal(fault_torture(&s), 0);
}

static void test_collector_ingest(void **state) {
        torture("collector-ingest", setup);
}

static void test_collector_ingest_pieces(void **state) {
        torture("collector-ingest-pieces", setup_streamed);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_collector_ingest),
                cmocka_unit_test(test_collector_ingest_pieces),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        free(body_first);
        free(body_batch);
        return r;
}
