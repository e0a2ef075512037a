/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SQLite backend: ingest transactions (on the writer, under its lock), hosts, event and alert queries
 * (on the readers). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query-sql.h"
#include "storage-sqlite.h"

struct StorageTxn {
        SqliteStorage *s;
        char host_id[HOST_ID_LEN + 1];
        int64_t host_key;               /* hosts.host_key: what event_rows keeps */
};

#define HOST_COLUMNS "host_id, host_name, grp, enrolled, last_seen, first_seq, contiguous_seq, last_seq, n_events, n_broken, " \
                     "agent_version, policy_serial"

int sqlite_events_prepare(SqliteStorage *s) {
        int r;
        r = sqlite_prepare(s->writer, "INSERT INTO event_rows (host_key, seq, ts, received, action, user_name, dev_serial, "
                                      "dev_vidpid, flags, hash, prev_hash, digest, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           &s->st_insert);
        if (r < 0)
                return r;
        r = sqlite_prepare(s->writer, "SELECT seq, hash, prev_hash, digest FROM event_rows WHERE host_key = ? AND seq BETWEEN ? AND ? "
                                      "ORDER BY seq LIMIT ?", &s->st_existing);
        if (r < 0)
                return r;
        r = sqlite_prepare(s->writer, "SELECT seq FROM event_rows WHERE host_key = ? AND seq > ? ORDER BY seq LIMIT ?", &s->st_after);
        if (r < 0)
                return r;
        r = sqlite_prepare(s->writer, "INSERT INTO alerts (host_id, created, kind, seq, seq_end, detail, body) "
                                      "VALUES (?, ?, ?, ?, ?, ?, ?)", &s->st_alert);
        if (r < 0)
                return r;
        r = sqlite_prepare(s->writer, "SELECT " HOST_COLUMNS ", host_key FROM hosts WHERE host_id = ?", &s->st_host_get);
        if (r < 0)
                return r;
        r = sqlite_prepare(s->writer, "INSERT OR IGNORE INTO hosts (host_id) VALUES (?)", &s->st_host_new);
        if (r < 0)
                return r;
        return sqlite_prepare(s->writer, "UPDATE hosts SET host_name = COALESCE(?, host_name), last_seen = ?, first_seq = ?, "
                                         "contiguous_seq = ?, last_seq = ?, n_events = ?, n_broken = ?, chain = ?, "
                                         "agent_version = ?, policy_serial = ? WHERE host_id = ?", &s->st_host_put);
}

void sqlite_events_finalize(SqliteStorage *s) {
        sqlite3_stmt **all[] = { &s->st_insert, &s->st_existing, &s->st_after, &s->st_alert,
                                 &s->st_host_get, &s->st_host_put, &s->st_host_new };
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                sqlite3_finalize(*all[i]);
                *all[i] = NULL;
        }
}

static int step_done(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sqlite_errno(rc);
}

void sqlite_host_from_row(sqlite3_stmt *st, HostState *h) {
        *h = (HostState) {};
        snprintf(h->host_id, sizeof(h->host_id), "%s", (const char *) sqlite3_column_text(st, 0) ?: "");
        h->host_name = sqlite_column_strdup(st, 1);
        h->group = sqlite_column_strdup(st, 2);
        h->enrolled_usec = (uint64_t) sqlite3_column_int64(st, 3);
        h->last_seen_usec = (uint64_t) sqlite3_column_int64(st, 4);
        h->first_sequence = (uint64_t) sqlite3_column_int64(st, 5);
        h->contiguous_sequence = (uint64_t) sqlite3_column_int64(st, 6);
        h->last_sequence = (uint64_t) sqlite3_column_int64(st, 7);
        h->n_events = (uint64_t) sqlite3_column_int64(st, 8);
        h->n_broken = (uint64_t) sqlite3_column_int64(st, 9);
        snprintf(h->agent_version, sizeof(h->agent_version), "%s", (const char *) sqlite3_column_text(st, 10) ?: "");
        h->policy_serial = (uint64_t) sqlite3_column_int64(st, 11);
        h->chain = host_chain_state(h);
}

/* Undoes this ingest's part of the group. When even that fails (it needs memory too), the whole group is
 * rolled back: nothing of a failed ingest may be committed with the others. */
