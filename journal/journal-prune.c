/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Retention: removes the oldest records by age and by size, never past the collector's ack, and keeps
 * the rest verifiable: the anchor (meta anchor_seq/anchor_hash) moves in the same transaction that appends
 * a journal-pruned record confirming it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal-internal.h"

/* Size pruning goes down to this share (percent) of the limit, so that it does not run for every few
 * records. */
#define PRUNE_SIZE_TARGET_PERCENT 90u
/* The size estimate (bytes per record) is an average: a call takes up to this many rounds. */
#define PRUNE_ROUNDS_MAX 4

static int step_u64(sqlite3 *db, const char *sql, int n_args, const int64_t *args, uint64_t *ret, bool *ret_found) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sqlite_to_errno(rc) ?: -EIO;
        for (int i = 0; i < n_args; i++)
                sqlite3_bind_int64(st, i + 1, args[i]);
        rc = sqlite3_step(st);
        if (ret_found)
                *ret_found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
        *ret = rc == SQLITE_ROW ? (uint64_t) sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : (sqlite_to_errno(rc) ?: -EIO);
}

/* The last sequence that the limits want gone (0: none). */
static int db_used_bytes(Journal *j, uint64_t *ret) {
        uint64_t pages, free_pages, page_size;
        int r;
        if ((r = step_u64(j->db, "PRAGMA page_count", 0, NULL, &pages, NULL)) < 0 ||
            (r = step_u64(j->db, "PRAGMA freelist_count", 0, NULL, &free_pages, NULL)) < 0 ||
            (r = step_u64(j->db, "PRAGMA page_size", 0, NULL, &page_size, NULL)) < 0)
                return r;
        *ret = (pages - (free_pages < pages ? free_pages : pages)) * page_size;
        return 0;
}

static int prune_target(Journal *j, const JournalRetention *rt, uint64_t now, uint64_t first, uint64_t budget,
                        uint64_t *ret) {
        uint64_t target = 0, v;
        bool found;
        int r;

        if (rt->max_age_usec > 0 && now > rt->max_age_usec) {
                /* Walk from the oldest record in sequence order to the first one young enough: a prefix of
                 * the chain, even if the clock went back somewhere. Bounded by the batch. */
                int64_t args[2] = { (int64_t) (now - rt->max_age_usec), (int64_t) (first + budget) };
                r = step_u64(j->db, "SELECT seq FROM events NOT INDEXED WHERE ts >= ?1 AND seq <= ?2 ORDER BY seq LIMIT 1",
                             2, args, &v, &found);
                if (r < 0)
                        return r;
                target = found ? v - 1 : first + budget;
        }
        if (rt->max_size_bytes > 0) {
                uint64_t used;
                if ((r = db_used_bytes(j, &used)) < 0)
                        return r;
                uint64_t goal = rt->max_size_bytes / 100 * PRUNE_SIZE_TARGET_PERCENT;
                uint64_t durable = journal_durable_sequence(j);
                if (used > rt->max_size_bytes && durable >= first) {
                        uint64_t records = durable - first + 1;
                        uint64_t per = used / records ?: 1;
                        uint64_t drop = (used - goal + per - 1) / per;
                        if (first + drop - 1 > target)
                                target = first + drop - 1;
                }
        }
        *ret = target;
        return 0;
}

static int add_u64(json_object *o, const char *key, uint64_t v) {
        json_object *x = json_object_new_uint64(v);
        if (!x || json_object_object_add(o, key, x) < 0) {
                json_object_put(x);
                return -ENOMEM;
        }
        return 0;
}

static json_object *pruned_event(Journal *j, uint64_t first, uint64_t last, const uint8_t hash[static 32], const char *why) {
        _cleanup_(json_object_putp) json_object *ev = NULL;
        _cleanup_free_ char *reason = NULL;
        char hex[JOURNAL_HASH_HEX_SIZE];
        json_object *mn = NULL, *anchor = NULL, *pruned = NULL;

        if (asprintf(&reason, "retention (%s): records %" PRIu64 " to %" PRIu64 " removed", why, first, last) < 0)
                return NULL;
        ev = journal_event_new(j, "journal-pruned", "success", reason);
        if (!ev || !(mn = json_object_new_object()) || json_object_object_add(ev, "mnguard", mn) < 0) {
                json_object_put(mn);
                return NULL;
        }
        if (!(anchor = json_object_new_object()) || json_object_object_add(mn, "anchor", anchor) < 0) {
                json_object_put(anchor);
                return NULL;
        }
        if (!(pruned = json_object_new_object()) || json_object_object_add(mn, "pruned", pruned) < 0) {
                json_object_put(pruned);
                return NULL;
        }
        hex_encode(hash, JOURNAL_SHA256_SIZE, hex);
        json_object *h = json_object_new_string(hex);
        if (!h || json_object_object_add(anchor, "hash", h) < 0) {
                json_object_put(h);
                return NULL;
        }
        if (add_u64(anchor, "sequence", last) < 0 || add_u64(pruned, "first_sequence", first) < 0 ||
            add_u64(pruned, "last_sequence", last) < 0 || add_u64(pruned, "count", last - first + 1) < 0)
                return NULL;
        return TAKE_PTR(ev);
}

