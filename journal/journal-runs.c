/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs: the search index for user.name, device.serial and vendor:product (format 2).
 *
 * Format 1 kept an SQLite index per column: three index entries per record, ~5 of the writer's ~8 µs per
 * record, and the writer thread was what bounded appends (~90,000/s; without those indexes ~138,000/s,
 * measured with tests/bench/bench-journal.c). But records come in runs: a user copying files to a stick
 * writes thousands of file-written records with the same user and device one after the other. A run is one
 * row (kind, value, the sequences it spans, the time range of its records), extended while the value
 * repeats, so a burst costs a row per commit instead of an index entry per record.
 *
 * Every record whose column of a kind is set lies in a run of that kind and value whose sequence and time
 * ranges contain it (journal_verify() checks this: a deleted or narrowed run would hide records from
 * queries). A run may span records with another value or none; queries filter on the record's column.
 * A run is extended only across RUN_GAP_MAX sequences without a value of its kind, so a query never walks
 * far through records of others, and over RUN_SPAN_MAX_USEC of time at most, so a search for a day of a
 * value that never stops recurring reads about a day of it. Runs of one kind never overlap: a new one starts after the last one ends
 * (the writer inserts sequences in order, and a record already stored adds nothing).
 *
 * The state is read back from the database at the start of each transaction (runs_load()): the
 * database is the truth, whichever connection (writer, prune, salvage) wrote last, and a rolled-back
 * transaction leaves nothing behind to undo. */
#include <errno.h>
#include <string.h>

#include "journal-internal.h"

/* Sequences a run may stretch across records without a value of its kind. */
#define RUN_GAP_MAX 256
/* The longest time a run may span: a value that recurs all the time (a service user, a common
 * vendor:product) would otherwise make one run of the whole journal, and a search for one day of it
 * would read every record. */
#define RUN_SPAN_MAX_USEC (24ULL * 3600ULL * 1000000ULL)

static const char *const load_sql =
        "SELECT seq, ts, user_name, dev_serial, dev_vidpid FROM events "
        "WHERE seq > (SELECT max(seq) FROM events) - " STRINGIFY(RUN_GAP_MAX) " ORDER BY seq DESC";
/* The run of a kind and value that holds the record (seq ?4, time ?3). */
static const char *const find_sql = "SELECT first_seq, last_seq, min_ts, max_ts FROM runs "
                                    "WHERE kind = ?1 AND value = ?2 AND max_ts >= ?3 AND first_seq <= ?4 AND last_seq >= ?4 "
                                    "AND min_ts <= ?3 LIMIT 1";
static const char *const insert_sql = "INSERT OR REPLACE INTO runs (kind, value, max_ts, first_seq, last_seq, min_ts) "
                                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char *const update_sql = "UPDATE runs SET max_ts = ?3, last_seq = ?5, min_ts = ?6 "
                                      "WHERE kind = ?1 AND value = ?2 AND max_ts = ?7 AND first_seq = ?4";

void runs_init(Runs *rs, sqlite3 *db) {
        *rs = (Runs) { .db = db };
}

void runs_done(Runs *rs) {
        sqlite3_finalize(rs->load);
        sqlite3_finalize(rs->find);
        sqlite3_finalize(rs->insert);
        sqlite3_finalize(rs->update);
        *rs = (Runs) {};
}

/* Prepares sql into *st on db, unless done before. */
static int prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql) {
        if (*st)
                return 0;
        int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
        return rc == SQLITE_OK ? 0 : db_errno(db, rc);
}

static int step_done(Runs *rs, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return rc == SQLITE_DONE ? 0 : db_errno(rs->db, rc);
}

int runs_find(sqlite3 *db, sqlite3_stmt *find, RunKind kind, const char *value, uint64_t seq, uint64_t ts, Run *ret) {
        int rc;

        sqlite3_bind_int(find, 1, (int) kind);
        sqlite3_bind_text(find, 2, value, -1, SQLITE_STATIC);
        sqlite3_bind_int64(find, 3, (sqlite3_int64) ts);
        sqlite3_bind_int64(find, 4, (sqlite3_int64) seq);
        rc = sqlite3_step(find);
        if (rc == SQLITE_ROW && ret) {
                size_t n = strlen(value);
                *ret = (Run) {
                        .live = true,
                        .stored = true,
                        .first_seq = (uint64_t) sqlite3_column_int64(find, 0),
                        .last_seq = (uint64_t) sqlite3_column_int64(find, 1),
                        .min_ts = (uint64_t) sqlite3_column_int64(find, 2),
                        .max_ts = (uint64_t) sqlite3_column_int64(find, 3),
                };
                ret->stored_max_ts = ret->max_ts;
                if (n > JOURNAL_COLUMN_MAX)
                        n = JOURNAL_COLUMN_MAX;
                memcpy(ret->value, value, n);
                ret->value[n] = 0;
        }
        sqlite3_reset(find);
        sqlite3_clear_bindings(find);
        if (rc == SQLITE_ROW)
                return 1;
        return rc == SQLITE_DONE ? 0 : db_errno(db, rc);
}

int runs_prepare_find(sqlite3 *db, sqlite3_stmt **ret) {
        *ret = NULL;
        return prepare(db, ret, find_sql);
}

