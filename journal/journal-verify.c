/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Verification of the hash chain in the database.
 *
 * Each record is checked against its predecessor only (its sequence is the predecessor's + 1, its
 * mnguard.prev_hash is the predecessor's hash) and against itself (it names the sequence it is stored
 * under, its body hashes to its hash, its search columns agree with it, and the search runs hold it). So
 * the sequence range can be split between threads and the first fault found is the same as a single walk
 * would find. Threads, because a million records are ~0.6 GB of hashed text (nettle's SHA-256: ~0.7 µs a
 * record here) besides SQLite's reading (measured: tests/bench/bench-journal.c). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal-internal.h"

/* Below this many records per thread, one thread does it all. */
#define VERIFY_RECORDS_PER_THREAD_MIN 50000u

static const char *const fault_names[_JOURNAL_FAULT_MAX] = {
        [JOURNAL_FAULT_NONE] = "none",
        [JOURNAL_FAULT_MODIFIED] = "modified",
        [JOURNAL_FAULT_MISSING] = "missing",
        [JOURNAL_FAULT_LINK] = "link",
        [JOURNAL_FAULT_SEQUENCE] = "sequence",
        [JOURNAL_FAULT_INDEX] = "index",
        [JOURNAL_FAULT_MALFORMED] = "malformed",
        [JOURNAL_FAULT_ANCHOR] = "anchor",
        [JOURNAL_FAULT_TAIL] = "tail",
        [JOURNAL_FAULT_MANIFEST] = "manifest",
};

const char *journal_fault_to_string(JournalFault f) {
        return f >= 0 && f < _JOURNAL_FAULT_MAX ? fault_names[f] : NULL;
}

typedef struct Walk {
        /* input */
        const char *uri;                /* NULL: use db */
        sqlite3 *db;
        uint64_t from, to;
        bool from_anchor;               /* the first range: its predecessor is the anchor */
        uint64_t anchor_seq;
        uint8_t anchor_hash[JOURNAL_SHA256_SIZE];
        bool runs;                      /* format 2: check that the runs hold every record */
        /* state */
        sqlite3_stmt *find;
        Run cover[_RUN_KIND_MAX];       /* by kind, the run that held the last record with a value */
        /* output */
        int error;
        JournalFault fault;
        uint64_t fault_seq;
        char detail[JOURNAL_DETAIL_MAX];
        uint64_t n, first_seq, last_seq, anchor_record_seq;
        uint8_t last_hash[JOURNAL_SHA256_SIZE];
} Walk;

_printf_(4, 5) static void set_fault(Walk *w, JournalFault f, uint64_t seq, const char *fmt, ...) {
        va_list ap;
        w->fault = f;
        w->fault_seq = seq;
        va_start(ap, fmt);
        vsnprintf(w->detail, sizeof(w->detail), fmt, ap);
        va_end(ap);
}

static bool column_eq(sqlite3_stmt *st, int i, const char *v) {
        const char *c = (const char *) sqlite3_column_text(st, i);
        if (!v || !*v)
                return !c;
        return c && streq(c, v);
}

static bool span_has_escape(Span s) {
        return s.p && memchr(s.p, '\\', s.n);
}

/* A string span against a text column, as columns_from_body() would have stored it (no escapes). */
static bool span_column_eq(sqlite3_stmt *st, int i, Span s) {
        const char *c = (const char *) sqlite3_column_text(st, i);
        if (!s.p || s.n == 0 || s.n > JOURNAL_COLUMN_MAX)
                return !c;
        return c && (size_t) sqlite3_column_bytes(st, i) == s.n && memcmp(c, s.p, s.n) == 0;
}

/* The column types the journal writes: ts an integer, the others text (user, serial, vid:pid also
 * NULL). SQLite converts when a value is read, so without this a user name stored as a BLOB, or a time
 * stored as TEXT, would read back equal to the body while no search could find the record (a BLOB never
 * equals the bound text, a TEXT sorts after every integer). */
