/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Appending: building chained records, group commit, and what happens while writes fail. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal-internal.h"
#include "strutil.h"

/* A column value from a string span; too long for the index (or not decodable) leaves it NULL. */
static char *column(Span s, char *out, size_t outmax) {
        if (!s.p)
                return NULL;
        if (!memchr(s.p, '\\', s.n)) {
                if (s.n >= outmax)
                        return NULL;
                memcpy(out, s.p, s.n);
                out[s.n] = 0;
                return out;
        }
        return canon_unescape(s, out, outmax, NULL) >= 0 ? out : NULL;
}

static bool hex4_ok(const char *s) {
        if (!s || strlen(s) != 4)
                return false;
        for (int i = 0; i < 4; i++) {
                char c = s[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                        return false;
        }
        return true;
}

int columns_from_body(const RecordFields *f, Columns *c) {
        char ts[JOURNAL_TIMESTAMP_MAX * 2];
        char vendor[8], product[8];
        const size_t m = JOURNAL_COLUMN_MAX + 1;
        size_t n;

        if (!f->timestamp.p || canon_unescape(f->timestamp, ts, sizeof(ts), &n) < 0 ||
            journal_timestamp_parse(ts, n, &c->ts) < 0 || c->ts > INT64_MAX)
                return -EINVAL;
        c->action = column(f->action, c->buf, m);
        if (isempty(c->action))
                return -EINVAL;
        c->user = column(f->user, c->buf + m, m);
        c->serial = column(f->serial, c->buf + 2 * m, m);
        c->vidpid[0] = 0;
        const char *v = column(f->vendor, vendor, sizeof(vendor)), *p = column(f->product, product, sizeof(product));
        if (hex4_ok(v) && hex4_ok(p)) {
                for (int i = 0; i < 4; i++) {
                        c->vidpid[i] = (char) (v[i] >= 'A' && v[i] <= 'F' ? v[i] - 'A' + 'a' : v[i]);
                        c->vidpid[5 + i] = (char) (p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 'a' : p[i]);
                }
                c->vidpid[4] = ':';
                c->vidpid[9] = 0;
        }
        return 0;
}

int journal_json_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

json_object *journal_event_new(Journal *j, const char *action, const char *outcome, const char *reason) {
        _cleanup_(json_object_putp) json_object *ev = json_object_new_object();
        json_object *e = json_object_new_object(), *h = NULL;
        char ts[JOURNAL_TIMESTAMP_MAX];

        if (!ev || !e) {
                json_object_put(e);
                return NULL;
        }
        /* json_object_object_add() fails when memory runs out: a record missing a member must not be
         * written, so each one is checked */
        if (journal_json_add(ev, "event", e) < 0 ||
            journal_json_add(ev, "@timestamp", json_object_new_string(journal_timestamp_format(now_usec(), ts))) < 0 ||
            journal_json_add(e, "action", json_object_new_string(action)) < 0 ||
            journal_json_add(e, "outcome", json_object_new_string(outcome)) < 0 ||
            (reason && journal_json_add(e, "reason", json_object_new_string(reason)) < 0))
                return NULL;
        if (j->host_id || j->host_name) {
                if (journal_json_add(ev, "host", h = json_object_new_object()) < 0 ||
                    (j->host_id && journal_json_add(h, "id", json_object_new_string(j->host_id)) < 0) ||
                    (j->host_name && journal_json_add(h, "name", json_object_new_string(j->host_name)) < 0))
                        return NULL;
        }
        return TAKE_PTR(ev);
}

/* ---- record blocks ---- */

#define RECORD_BLOCK_SIZE (64u * 1024u)

/* Under AddressSanitizer a block's free space and its freed records are poisoned, as malloc()'s redzones
 * and free() would do: an overflow past a record or a use after free still shows. A block whose records
 * are all freed is not reused there (malloc()'s quarantine keeps a freed block poisoned a while). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define RECORD_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define RECORD_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define RECORD_REUSE          false
#else
#define RECORD_POISON(p, n)   ((void) (p), (void) (n))
#define RECORD_UNPOISON(p, n) ((void) (p), (void) (n))
#define RECORD_REUSE          true
#endif

struct RecordBlock {
        Journal *j;
        size_t size, used, live;
        max_align_t data[];
};

static size_t record_round(size_t size) {
        return (size + _Alignof(max_align_t) - 1) & ~(size_t) (_Alignof(max_align_t) - 1);
}

static void block_release(RecordBlock *b) {
        RECORD_UNPOISON(b, b->size); /* as malloc() gave it */
        free(b);
}