static void rollback_ingest(SqliteStorage *s, int error) {
        if (sqlite_exec_sql(s->writer, "ROLLBACK TO ingest") < 0) {
                sqlite_group_abort_locked(s, error);
                return;
        }
        /* a savepoint left over when this fails is released by the group's COMMIT */
        (void) sqlite_exec_sql(s->writer, "RELEASE ingest");
}

int sqlite_ingest_begin(Storage *base, const char *host_id, const char *host_name, uint64_t now_usec,
                        HostState *ret_state, StorageTxn **ret) {
        SqliteStorage *s = (SqliteStorage *) base;
        StorageTxn *t = calloc(1, sizeof(*t));
        HostState h = {};
        int r;

        if (!t)
                return -ENOMEM;
        t->s = s;
        memcpy(t->host_id, host_id, sizeof(t->host_id));
        sqlite_write_lock(s);
        r = sqlite_group_join_locked(s);
        if (r < 0)
                goto fail;
        r = sqlite_exec_sql(s->writer, "SAVEPOINT ingest");
        if (r < 0) {
                sqlite_group_finish_locked(s, false);
                free(t);
                return r;
        }
        sqlite3_bind_text(s->st_host_new, 1, host_id, -1, SQLITE_STATIC);
        r = step_done(s->st_host_new);
        if (r < 0)
                goto rollback;
        sqlite3_bind_text(s->st_host_get, 1, host_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s->st_host_get);
        if (rc == SQLITE_ROW) {
                sqlite_host_from_row(s->st_host_get, &h);
                t->host_key = sqlite3_column_int64(s->st_host_get, 12);
                if (sqlite3_column_type(s->st_host_get, 12) != SQLITE_INTEGER)
                        rc = SQLITE_CORRUPT;
        }
        sqlite3_reset(s->st_host_get);
        sqlite3_clear_bindings(s->st_host_get);
        if (rc != SQLITE_ROW) {
                r = rc == SQLITE_DONE ? -EIO : sqlite_errno(rc);
                goto rollback;
        }
        if (host_name) {
                free(h.host_name);
                h.host_name = strdup(host_name);
                if (!h.host_name) {
                        r = -ENOMEM; /* not "no new name": the batch would be stored without it */
                        goto rollback;
                }
        }
        *ret_state = h;
        *ret = t;
        return 0;
rollback:
        rollback_ingest(s, r);
        host_state_done(&h);
        sqlite_group_finish_locked(s, false);
        free(t);
        return r;
fail:
        pthread_mutex_unlock(&s->write_lock);
        free(t);
        return r;
}

int sqlite_ingest_existing(StorageTxn *t, uint64_t lo, uint64_t hi, ExistingEvent *out, size_t max, size_t *ret_n) {
        sqlite3_stmt *st = t->s->st_existing;
        size_t n = 0;
        int rc;
        sqlite3_bind_int64(st, 1, t->host_key);
        sqlite3_bind_int64(st, 2, (int64_t) lo);
        sqlite3_bind_int64(st, 3, hi > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) hi);
        sqlite3_bind_int64(st, 4, (int64_t) max);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
                ExistingEvent *e = &out[n++];
                e->sequence = (uint64_t) sqlite3_column_int64(st, 0);
                if (sqlite3_column_bytes(st, 1) == SHA256_SIZE)
                        memcpy(e->hash, sqlite3_column_blob(st, 1), SHA256_SIZE);
                if (sqlite3_column_bytes(st, 2) == SHA256_SIZE)
                        memcpy(e->prev_hash, sqlite3_column_blob(st, 2), SHA256_SIZE);
                if (sqlite3_column_bytes(st, 3) == SHA256_SIZE)
                        memcpy(e->digest, sqlite3_column_blob(st, 3), SHA256_SIZE);
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return sqlite_errno(rc);
        *ret_n = n;
        return 0;
}

int sqlite_ingest_sequences_after(StorageTxn *t, uint64_t after, uint64_t *out, size_t max, size_t *ret_n) {
        sqlite3_stmt *st = t->s->st_after;
        size_t n = 0;
        int rc;
        sqlite3_bind_int64(st, 1, t->host_key);
        sqlite3_bind_int64(st, 2, (int64_t) after);
        sqlite3_bind_int64(st, 3, (int64_t) max);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max)
                out[n++] = (uint64_t) sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return sqlite_errno(rc);
        *ret_n = n;
        return 0;
}