static bool column_types_ok(sqlite3_stmt *st) {
        if (sqlite3_column_type(st, 2) != SQLITE_INTEGER || sqlite3_column_type(st, 3) != SQLITE_TEXT)
                return false;
        for (int i = 4; i <= 6; i++) {
                int t = sqlite3_column_type(st, i);
                if (t != SQLITE_TEXT && t != SQLITE_NULL)
                        return false;
        }
        return true;
}

/* Whether the search columns hold what the body says (the same rules as columns_from_body()). */
static bool columns_match(sqlite3_stmt *st, const RecordFields *f) {
        uint64_t ts;
        Columns c;

        if (!column_types_ok(st))
                return false;

        if (span_has_escape(f->timestamp) || span_has_escape(f->action) || span_has_escape(f->user) ||
            span_has_escape(f->serial) || span_has_escape(f->vendor) || span_has_escape(f->product)) {
                /* rare: the slow path that unescapes */
                return columns_from_body(f, &c) >= 0 && (uint64_t) sqlite3_column_int64(st, 2) == c.ts &&
                       column_eq(st, 3, c.action) && column_eq(st, 4, c.user) && column_eq(st, 5, c.serial) &&
                       column_eq(st, 6, c.vidpid);
        }
        if (!f->timestamp.p || journal_timestamp_parse(f->timestamp.p, f->timestamp.n, &ts) < 0 ||
            (uint64_t) sqlite3_column_int64(st, 2) != ts)
                return false;
        if (!f->action.p || f->action.n == 0 || !span_column_eq(st, 3, f->action) || !span_column_eq(st, 4, f->user) ||
            !span_column_eq(st, 5, f->serial))
                return false;
        /* vendor:product, only when both are 4 hex digits */
        const char *vp = (const char *) sqlite3_column_text(st, 6);
        bool hex = f->vendor.n == 4 && f->product.n == 4;
        char want[10];
        for (size_t k = 0; hex && k < 8; k++) {
                char x = k < 4 ? f->vendor.p[k] : f->product.p[k - 4];
                if (x >= 'A' && x <= 'F')
                        x = (char) (x - 'A' + 'a');
                if (!((x >= '0' && x <= '9') || (x >= 'a' && x <= 'f')))
                        hex = false;
                want[k < 4 ? k : k + 1] = x;
        }
        if (!hex)
                return !vp;
        want[4] = ':';
        want[9] = 0;
        return vp && streq(vp, want);
}

/* 1 when every value of the row (columns 4-6) lies in a run of its kind that holds the row's sequence
 * and time (journal-runs.c), 0 when one does not: a run deleted or narrowed hides records from searches by
 * user or device. Records come in runs, so the run found for the last one mostly holds the next. */
static int runs_cover(Walk *w, sqlite3 *db, sqlite3_stmt *st, uint64_t s) {
        uint64_t ts = (uint64_t) sqlite3_column_int64(st, 2);
        for (unsigned k = 0; k < _RUN_KIND_MAX; k++) {
                const char *v = (const char *) sqlite3_column_text(st, 4 + (int) k);
                Run *c = &w->cover[k];
                if (!v || !*v)
                        continue;
                if (c->live && c->first_seq <= s && s <= c->last_seq && c->min_ts <= ts && ts <= c->max_ts &&
                    streq(c->value, v))
                        continue;
                c->live = false;
                int r = runs_find(db, w->find, (RunKind) (k + 1), v, s, ts, c);
                if (r <= 0)
                        return r;
        }
        return 1;
}

/* Checks one row against its predecessor (prev_seq, prev_hash). Returns false with w->fault set (or
 * w->error, when the check itself failed). */
