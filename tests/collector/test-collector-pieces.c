/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The piece path of an ingest (docs/collector.md "Big batches are stored while they are parsed"), on SQLite:
 * storage_ingest_pieces() itself stores a batch that follows what the host has stored and answers
 * -ECANCELED, with nothing stored, for every batch the whole-batch path must take; batch_ingest() then
 * stores those exactly as storage_ingest() does. Outcomes are read back from the database. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "batch.h"
#include "collector-test-util.h"
#include "storage.h"

#define T0 UINT64_C(1795651200000000)
#define NOW (T0 + UINT64_C(86400000000))
#define N 60
#define PIECE 1024      /* bytes: a few records a piece */

typedef struct Fixture {
        char dir[64], db[96], host[HOST_ID_LEN + 1];
        Storage *s;
        char *lines[N + 1];     /* record k (1-based) */
        size_t lens[N + 1];
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        char spec[128];
        CtChain chain;
        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/mnguard-pieces-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->db, sizeof(f->db), "%s/collector.db", f->dir);
        snprintf(spec, sizeof(spec), "sqlite:%s", f->db);
        assert_int_equal(storage_open(spec, 1, &f->s), 0);
        ct_host_id(7, f->host);
        ct_chain_init(&chain, f->host, "mn-pc-pieces");
        for (unsigned k = 1; k <= N; k++)
                assert_int_equal(ct_chain_next(&chain, k, T0 + k * UINT64_C(60000000), &f->lines[k], &f->lens[k]), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];
        storage_close(f->s);
        for (unsigned k = 1; k <= N; k++)
                free(f->lines[k]);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

/* The body of records first..last (in that order, or reversed), NDJSON. */
static char *body(const Fixture *f, unsigned first, unsigned last, bool reversed, size_t *ret_len) {
        size_t len = 0;
        for (unsigned k = first; k <= last; k++)
                len += f->lens[k] + 1;
        char *b = malloc(len + 1), *p = b;
        assert_non_null(b);
        for (unsigned i = 0; i <= last - first; i++) {
                unsigned k = reversed ? last - i : first + i;
                memcpy(p, f->lines[k], f->lens[k]);
                p += f->lens[k];
                *p++ = '\n';
        }
        *p = 0;
        *ret_len = len;
        return b;
}

static int64_t sql_int(const Fixture *f, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static int64_t stored(const Fixture *f) {
        return sql_int(f, "SELECT count(*) FROM events");
}

static int next_piece(void *userdata, size_t k, IngestPiece *ret) {
        return batch_stream_piece(userdata, k, ret);
}

/* storage_ingest_pieces() alone on records first..last. */
static int pieces(Fixture *f, unsigned first, unsigned last, bool reversed, IngestResult *res) {
        size_t len;
        char *b = body(f, first, last, reversed, &len);
        BatchStream *bs = NULL;
        assert_int_equal(batch_stream_new(b, len, f->host, PIECE, &bs), 0);
        int r = storage_ingest_pieces(f->s, f->host, next_piece, bs, NULL, NOW, res);
        batch_stream_free(bs);
        free(b);
        return r;
}

static void test_follow_on_batches_go_piece_by_piece(void **state) {
        Fixture *f = *state;
        IngestResult res = {};

        /* a host with nothing stored: the first batch starts at 1 */
        assert_int_equal(pieces(f, 1, 20, false, &res), 0);
        assert_int_equal(res.n_stored, 20);
        assert_int_equal(res.acked_sequence, 20);
        assert_int_equal(stored(f), 20);
        /* the next one follows: one transaction over several pieces */
        assert_int_equal(pieces(f, 21, 40, false, &res), 0);
        assert_int_equal(res.n_stored, 20);
        assert_int_equal(res.acked_sequence, 40);
        assert_int_equal(res.chain, CHAIN_INTACT);
        assert_int_equal(stored(f), 40);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM alerts WHERE kind != 'enrolled'"), 0);
        assert_int_equal(sql_int(f, "SELECT contiguous_seq * 1000 + last_seq FROM hosts"), 40040);
        /* a gap before the batch: stored piece by piece all the same, flagged */
        assert_int_equal(pieces(f, 46, 50, false, &res), 0);
        assert_int_equal(res.acked_sequence, 40);
        assert_int_equal(res.last_sequence, 50);
        assert_int_equal(sql_int(f, "SELECT count(*) FROM alerts WHERE kind = 'gap' AND seq = 41 AND seq_end = 45"), 1);
}

static void test_other_batches_are_cancelled(void **state) {
        Fixture *f = *state;
        IngestResult res = {};
        BatchError err;
        size_t received = 0, len;

        assert_int_equal(pieces(f, 1, 30, false, &res), 0);
        /* a re-send, an overlap, a batch filling a gap from below: records stored at or after the first */
        assert_int_equal(pieces(f, 1, 30, false, &res), -ECANCELED);
        assert_int_equal(pieces(f, 25, 40, false, &res), -ECANCELED);
        assert_int_equal(stored(f), 30);
        /* out of order */
        assert_int_equal(pieces(f, 31, 50, true, &res), -ECANCELED);
        assert_int_equal(stored(f), 30);
        /* batch_ingest() stores those through the whole-batch path */
        char *b = body(f, 25, 50, true, &len);
        const BatchIngestOptions o = { .stream_min_bytes = 0, .piece_bytes = PIECE };
        assert_int_equal(batch_ingest(f->s, f->host, b, len, NOW, &o, &res, &received, &err), 0);
        free(b);
        assert_int_equal(received, 26);
        assert_int_equal(res.n_stored, 20);
        assert_int_equal(res.n_duplicates, 6);
        assert_int_equal(res.acked_sequence, 50);
        assert_int_equal(stored(f), 50);
        /* no records at all (blank lines): the whole-batch path records the visit */
        BatchStream *bs = NULL;
        assert_int_equal(batch_stream_new("\n\n\n", 3, f->host, PIECE, &bs), 0);
        assert_int_equal(storage_ingest_pieces(f->s, f->host, next_piece, bs, NULL, NOW, &res), -ECANCELED);
        batch_stream_free(bs);
}

static void test_refusal_in_a_later_piece_stores_nothing(void **state) {
        Fixture *f = *state;
        IngestResult res = {};
        BatchError err;
        size_t received = 0, len;

        char *b = body(f, 1, 40, false, &len);
        /* record 35 of another host: the pieces before it were inserted, and are rolled back */
        char *p = strstr(b, f->lines[35]);
        assert_non_null(p);
        p = strstr(p, f->host);
        assert_non_null(p);
        p[0] = p[0] == 'f' ? 'e' : 'f';
        const BatchIngestOptions o = { .stream_min_bytes = 0, .piece_bytes = PIECE };
        assert_int_equal(batch_ingest(f->s, f->host, b, len, NOW, &o, &res, &received, &err), -EPERM);
        assert_int_equal(err.status, 403);
        assert_int_equal(err.line, 35);
        assert_int_equal(stored(f), 0);
        free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_follow_on_batches_go_piece_by_piece, setup, teardown),
                cmocka_unit_test_setup_teardown(test_other_batches_are_cancelled, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refusal_in_a_later_piece_stores_nothing, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