/* Every parameter is bound for every row (NULL explicitly), so the statement is only reset in between. */
int sqlite_ingest_insert(StorageTxn *t, IngestRecord *const *records, size_t n, uint64_t received_usec) {
        sqlite3_stmt *st = t->s->st_insert;
        int r = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                const IngestRecord *rec = records[i];
                sqlite3_bind_int64(st, 1, t->host_key);
                sqlite3_bind_int64(st, 2, (int64_t) rec->sequence);
                sqlite3_bind_int64(st, 3, (int64_t) rec->timestamp_usec);
                sqlite3_bind_int64(st, 4, (int64_t) received_usec);
                sqlite3_bind_text(st, 5, rec->action, -1, SQLITE_STATIC);
                if (rec->user_name)
                        sqlite3_bind_text(st, 6, rec->user_name, -1, SQLITE_STATIC);
                else
                        sqlite3_bind_null(st, 6);
                if (rec->dev_serial)
                        sqlite3_bind_text(st, 7, rec->dev_serial, -1, SQLITE_STATIC);
                else
                        sqlite3_bind_null(st, 7);
                if (rec->dev_vidpid[0])
                        sqlite3_bind_text(st, 8, rec->dev_vidpid, -1, SQLITE_STATIC);
                else
                        sqlite3_bind_null(st, 8);
                sqlite3_bind_int(st, 9, (int) rec->flags);
                sqlite3_bind_blob(st, 10, rec->hash, SHA256_SIZE, SQLITE_STATIC);
                sqlite3_bind_blob(st, 11, rec->prev_hash, SHA256_SIZE, SQLITE_STATIC);
                sqlite3_bind_blob(st, 12, rec->digest, SHA256_SIZE, SQLITE_STATIC);
                sqlite3_bind_text(st, 13, rec->json, (int) rec->json_len, SQLITE_STATIC);
                int rc = sqlite3_step(st);
                sqlite3_reset(st);
                if (rc != SQLITE_DONE)
                        r = sqlite_errno(rc) ?: -EIO;
        }
        /* no pointer into this batch's records stays bound */
        sqlite3_clear_bindings(st);
        return r;
}

int sqlite_ingest_alert(StorageTxn *t, const AlertRecord *a) {
        sqlite3_stmt *st = t->s->st_alert;
        sqlite3_bind_text(st, 1, a->host_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t) a->created_usec);
        sqlite3_bind_text(st, 3, alert_kind_to_string(a->kind), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t) a->sequence);
        sqlite3_bind_int64(st, 5, (int64_t) a->sequence_end);
        sqlite3_bind_text(st, 6, a->detail, -1, SQLITE_STATIC);
        if (a->body)
                sqlite3_bind_text(st, 7, a->body, (int) a->body_len, SQLITE_STATIC);
        return step_done(st);
}

int sqlite_ingest_commit(StorageTxn *t, const HostState *h) {
        SqliteStorage *s = t->s;
        sqlite3_stmt *st = s->st_host_put;
        if (h->host_name)
                sqlite3_bind_text(st, 1, h->host_name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t) h->last_seen_usec);
        sqlite3_bind_int64(st, 3, (int64_t) h->first_sequence);
        sqlite3_bind_int64(st, 4, (int64_t) h->contiguous_sequence);
        sqlite3_bind_int64(st, 5, (int64_t) h->last_sequence);
        sqlite3_bind_int64(st, 6, (int64_t) h->n_events);
        sqlite3_bind_int64(st, 7, (int64_t) h->n_broken);
        sqlite3_bind_text(st, 8, chain_state_to_string(host_chain_state(h)), -1, SQLITE_STATIC);
        if (h->agent_version[0])
                sqlite3_bind_text(st, 9, h->agent_version, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 10, h->policy_serial > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) h->policy_serial);
        sqlite3_bind_text(st, 11, t->host_id, -1, SQLITE_STATIC);
        int r = step_done(st);
        if (r >= 0)
                r = sqlite_exec_sql(s->writer, "RELEASE ingest");
        free(t);
        if (r < 0) {
                rollback_ingest(s, r);
                sqlite_group_finish_locked(s, false);
                return r;
        }
        /* durable (and acknowledged) only once the group it belongs to is committed */
        return sqlite_group_finish_locked(s, true);
}