static bool check_row(Walk *w, sqlite3 *db, sqlite3_stmt *st, uint64_t prev_seq, const uint8_t prev_hash[static 32]) {
        uint64_t s = (uint64_t) sqlite3_column_int64(st, 0), body_seq;
        const char *body = (const char *) sqlite3_column_text(st, 7);
        size_t len = (size_t) sqlite3_column_bytes(st, 7);
        char prev_hex[JOURNAL_HASH_HEX_SIZE];
        uint8_t h[JOURNAL_SHA256_SIZE];
        RecordFields f;

        if (s != prev_seq + 1) {
                if (s > prev_seq + 1)
                        set_fault(w, JOURNAL_FAULT_MISSING, prev_seq + 1,
                                  "record %" PRIu64 " missing (the chain goes on at %" PRIu64 "): deleted", prev_seq + 1, s);
                else
                        set_fault(w, JOURNAL_FAULT_LINK, s,
                                  "record %" PRIu64 " lies before the start of the chain (%" PRIu64 "): inserted", s,
                                  prev_seq + 1);
                return false;
        }
        if (!body || sqlite3_column_bytes(st, 1) != JOURNAL_SHA256_SIZE || canon_scan_record(body, len, &f) < 0) {
                set_fault(w, JOURNAL_FAULT_MALFORMED, s, "record %" PRIu64 " cannot be read: modified", s);
                return false;
        }
        if (canon_parse_u64(f.sequence, &body_seq) < 0 || body_seq != s) {
                set_fault(w, JOURNAL_FAULT_SEQUENCE, s, "record stored as %" PRIu64 " says it is %.*s: reordered or renumbered",
                          s, (int) (f.sequence.n < 20 ? f.sequence.n : 20), f.sequence.p ? f.sequence.p : "");
                return false;
        }
        hex_encode(prev_hash, JOURNAL_SHA256_SIZE, prev_hex);
        if (f.prev_hash.n != 64 || memcmp(f.prev_hash.p, prev_hex, 64) != 0) {
                set_fault(w, JOURNAL_FAULT_LINK, s,
                          "record %" PRIu64 " does not follow record %" PRIu64 ": inserted, replaced or reordered", s,
                          prev_seq);
                return false;
        }
        record_hash(prev_hex, body, len, h);
        if (memcmp(h, sqlite3_column_blob(st, 1), JOURNAL_SHA256_SIZE) != 0) {
                set_fault(w, JOURNAL_FAULT_MODIFIED, s, "record %" PRIu64 " does not match its hash: modified", s);
                return false;
        }
        if (!columns_match(st, &f)) {
                set_fault(w, JOURNAL_FAULT_INDEX, s,
                          "record %" PRIu64 "'s search columns disagree with it: modified to hide it from queries", s);
                return false;
        }
        if (w->runs) {
                int r = runs_cover(w, db, st, s);
                if (r < 0) {
                        w->error = r;
                        return false;
                }
                if (r == 0) {
                        set_fault(w, JOURNAL_FAULT_INDEX, s,
                                  "record %" PRIu64 " is missing from the search runs: hidden from queries by user or device",
                                  s);
                        return false;
                }
        }
        if (f.anchor.p)
                w->anchor_record_seq = s;
        return true;
}

static int step_err(int rc) {
        return sqlite_to_errno(rc) ?: -EIO;
}