/* One transaction: removes the oldest records up to what the limits, the ack and budget allow. */
/* Runs sql (a DELETE with ?1 = target); the number of rows deleted into *ret_n. */
static int delete_upto(Journal *j, const char *sql, uint64_t target, uint64_t *ret_n) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(j->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_int64(st, 1, (sqlite3_int64) target);
                rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return sqlite_to_errno(rc) ?: -EIO;
        if (ret_n)
                *ret_n = (uint64_t) sqlite3_changes64(j->db);
        return 0;
}

static int prune_round(Journal *j, const JournalRetention *rt, uint64_t now, uint64_t budget) {
        _cleanup_(json_object_putp) json_object *ev = NULL;
        _cleanup_(record_freep) Record *rec = NULL;
        uint64_t first, target, acked, n;
        uint8_t hash[JOURNAL_SHA256_SIZE];
        sqlite3_stmt *st = NULL;
        bool found;
        int r, rc;

        if ((r = step_u64(j->db, "SELECT min(seq) FROM events", 0, NULL, &first, &found)) < 0)
                return r;
        if (!found)
                return 0;
        if ((r = prune_target(j, rt, now, first, budget, &target)) < 0)
                return r;
        if (!rt->ignore_ack) {
                if ((r = journal_get_acked(j, &acked)) < 0)
                        return r;
                if (target > acked)
                        target = acked;
        }
        if (target > journal_durable_sequence(j))
                target = journal_durable_sequence(j);
        if (target >= first + budget)
                target = first + budget - 1;
        if (target < first)
                return 0;

        rc = sqlite3_prepare_v2(j->db, "SELECT hash FROM events WHERE seq = ?1", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sqlite_to_errno(rc) ?: -EIO;
        sqlite3_bind_int64(st, 1, (sqlite3_int64) target);
        rc = sqlite3_step(st);
        found = rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == JOURNAL_SHA256_SIZE;
        if (found)
                memcpy(hash, sqlite3_column_blob(st, 0), JOURNAL_SHA256_SIZE);
        sqlite3_finalize(st);
        if (!found)
                return -EBADMSG; /* a hole in the chain: leave everything for verification to show */

        const char *why = rt->max_age_usec > 0 && rt->max_size_bytes > 0 ? "age and size"
                          : rt->max_age_usec > 0                         ? "age"
                                                                          : "size";
        if (!(ev = pruned_event(j, first, target, hash, why)))
                return -ENOMEM;
        /* The record goes after what is pending, which is committed in the same transaction: a journal
         * that is full (size cap) can make room for its backlog this way. */
        uint64_t head_seq = j->head_seq;
        uint8_t head_hash[JOURNAL_SHA256_SIZE];
        memcpy(head_hash, j->head_hash, sizeof(head_hash));
        if ((r = journal_build_record(j, ev, &rec)) < 0)
                return r;
        if ((r = journal_exec(j, "BEGIN IMMEDIATE")) < 0)
                goto fail;
        /* runs that end among the pruned records go with them; one that reaches past stays, its start
         * pointing at records no longer there */
        if ((r = delete_upto(j, "DELETE FROM events WHERE seq <= ?1", target, &n)) < 0 ||
            (r = delete_upto(j, "DELETE FROM runs WHERE last_seq <= ?1", target, NULL)) < 0)
                goto fail;
        if ((r = journal_meta_put_u64(j, "anchor_seq", target)) < 0 || (r = journal_meta_put_hash(j, "anchor_hash", hash)) < 0)
                goto fail;
        Record **pending;
        size_t n_pending;
        journal_queue_uncommitted_records(j, &pending, &n_pending);
        if ((r = journal_insert_records(j, pending, n_pending)) < 0 || (r = journal_insert_records(j, &rec, 1)) < 0 ||
            (r = journal_store_last(j, rec->seq, rec->hash)) < 0 ||
            (r = journal_exec(j, "COMMIT")) < 0)
                goto fail;
        journal_queue_all_committed(j, rec->seq, rec->hash);
        /* Give the freed pages back to the file system (auto_vacuum = INCREMENTAL). */
        (void) journal_exec(j, "PRAGMA incremental_vacuum");
        return (int) n;
fail:
        (void) journal_rollback(j);
        /* the journal-pruned record was not appended after all; the pending ones stay pending */
        j->head_seq = head_seq;
        memcpy(j->head_hash, head_hash, JOURNAL_SHA256_SIZE);
        return r;
}

int journal_prune(Journal *j, const JournalRetention *rt, uint64_t now) {
        uint64_t total = 0, used;
        int r;

        if (!j || !rt)
                return -EINVAL;
        if (j->readonly)
                return -EROFS;
        /* Commit what is pending if writing works; either way the writer then holds no transaction and no
         * records, and what stays pending goes into the pruning transaction (a full journal makes room
         * that way). */
        (void) journal_flush(j);
        journal_queue_settle(j);
        for (int round = 0; round < PRUNE_ROUNDS_MAX && total < JOURNAL_PRUNE_BATCH_MAX; round++) {
                r = prune_round(j, rt, now, JOURNAL_PRUNE_BATCH_MAX - total);
                if (r < 0)
                        return total > 0 ? (int) total : r;
                if (r == 0)
                        break;
                total += (uint64_t) r;
                /* age limits are exact; only the size estimate may need another round */
                if (rt->max_size_bytes == 0 || db_used_bytes(j, &used) < 0 || used <= rt->max_size_bytes)
                        break;
        }
        if (total > 0)
                /* writing works: record a gap, if events were lost meanwhile */
                (void) journal_flush_now(j);
        return (int) total;
}