Record *record_alloc(Journal *j, size_t size) {
        RecordBlock *b = j->rblock;
        size = record_round(size);
        if (RECORD_REUSE && b && b->live == 0)
                b->used = 0; /* all freed: start over */
        if (!b || b->used + size > b->size - sizeof(RecordBlock)) {
                size_t bs = size + sizeof(RecordBlock) > RECORD_BLOCK_SIZE ? size + sizeof(RecordBlock) : RECORD_BLOCK_SIZE;
                void *p = malloc(bs);
                if (!p)
                        return NULL;
                if (b && b->live == 0)
                        block_release(b);
                b = p;
                *b = (RecordBlock) { .j = j, .size = bs };
                RECORD_POISON(b->data, bs - sizeof(RecordBlock));
                j->rblock = b;
        }
        Record *rec = (Record *) ((char *) b->data + b->used);
        RECORD_UNPOISON(rec, size);
        b->used += size;
        b->live++;
        rec->block = b;
        return rec;
}

void record_free(Record *rec) {
        if (!rec)
                return;
        RecordBlock *b = rec->block;
        RECORD_POISON(rec, record_round(rec->size));
        if (--b->live > 0)
                return;
        if (b->j->rblock != b)
                block_release(b);
        else if (RECORD_REUSE)
                b->used = 0; /* kept for the next records */
}

void record_blocks_done(Journal *j) {
        if (j->rblock && j->rblock->live == 0) {
                block_release(j->rblock);
                j->rblock = NULL;
        }
}

int journal_build_record(Journal *j, json_object *event, Record **ret) {
        json_object *ev, *action, *mn, *x;
        char prev_hex[JOURNAL_HASH_HEX_SIZE], hash_hex[JOURNAL_HASH_HEX_SIZE], ts[JOURNAL_TIMESTAMP_MAX];
        RecordFields f;
        Columns c;
        uint8_t hash[JOURNAL_SHA256_SIZE];
        int r;

        if (!json_object_is_type(event, json_type_object))
                return -EINVAL;
        if (!json_object_object_get_ex(event, "event", &ev) || !json_object_is_type(ev, json_type_object) ||
            !json_object_object_get_ex(ev, "action", &action) || !json_object_is_type(action, json_type_string) ||
            json_object_get_string_len(action) == 0)
                return -EINVAL;
        if (!json_object_object_get_ex(event, "mnguard", &mn)) {
                if (!(mn = json_object_new_object()) || json_object_object_add(event, "mnguard", mn) < 0) {
                        json_object_put(mn);
                        return -ENOMEM;
                }
        } else if (!json_object_is_type(mn, json_type_object))
                return -EINVAL;
        json_object_object_foreach(mn, key, val) {
                (void) val;
                if (!canon_mnguard_key_ok(key))
                        return -EINVAL;
        }
        if (!json_object_object_get_ex(event, "@timestamp", &x) &&
            journal_json_add(event, "@timestamp", json_object_new_string(journal_timestamp_format(now_usec(), ts))) < 0)
                return -ENOMEM;
        if (j->head_seq >= INT64_MAX)
                return -EOVERFLOW;

        uint64_t seq = j->head_seq + 1;
        hex_encode(j->head_hash, JOURNAL_SHA256_SIZE, prev_hex);
        json_object_object_del(mn, "hash");
        if (journal_json_add(ev, "sequence", json_object_new_int64((int64_t) seq)) < 0 ||
            journal_json_add(mn, "prev_hash", json_object_new_string_len(prev_hex, 64)) < 0)
                return -ENOMEM;

        buf_reset(&j->scratch);
        if ((r = canon_write(&j->scratch, event)) < 0)
                return r;
        if ((r = canon_scan_record(j->scratch.data, j->scratch.len, &f)) < 0 || (r = columns_from_body(&f, &c)) < 0)
                return r == -EBADMSG ? -EINVAL : r;
        record_hash(prev_hex, j->scratch.data, j->scratch.len, hash);

        size_t la = strlen(c.action), lu = c.user ? strlen(c.user) + 1 : 0, ls = c.serial ? strlen(c.serial) + 1 : 0;
        size_t size = sizeof(Record) + j->scratch.len + 1 + la + 1 + lu + ls;
        Record *rec = record_alloc(j, size);
        if (!rec)
                return -ENOMEM;
        *rec = (Record) { .block = rec->block, .seq = seq, .ts = c.ts, .body_len = j->scratch.len, .size = size };
        memcpy(rec->hash, hash, JOURNAL_SHA256_SIZE);
        memcpy(rec->vidpid, c.vidpid, sizeof(rec->vidpid));
        char *p = rec->data;
        memcpy(p, j->scratch.data, j->scratch.len);
        p[j->scratch.len] = 0;
        p += j->scratch.len + 1;
        memcpy(p, c.action, la + 1);
        rec->action = p;
        p += la + 1;
        if (c.user) {
                memcpy(p, c.user, lu);
                rec->user = p;
                p += lu;
        }
        if (c.serial) {
                memcpy(p, c.serial, ls);
                rec->serial = p;
        }

        hex_encode(hash, JOURNAL_SHA256_SIZE, hash_hex);
        if (journal_json_add(mn, "hash", json_object_new_string_len(hash_hex, 64)) < 0) {
                record_free(rec);
                return -ENOMEM;
        }
        j->head_seq = seq;
        memcpy(j->head_hash, hash, JOURNAL_SHA256_SIZE);
        *ret = rec;
        return 0;
}