static void walk(Walk *w) {
        sqlite3 *db = w->db;
        sqlite3_stmt *st = NULL;
        uint64_t prev_seq = w->anchor_seq;
        uint8_t prev_hash[JOURNAL_SHA256_SIZE];
        int rc;

        memcpy(prev_hash, w->anchor_hash, sizeof(prev_hash));
        if (w->uri) {
                rc = sqlite3_open_v2(w->uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
                if (rc != SQLITE_OK) {
                        w->error = step_err(rc);
                        sqlite3_close_v2(db);
                        return;
                }
                sqlite3_busy_timeout(db, JOURNAL_BUSY_TIMEOUT_MSEC);
        }
        if (!w->from_anchor) {
                rc = sqlite3_prepare_v2(db, "SELECT seq, hash FROM events WHERE seq < ?1 ORDER BY seq DESC LIMIT 1", -1, &st, NULL);
                if (rc == SQLITE_OK) {
                        sqlite3_bind_int64(st, 1, (sqlite3_int64) w->from);
                        rc = sqlite3_step(st);
                        if (rc == SQLITE_ROW) {
                                prev_seq = (uint64_t) sqlite3_column_int64(st, 0);
                                if (sqlite3_column_bytes(st, 1) == JOURNAL_SHA256_SIZE)
                                        memcpy(prev_hash, sqlite3_column_blob(st, 1), JOURNAL_SHA256_SIZE);
                                else
                                        memset(prev_hash, 0, sizeof(prev_hash));
                        }
                }
                sqlite3_finalize(st);
                st = NULL;
                if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                        w->error = step_err(rc);
                        goto finish;
                }
        }
        rc = sqlite3_prepare_v2(db,
                                "SELECT seq, hash, ts, action, user_name, dev_serial, dev_vidpid, body "
                                "FROM events WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq",
                                -1, &st, NULL);
        if (rc != SQLITE_OK) {
                w->error = step_err(rc);
                goto finish;
        }
        if (w->runs && (w->error = runs_prepare_find(db, &w->find)) < 0)
                goto finish;
        sqlite3_bind_int64(st, 1, (sqlite3_int64) w->from);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) w->to);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (!check_row(w, db, st, prev_seq, prev_hash)) {
                        /* a value SQLite could not hand out for want of memory is no fault of the record */
                        if ((sqlite3_errcode(db) & 0xff) == SQLITE_NOMEM) {
                                w->fault = JOURNAL_FAULT_NONE;
                                w->error = -ENOMEM;
                        }
                        break;
                }
                prev_seq = (uint64_t) sqlite3_column_int64(st, 0);
                memcpy(prev_hash, sqlite3_column_blob(st, 1), JOURNAL_SHA256_SIZE);
                if (w->n++ == 0)
                        w->first_seq = prev_seq;
        }
        if (w->fault == JOURNAL_FAULT_NONE && w->error == 0 && rc != SQLITE_DONE)
                w->error = step_err(rc);
        w->last_seq = prev_seq;
        memcpy(w->last_hash, prev_hash, sizeof(prev_hash));
finish:
        sqlite3_finalize(w->find);
        w->find = NULL;
        sqlite3_finalize(st);
        if (w->uri)
                sqlite3_close_v2(db);
}

/* The runs table itself (format 2), in the caller's transaction: its values of the types the journal
 * writes, no run reaching past the last record or ending before it starts, and no two runs of one kind
 * and value overlapping (the writer never makes them; forged ones would show records twice and crowd
 * others out of a limited listing). A fault goes into *out; 0, or -errno when the check could not be
 * done. *ret_present: the table exists (verification of the records looks up runs only then). */