int runs_load(Runs *rs) {
        sqlite3_stmt *st;
        uint64_t seqs[_RUN_KIND_MAX] = {}, tss[_RUN_KIND_MAX] = {};
        char *values[_RUN_KIND_MAX] = {};
        unsigned found = 0;
        int rc, r;

        for (unsigned k = 0; k < _RUN_KIND_MAX; k++)
                rs->run[k] = (Run) {};
        if ((r = prepare(rs->db, &rs->load, load_sql)) < 0 || (r = prepare(rs->db, &rs->find, find_sql)) < 0)
                return r;
        st = rs->load;
        /* the newest value of each kind, among the last RUN_GAP_MAX records (an older one cannot be
         * extended anyway) */
        while (found < _RUN_KIND_MAX && (rc = sqlite3_step(st)) == SQLITE_ROW)
                for (unsigned k = 0; k < _RUN_KIND_MAX; k++) {
                        const char *v = (const char *) sqlite3_column_text(st, 2 + (int) k);
                        if (values[k] || !v || !*v)
                                continue;
                        if (!(values[k] = strdup(v))) {
                                rc = SQLITE_NOMEM;
                                goto done;
                        }
                        seqs[k] = (uint64_t) sqlite3_column_int64(st, 0);
                        tss[k] = (uint64_t) sqlite3_column_int64(st, 1);
                        found++;
                }
done:
        sqlite3_reset(st);
        r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? -ENOMEM : db_errno(rs->db, rc);
        for (unsigned k = 0; k < _RUN_KIND_MAX && r >= 0; k++)
                if (values[k] && (r = runs_find(rs->db, rs->find, (RunKind) (k + 1), values[k], seqs[k], tss[k], &rs->run[k])) > 0)
                        r = 0;
        for (unsigned k = 0; k < _RUN_KIND_MAX; k++)
                free(values[k]);
        return r;
}

static int write_run(Runs *rs, RunKind kind, Run *run) {
        sqlite3_stmt *st;
        int r;

        if (run->stored) {
                if ((r = prepare(rs->db, &rs->update, update_sql)) < 0)
                        return r;
                st = rs->update;
                sqlite3_bind_int64(st, 7, (sqlite3_int64) run->stored_max_ts);
        } else {
                if ((r = prepare(rs->db, &rs->insert, insert_sql)) < 0)
                        return r;
                st = rs->insert;
        }
        sqlite3_bind_int(st, 1, (int) kind);
        sqlite3_bind_text(st, 2, run->value, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) run->max_ts);
        sqlite3_bind_int64(st, 4, (sqlite3_int64) run->first_seq);
        sqlite3_bind_int64(st, 5, (sqlite3_int64) run->last_seq);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) run->min_ts);
        if ((r = step_done(rs, st)) < 0)
                return r;
        if (run->stored && sqlite3_changes(rs->db) == 0) {
                /* gone (pruned by another connection in between): store it anew */
                run->stored = false;
                return write_run(rs, kind, run);
        }
        run->stored = true;
        run->stored_max_ts = run->max_ts;
        run->dirty = false;
        return 0;
}

int runs_add(Runs *rs, uint64_t seq, uint64_t ts, const char *const values[static _RUN_KIND_MAX]) {
        int r;

        for (unsigned k = 0; k < _RUN_KIND_MAX; k++) {
                const char *v = values[k];
                Run *run = &rs->run[k];
                if (!v || !*v)
                        continue;
                uint64_t lo = ts < run->min_ts ? ts : run->min_ts, hi = ts > run->max_ts ? ts : run->max_ts;
                if (run->live && seq > run->last_seq && seq - run->last_seq <= (uint64_t) RUN_GAP_MAX &&
                    hi - lo <= RUN_SPAN_MAX_USEC && streq(run->value, v)) {
                        run->last_seq = seq;
                        if (ts < run->min_ts)
                                run->min_ts = ts;
                        if (ts > run->max_ts)
                                run->max_ts = ts;
                        run->dirty = true;
                        continue;
                }
                if (run->live && run->dirty && (r = write_run(rs, (RunKind) (k + 1), run)) < 0)
                        return r;
                size_t n = strlen(v);
                if (n > JOURNAL_COLUMN_MAX)
                        n = JOURNAL_COLUMN_MAX;
                *run = (Run) { .live = true, .dirty = true, .first_seq = seq, .last_seq = seq, .min_ts = ts, .max_ts = ts };
                memcpy(run->value, v, n);
                run->value[n] = 0;
        }
        return 0;
}

int runs_add_record(Runs *rs, const Record *rec) {
        const char *values[_RUN_KIND_MAX] = { rec->user, rec->serial, rec->vidpid[0] ? rec->vidpid : NULL };
        return runs_add(rs, rec->seq, rec->ts, values);
}

int runs_flush(Runs *rs) {
        int r;
        for (unsigned k = 0; k < _RUN_KIND_MAX; k++)
                if (rs->run[k].live && rs->run[k].dirty && (r = write_run(rs, (RunKind) (k + 1), &rs->run[k])) < 0)
                        return r;
        return 0;
}

int runs_build(sqlite3 *db) {
        sqlite3_stmt *st = NULL;
        Runs rs;
        int rc, r = 0;

        runs_init(&rs, db);
        rc = sqlite3_prepare_v2(db, "SELECT seq, ts, user_name, dev_serial, dev_vidpid FROM events ORDER BY seq", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return db_errno(db, rc);
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *values[_RUN_KIND_MAX];
                for (unsigned k = 0; k < _RUN_KIND_MAX; k++)
                        values[k] = (const char *) sqlite3_column_text(st, 2 + (int) k);
                r = runs_add(&rs, (uint64_t) sqlite3_column_int64(st, 0), (uint64_t) sqlite3_column_int64(st, 1), values);
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = db_errno(db, rc);
        sqlite3_finalize(st);
        if (r >= 0)
                r = runs_flush(&rs);
        runs_done(&rs);
        return r;
}