void sqlite_ingest_abort(StorageTxn *t) {
        SqliteStorage *s = t->s;
        rollback_ingest(s, -EIO);
        sqlite_group_finish_locked(s, false);
        free(t);
}

/* ---- reading ---- */

int sqlite_host_get(Storage *base, const char *host_id, HostState *ret) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned idx;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        int r = sqlite_prepare(db, "SELECT " HOST_COLUMNS " FROM hosts WHERE host_id = ?", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW)
                        sqlite_host_from_row(st, ret);
                r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : sqlite_errno(rc);
        }
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, idx);
        return r;
}

int sqlite_hosts(Storage *base, HostFunc f, void *userdata) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned idx;
        int rc = SQLITE_DONE;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        int r = sqlite_prepare(db, "SELECT " HOST_COLUMNS " FROM hosts ORDER BY host_name, host_id", &st);
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                HostState h;
                sqlite_host_from_row(st, &h);
                r = f(&h, userdata);
                host_state_done(&h);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = sqlite_errno(rc);
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, idx);
        return r < 0 ? r : 0;
}

int sqlite_events(Storage *base, const EventQuery *q, EventFunc f, void *userdata, uint64_t *ret_count) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        SqlQuery sq;
        uint64_t count = 0;
        unsigned idx;
        int rc = SQLITE_DONE;

        int r = sql_build_events(q, false, &sq);
        if (r < 0)
                return r;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        r = sqlite_prepare(db, sq.sql, &st);
        for (unsigned i = 0; r >= 0 && i < sq.n_params; i++)
                if (sq.params[i].text)
                        sqlite3_bind_text(st, (int) i + 1, sq.params[i].text, -1, SQLITE_STATIC);
                else
                        sqlite3_bind_int64(st, (int) i + 1, sq.params[i].number);
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                StoredEvent e = {
                        .host_id = (const char *) sqlite3_column_text(st, 0),
                        .sequence = (uint64_t) sqlite3_column_int64(st, 1),
                        .timestamp_usec = (uint64_t) sqlite3_column_int64(st, 2),
                        .received_usec = (uint64_t) sqlite3_column_int64(st, 3),
                        .flags = (unsigned) sqlite3_column_int(st, 4),
                        .json = (const char *) sqlite3_column_text(st, 5),
                        .json_len = (size_t) sqlite3_column_bytes(st, 5),
                };
                if (!e.host_id || !e.json)
                        continue;
                count++;
                r = f(&e, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = sqlite_errno(rc);
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, idx);
        sql_query_done(&sq);
        if (r < 0)
                return r;
        if (ret_count)
                *ret_count = count;
        return 0;
}

int sqlite_alerts(Storage *base, const char *host_id, uint64_t limit, AlertFunc f, void *userdata) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned idx;
        int rc = SQLITE_DONE;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        int r = sqlite_prepare(db, host_id ? "SELECT id, host_id, created, kind, seq, seq_end, detail, body FROM alerts "
                                             "WHERE host_id = ? ORDER BY id DESC LIMIT ?"
                                           : "SELECT id, host_id, created, kind, seq, seq_end, detail, body FROM alerts "
                                             "WHERE ? IS NULL ORDER BY id DESC LIMIT ?", &st);
        if (r >= 0) {
                if (host_id)
                        sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, limit && limit < (uint64_t) INT64_MAX ? (int64_t) limit : INT64_MAX);
        }
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                AlertRecord a = {
                        .id = sqlite3_column_int64(st, 0),
                        .created_usec = (uint64_t) sqlite3_column_int64(st, 2),
                        .kind = alert_kind_from_string((const char *) sqlite3_column_text(st, 3) ?: ""),
                        .sequence = (uint64_t) sqlite3_column_int64(st, 4),
                        .sequence_end = (uint64_t) sqlite3_column_int64(st, 5),
                        .body = (const char *) sqlite3_column_text(st, 7),
                        .body_len = (size_t) sqlite3_column_bytes(st, 7),
                };
                snprintf(a.host_id, sizeof(a.host_id), "%s", (const char *) sqlite3_column_text(st, 1) ?: "");
                snprintf(a.detail, sizeof(a.detail), "%s", (const char *) sqlite3_column_text(st, 6) ?: "");
                r = f(&a, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = sqlite_errno(rc);
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, idx);
        return r < 0 ? r : 0;
}