static int check_runs(Journal *j, uint64_t min_seq, uint64_t max_seq, Walk *out, bool *ret_present) {
        sqlite3_stmt *st = NULL;
        int64_t prev_kind = -1, prev_last = 0;
        char prev_value[JOURNAL_COLUMN_MAX + 1] = "";
        int rc;

        *ret_present = false;
        rc = sqlite3_prepare_v2(j->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'", -1,
                                &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
                *ret_present = sqlite3_column_int64(st, 0) > 0;
        sqlite3_finalize(st);
        st = NULL;
        if (rc != SQLITE_ROW)
                return step_err(rc);
        if (!*ret_present) {
                /* a journal of format 2 without its runs: nothing can be found by user or device */
                set_fault(out, JOURNAL_FAULT_INDEX, min_seq ?: 1,
                          "the search runs are missing: records are hidden from queries by user or device");
                return 0;
        }
        rc = sqlite3_prepare_v2(j->db,
                                "SELECT kind, value, first_seq, last_seq, min_ts, max_ts FROM runs "
                                "ORDER BY kind, value, first_seq",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return step_err(rc);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                bool types = sqlite3_column_type(st, 0) == SQLITE_INTEGER && sqlite3_column_type(st, 1) == SQLITE_TEXT;
                for (int i = 2; i <= 5; i++)
                        types = types && sqlite3_column_type(st, i) == SQLITE_INTEGER;
                int64_t kind = sqlite3_column_int64(st, 0), first = sqlite3_column_int64(st, 2),
                        last = sqlite3_column_int64(st, 3);
                const char *value = (const char *) sqlite3_column_text(st, 1);
                uint64_t at = first > 0 && (uint64_t) first > min_seq ? (uint64_t) first : (min_seq ?: 1);
                bool same = types && value && kind == prev_kind && streq(value, prev_value);
                if (!types || !value || last < first || (uint64_t) last > max_seq || (same && first <= prev_last)) {
                        set_fault(out, JOURNAL_FAULT_INDEX, at,
                                  "a search run from record %" PRId64 " to %" PRId64 " was not written by the journal "
                                  "(%s): inserted or modified",
                                  first, last, !types || !value ? "wrong types" : same && first <= prev_last ? "overlaps another" : "out of range");
                        break;
                }
                prev_kind = kind;
                prev_last = last;
                snprintf(prev_value, sizeof(prev_value), "%s", value);
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                sqlite3_finalize(st);
                return step_err(rc);
        }
        sqlite3_finalize(st);
        return 0;
}

static void *walk_thread(void *p) {
        walk(p);
        return NULL;
}

static unsigned cpus(void) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) < 0)
                return 1;
        int n = CPU_COUNT(&set);
        return n > 0 ? (unsigned) n : 1;
}

/* Confirms the anchor with the newest record that carries mnguard.anchor. */
static int check_anchor(Journal *j, uint64_t anchor_seq, const uint8_t anchor_hash[static 32], uint64_t record_seq,
                        uint64_t first_seq, JournalVerifyResult *res) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        sqlite3_stmt *st = NULL;
        json_object *mn, *a, *s, *h;
        char hex[JOURNAL_HASH_HEX_SIZE];
        bool ok = false;
        int rc;

        if (anchor_seq == 0)
                return 0;
        if (record_seq > 0) {
                rc = sqlite3_prepare_v2(j->db, "SELECT body FROM events WHERE seq = ?1", -1, &st, NULL);
                if (rc != SQLITE_OK)
                        return sqlite_to_errno(rc) ?: -EIO;
                sqlite3_bind_int64(st, 1, (sqlite3_int64) record_seq);
                rc = sqlite3_step(st);
                const char *body = rc == SQLITE_ROW ? (const char *) sqlite3_column_text(st, 0) : NULL;
                size_t len = body ? (size_t) sqlite3_column_bytes(st, 0) : 0;
                RecordFields f;
                char want[JOURNAL_HASH_HEX_SIZE + 64];
                hex_encode(anchor_hash, JOURNAL_SHA256_SIZE, hex);
                /* the anchor as the journal writes it, compared as canonical text (no allocation: json-c
                 * before 0.17 drops members when memory runs out, which would look like a missing anchor) */
                int n = snprintf(want, sizeof(want), "{\"hash\":\"%s\",\"sequence\":%" PRIu64 "}", hex, anchor_seq);
                ok = body && canon_scan_record(body, len, &f) >= 0 && f.anchor.p && f.anchor.n == (size_t) n &&
                     memcmp(f.anchor.p, want, f.anchor.n) == 0;
                if (body && !ok)
                        o = json_tokener_parse(body);
                bool nomem = rc == SQLITE_ROW && !body && (sqlite3_errcode(j->db) & 0xff) == SQLITE_NOMEM;
                sqlite3_finalize(st);
                if (nomem)
                        return -ENOMEM;
                if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                        return sqlite_to_errno(rc) ?: -EIO;
                ok = ok || (o && json_object_object_get_ex(o, "mnguard", &mn) && json_object_object_get_ex(mn, "anchor", &a) &&
                            json_object_object_get_ex(a, "sequence", &s) && json_object_object_get_ex(a, "hash", &h) &&
                            json_object_is_type(s, json_type_int) && json_object_get_uint64(s) == anchor_seq &&
                            json_object_is_type(h, json_type_string) && streq(json_object_get_string(h), hex));
        }
        if (!ok) {
                res->intact = false;
                res->fault = JOURNAL_FAULT_ANCHOR;
                res->fault_sequence = first_seq;
                snprintf(res->detail, sizeof(res->detail),
                         "the chain starts after %" PRIu64 " but no journal-pruned or journal-corrupt record says so: "
                         "older records removed",
                         anchor_seq);
        }
        return 0;
}