static int bind_text_or_null(sqlite3_stmt *st, int i, const char *s) {
        return s && *s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

int db_insert_record(sqlite3 *db, sqlite3_stmt *st, const Record *rec) {
        int rc;

        sqlite3_bind_int64(st, 1, (sqlite3_int64) rec->seq);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) rec->ts);
        sqlite3_bind_text(st, 3, rec->action, -1, SQLITE_STATIC);
        bind_text_or_null(st, 4, rec->user);
        bind_text_or_null(st, 5, rec->serial);
        bind_text_or_null(st, 6, rec->vidpid);
        sqlite3_bind_blob(st, 7, rec->hash, JOURNAL_SHA256_SIZE, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, rec->data, (int) rec->body_len, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
                return db_errno(db, rc);
        if (sqlite3_changes(db) > 0)
                return 1;

        /* The sequence is taken: by this very record when an earlier commit failed after all of it was
         * written (a failed fsync, say). Anything else must not be overwritten. */
        sqlite3_stmt *q = NULL;
        int r = -EEXIST;
        if (sqlite3_prepare_v2(db, "SELECT hash FROM events WHERE seq = ?1", -1, &q, NULL) == SQLITE_OK) {
                sqlite3_bind_int64(q, 1, (sqlite3_int64) rec->seq);
                if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 0) == JOURNAL_SHA256_SIZE &&
                    memcmp(sqlite3_column_blob(q, 0), rec->hash, JOURNAL_SHA256_SIZE) == 0)
                        r = 0;
        }
        sqlite3_finalize(q);
        return r;
}

int journal_insert_records(Journal *j, Record *const *recs, size_t n) {
        /* as the writer does: the runs read back before the records are there (after, a record would be
         * the newest of its values, in no run yet, and each would start its own), written after them */
        int r = runs_load(&j->runs);
        for (size_t i = 0; i < n && r >= 0; i++)
                if ((r = db_insert_record(j->db, j->insert, recs[i])) > 0)
                        r = runs_add_record(&j->runs, recs[i]);
        return r < 0 ? r : runs_flush(&j->runs);
}

static int meta_put(sqlite3_stmt *st, const char *key, const char *value) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : db_errno(sqlite3_db_handle(st), rc);
}

int db_store_last(sqlite3_stmt *meta, uint64_t seq, const uint8_t hash[static 32]) {
        char num[24], hex[JOURNAL_HASH_HEX_SIZE];
        int r;
        snprintf(num, sizeof(num), "%" PRIu64, seq);
        hex_encode(hash, JOURNAL_SHA256_SIZE, hex);
        if ((r = meta_put(meta, "last_seq", num)) < 0)
                return r;
        return meta_put(meta, "last_hash", hex);
}

int journal_store_last(Journal *j, uint64_t seq, const uint8_t hash[static 32]) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(j->db, JOURNAL_META_PUT_SQL, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return db_errno(j->db, rc);
        int r = db_store_last(st, seq, hash);
        sqlite3_finalize(st);
        return r;
}

static int note_failure(Journal *j, int r) {
        j->failing = true;
        j->last_error = r;
        j->last_failure_mono = now_mono_usec();
        j->n_failures++;
        return r;
}

/* After writing works again: one journal-gap record for everything that could not be kept. */
static int record_gap(Journal *j) {
        _cleanup_(json_object_putp) json_object *ev = NULL;
        _cleanup_free_ char *reason = NULL;
        json_object *mn, *gap;
        char t1[JOURNAL_TIMESTAMP_MAX], t2[JOURNAL_TIMESTAMP_MAX];
        Record *rec = NULL;
        const char *err = j->last_error < 0 ? strerrorname_np(-j->last_error) : NULL;
        int r;

        if (asprintf(&reason, "%" PRIu64 " events could not be written to the journal (%s)", j->lost,
                     err ? err : "write error") < 0)
                return -ENOMEM;
        ev = journal_event_new(j, "journal-gap", "failure", reason);
        if (!ev || journal_json_add(ev, "mnguard", mn = json_object_new_object()) < 0 ||
            journal_json_add(mn, "gap", gap = json_object_new_object()) < 0 ||
            journal_json_add(gap, "lost", json_object_new_uint64(j->lost)) < 0 ||
            journal_json_add(gap, "first_lost", json_object_new_string(journal_timestamp_format(j->lost_first_usec, t1))) < 0 ||
            journal_json_add(gap, "last_lost", json_object_new_string(journal_timestamp_format(j->lost_last_usec, t2))) < 0 ||
            (err && journal_json_add(gap, "error", json_object_new_string(err)) < 0))
                return -ENOMEM;
        if ((r = journal_build_record(j, ev, &rec)) < 0)
                return r;
        if ((r = journal_queue_push(j, rec)) < 0) {
                record_free(rec);
                return r;
        }
        j->lost = 0;
        return 0;
}