/* One verification in a read transaction on j->db: with threads, or on j->db alone. */
static int verify_once(Journal *j, bool parallel, JournalVerifyResult *res, unsigned *ret_threads) {
        uint64_t anchor_seq = 0, min_seq = 0, max_seq = 0, last_seq = 0;
        uint8_t anchor_hash[JOURNAL_SHA256_SIZE] = {}, last_hash[JOURNAL_SHA256_SIZE] = {};
        bool have_last;
        Walk w[JOURNAL_VERIFY_THREADS_MAX] = {};
        pthread_t tid[JOURNAL_VERIFY_THREADS_MAX];
        bool started[JOURNAL_VERIFY_THREADS_MAX] = {};
        sqlite3_stmt *st = NULL;
        unsigned n = 1;
        int r, rc;

        *res = (JournalVerifyResult) {};
        if ((r = journal_exec(j, "BEGIN")) < 0)
                return r;
        r = journal_meta_get_u64(j, "anchor_seq", &anchor_seq);
        if (r >= 0)
                r = journal_meta_get_hash(j, "anchor_hash", anchor_hash);
        if (r < 0 && r != -ENOENT)
                goto done;
        /* without the last commit there is no tail check: only a journal that never committed lacks it */
        r = journal_meta_get_u64(j, "last_seq", &last_seq);
        if (r >= 0)
                r = journal_meta_get_hash(j, "last_hash", last_hash);
        if (r < 0 && r != -ENOENT && r != -EBADMSG)
                goto done;
        have_last = r >= 0;
        rc = sqlite3_prepare_v2(j->db, "SELECT ifnull(min(seq), 0), ifnull(max(seq), 0) FROM events", -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                min_seq = (uint64_t) sqlite3_column_int64(st, 0);
                max_seq = (uint64_t) sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW) {
                r = sqlite_to_errno(rc) ?: -EIO;
                goto done;
        }

        if (parallel && max_seq > min_seq) {
                uint64_t span = max_seq - min_seq + 1;
                n = cpus();
                if (n > JOURNAL_VERIFY_THREADS_MAX)
                        n = JOURNAL_VERIFY_THREADS_MAX;
                if (span / VERIFY_RECORDS_PER_THREAD_MIN < n)
                        n = (unsigned) (span / VERIFY_RECORDS_PER_THREAD_MIN);
                if (n < 1)
                        n = 1;
        }
        Walk runs_fault = {};
        bool runs_present = false;
        /* runs end at the last committed record at most (records deleted from the end: the tail check) */
        if (j->format >= 2 &&
            (r = check_runs(j, min_seq, have_last && last_seq > max_seq ? last_seq : max_seq, &runs_fault, &runs_present)) < 0)
                goto done;
        uint64_t span = max_seq >= min_seq ? max_seq - min_seq + 1 : 0;
        for (unsigned i = 0; i < n; i++) {
                w[i] = (Walk) {
                        .uri = n > 1 ? j->uri : NULL,
                        .db = j->db,
                        .from = min_seq + span / n * i,
                        .to = i == n - 1 ? max_seq : min_seq + span / n * (i + 1) - 1,
                        .from_anchor = i == 0,
                        .anchor_seq = anchor_seq,
                        .runs = runs_present,
                };
                memcpy(w[i].anchor_hash, anchor_hash, sizeof(anchor_hash));
                if (i == 0 && min_seq == 0)
                        w[i].from = w[i].to = 0; /* no records */
        }
        *ret_threads = n;
        for (unsigned i = 1; i < n; i++)
                started[i] = pthread_create(&tid[i], NULL, walk_thread, &w[i]) == 0;
        if (max_seq > 0)
                walk(&w[0]);
        for (unsigned i = 1; i < n; i++) {
                if (started[i])
                        pthread_join(tid[i], NULL);
                else
                        walk(&w[i]);
        }

        r = 0;
        uint64_t anchor_record = 0;
        const Walk *first_fault = NULL, *last = NULL;
        for (unsigned i = 0; i < n; i++) {
                if (w[i].error < 0) {
                        r = w[i].error;
                        goto done;
                }
                res->n_records += w[i].n;
                if (w[i].fault != JOURNAL_FAULT_NONE && (!first_fault || w[i].fault_seq < first_fault->fault_seq))
                        first_fault = &w[i];
                if (w[i].n > 0) {
                        if (res->first_sequence == 0)
                                res->first_sequence = w[i].first_seq;
                        last = &w[i];
                }
                if (w[i].anchor_record_seq > anchor_record)
                        anchor_record = w[i].anchor_record_seq;
        }
        if (runs_fault.fault != JOURNAL_FAULT_NONE && (!first_fault || runs_fault.fault_seq < first_fault->fault_seq))
                first_fault = &runs_fault;
        res->intact = true;
        res->last_sequence = last ? last->last_seq : anchor_seq;
        hex_encode(last ? last->last_hash : anchor_hash, JOURNAL_SHA256_SIZE, res->last_hash);
        if (first_fault) {
                res->intact = false;
                res->fault = first_fault->fault;
                res->fault_sequence = first_fault->fault_seq;
                memcpy(res->detail, first_fault->detail, sizeof(res->detail));
                goto done;
        }
        uint64_t walked = last ? last->last_seq : anchor_seq;
        const uint8_t *walked_hash = last ? last->last_hash : anchor_hash;
        if (have_last && (walked != last_seq || memcmp(walked_hash, last_hash, JOURNAL_SHA256_SIZE) != 0)) {
                res->intact = false;
                res->fault = JOURNAL_FAULT_TAIL;
                if (walked < last_seq) {
                        res->fault_sequence = walked + 1;
                        snprintf(res->detail, sizeof(res->detail),
                                 "records %" PRIu64 " to %" PRIu64 " (the last committed) are missing: deleted",
                                 walked + 1, last_seq);
                } else if (walked > last_seq) {
                        res->fault_sequence = last_seq + 1;
                        snprintf(res->detail, sizeof(res->detail),
                                 "records after %" PRIu64 " (the last committed) were not written by the journal: inserted",
                                 last_seq);
                } else {
                        res->fault_sequence = last_seq;
                        snprintf(res->detail, sizeof(res->detail),
                                 "record %" PRIu64 " is not the one the journal committed last: replaced", last_seq);
                }
                goto done;
        }
        r = check_anchor(j, anchor_seq, anchor_hash, anchor_record, res->first_sequence ?: anchor_seq + 1, res);
done:
        (void) journal_exec(j, "COMMIT");
        return r;
}

int journal_verify(Journal *j, JournalVerifyResult *ret) {
        JournalVerifyResult res;
        int r;

        if (!j || !ret)
                return -EINVAL;
        if (!j->readonly)
                (void) journal_flush(j);
        unsigned threads = 1;
        r = verify_once(j, true, &res, &threads);
        /* Threads read in separate transactions: a prune between them could look like a fault. Confirm a
         * fault with one walk in one transaction. */
        if (r >= 0 && !res.intact && threads > 1)
                r = verify_once(j, false, &res, &threads);
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}