int journal_flush(Journal *j) {
        if (!j)
                return -EINVAL;
        if (j->readonly)
                return -EROFS;
        int e = journal_queue_new_error(j);
        if (e < 0)
                (void) note_failure(j, e);
        if (journal_queue_uncommitted(j) == 0 && j->lost == 0) {
                journal_queue_reap(j);
                return 0;
        }
        if (j->failing && now_mono_usec() < j->last_failure_mono + j->retry_usec)
                return j->last_error;
        return journal_flush_now(j);
}

int journal_flush_now(Journal *j) {
        int r;

        if ((r = journal_queue_commit(j)) < 0) {
                (void) journal_queue_new_error(j); /* seen here */
                return note_failure(j, r);
        }
        if (j->lost > 0) {
                if ((r = record_gap(j)) < 0)
                        return r;
                if ((r = journal_queue_commit(j)) < 0) {
                        (void) journal_queue_new_error(j);
                        return note_failure(j, r);
                }
        }
        j->failing = false;
        j->last_error = 0;
        return 0;
}

static bool backlog_full(Journal *j) {
        return journal_queue_uncommitted(j) >= j->backlog_max || j->pending_bytes >= JOURNAL_BACKLOG_MAX_BYTES;
}

int journal_append(Journal *j, json_object *event, uint64_t *ret_sequence) {
        Record *rec = NULL;
        int r;

        if (!j || !event)
                return -EINVAL;
        if (j->readonly)
                return -EROFS;
        /* mnguard.anchor is what verification starts from: only the journal's own records carry it */
        json_object *mn;
        if (json_object_object_get_ex(event, "mnguard", &mn) && json_object_is_type(mn, json_type_object) &&
            json_object_object_get_ex(mn, "anchor", NULL))
                return -EINVAL;
        journal_queue_reap(j);
        r = journal_queue_new_error(j);
        if (r < 0)
                (void) note_failure(j, r);
        if (backlog_full(j)) {
                if (!j->failing)
                        (void) journal_flush(j);
                if (backlog_full(j)) {
                        uint64_t t = now_usec();
                        if (j->lost == 0)
                                j->lost_first_usec = t;
                        j->lost_last_usec = t;
                        j->lost++;
                        j->lost_total++;
                        return -ENOBUFS;
                }
        }
        uint64_t head_seq = j->head_seq;
        uint8_t head_hash[JOURNAL_SHA256_SIZE];
        memcpy(head_hash, j->head_hash, sizeof(head_hash));
        if ((r = journal_build_record(j, event, &rec)) < 0)
                return r;
        uint64_t seq = rec->seq;
        if ((r = journal_queue_push(j, rec)) < 0) {
                record_free(rec);
                j->head_seq = head_seq;
                memcpy(j->head_hash, head_hash, sizeof(head_hash));
                return r;
        }
        if (ret_sequence)
                *ret_sequence = seq;
        /* Group commit: at the bound, the writer commits while appends go on (journal_flush() waits). */
        uint64_t threshold = j->backlog_max < JOURNAL_FLUSH_MAX_EVENTS ? j->backlog_max : JOURNAL_FLUSH_MAX_EVENTS;
        if (!j->failing && journal_queue_uncommitted(j) >= threshold)
                journal_queue_request(j);
        return 0;
}

uint64_t journal_durable_sequence(const Journal *j) {
        uint64_t seq;
        uint8_t hash[JOURNAL_SHA256_SIZE];
        if (!j)
                return 0;
        if (j->readonly)
                return j->durable_seq;
        journal_durable((Journal *) j, &seq, hash);
        return seq;
}

uint64_t journal_flush_deadline(const Journal *j) {
        if (!j || j->readonly)
                return UINT64_MAX;
        Journal *m = (Journal *) j;
        if (journal_queue_uncommitted(m) == 0 && j->lost == 0)
                return UINT64_MAX;
        if (j->failing)
                return j->last_failure_mono + j->retry_usec;
        return j->first_pending_mono + JOURNAL_FLUSH_MAX_DELAY_USEC;
}
