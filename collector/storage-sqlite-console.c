/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SQLite backend of the console's storage (storage-console.h): operator accounts, sessions, the access
 * log, the host list. Writes go through the one writer: the access log joins the ingest group commit (a
 * query costs no fsync of its own), the rare account and session changes commit alone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage-console.h"
#include "storage-sqlite.h"
#include "strutil.h"

static const char console_schema[] =
        "CREATE TABLE IF NOT EXISTS operators (name TEXT PRIMARY KEY NOT NULL, role TEXT NOT NULL,"
        "  pwhash TEXT NOT NULL, created INTEGER NOT NULL, changed INTEGER NOT NULL,"
        "  last_login INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,"
        "  locked_until INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS sessions (token_hash BLOB PRIMARY KEY NOT NULL, operator TEXT NOT NULL,"
        "  csrf TEXT NOT NULL, remote TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL,"
        "  last_used INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS sessions_operator ON sessions (operator, created);"
        "CREATE TABLE IF NOT EXISTS access_log (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, operator TEXT NOT NULL,"
        "  auth TEXT NOT NULL, remote TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, host_id TEXT,"
        "  query TEXT NOT NULL, status INTEGER NOT NULL, records INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS access_log_host ON access_log (host_id, id) WHERE host_id IS NOT NULL;"
        "CREATE INDEX IF NOT EXISTS access_log_operator ON access_log (operator, id);";

/* The hosts table's columns for the console (agent version and policy serial, kept by ingest) and the
 * console's tables; added to databases made before them. */
int sqlite_console_schema(sqlite3 *db) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, "SELECT agent_version, policy_serial FROM hosts LIMIT 0", -1, &st, NULL);
        sqlite3_finalize(st);
        if (rc != SQLITE_OK) {
                int r = sqlite_exec_sql(db, "ALTER TABLE hosts ADD COLUMN agent_version TEXT;"
                                            "ALTER TABLE hosts ADD COLUMN policy_serial INTEGER NOT NULL DEFAULT 0;");
                if (r < 0)
                        return r;
        }
        return sqlite_exec_sql(db, console_schema);
}

static const char *text_or_empty(sqlite3_stmt *st, int i) {
        return (const char *) sqlite3_column_text(st, i) ?: "";
}

/* A write of its own (not part of an ingest group): the open group is committed first. It ends with
 * sqlite_write_unlock(), which finalizes the statements prepared on the writer under the lock. */
static void write_alone_begin(SqliteStorage *s) {
        sqlite_write_lock(s);
        sqlite_group_flush_locked(s);
}


/* ---- operators ---- */

static void operator_from_row(sqlite3_stmt *st, OperatorAccount *a) {
        *a = (OperatorAccount) {};
        snprintf(a->name, sizeof(a->name), "%s", text_or_empty(st, 0));
        if (operator_role_from_string(text_or_empty(st, 1), &a->role) < 0)
                a->role = ROLE_NONE;
        snprintf(a->pwhash, sizeof(a->pwhash), "%s", text_or_empty(st, 2));
        a->created_usec = (uint64_t) sqlite3_column_int64(st, 3);
        a->changed_usec = (uint64_t) sqlite3_column_int64(st, 4);
        a->last_login_usec = (uint64_t) sqlite3_column_int64(st, 5);
        a->failures = (uint32_t) sqlite3_column_int64(st, 6);
        a->locked_until_usec = (uint64_t) sqlite3_column_int64(st, 7);
}

#define OPERATOR_COLUMNS "name, role, pwhash, created, changed, last_login, failures, locked_until"

static int sqlite_operator_put(Storage *base, const OperatorAccount *a, bool replace) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        write_alone_begin(s);
        int r = sqlite_prepare(s->writer, replace
                ? "INSERT INTO operators (name, role, pwhash, created, changed) VALUES (?1, ?2, ?3, ?4, ?4) "
                  "ON CONFLICT (name) DO UPDATE SET role = ?2, pwhash = ?3, changed = ?4, failures = 0, locked_until = 0"
                : "INSERT INTO operators (name, role, pwhash, created, changed) VALUES (?1, ?2, ?3, ?4, ?4)", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, operator_role_to_string(a->role), -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, a->pwhash, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 4, (int64_t) a->created_usec);
                r = sqlite_errno(sqlite3_step(st));
        }
        sqlite_write_unlock(s, &st, NULL);
        return r;
}

static int sqlite_operator_get(Storage *base, const char *name, OperatorAccount *ret) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned idx;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        int r = sqlite_prepare(db, "SELECT " OPERATOR_COLUMNS " FROM operators WHERE name = ?", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW)
                        operator_from_row(st, ret);
                r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : sqlite_errno(rc);
        }
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, idx);
        return r;
}

static int sqlite_operators(Storage *base, OperatorFunc f, void *userdata) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned idx;
        int rc = SQLITE_DONE;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        int r = sqlite_prepare(db, "SELECT " OPERATOR_COLUMNS " FROM operators ORDER BY name", &st);
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                OperatorAccount a;
                operator_from_row(st, &a);
                r = f(&a, userdata);
                explicit_bzero(a.pwhash, sizeof(a.pwhash));
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = sqlite_errno(rc);
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, idx);
        return r < 0 ? r : 0;
}

static int sqlite_operator_remove(Storage *base, const char *name) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *del = NULL, *ses = NULL;
        int r, n = 0;
        write_alone_begin(s);
        r = sqlite_exec_sql(s->writer, "BEGIN IMMEDIATE");
        if (r < 0)
                goto out;
        r = sqlite_prepare(s->writer, "DELETE FROM operators WHERE name = ?", &del);
        if (r >= 0) {
                sqlite3_bind_text(del, 1, name, -1, SQLITE_STATIC);
                r = sqlite_errno(sqlite3_step(del));
                n = sqlite3_changes(s->writer);
        }
        if (r >= 0)
                r = sqlite_prepare(s->writer, "DELETE FROM sessions WHERE operator = ?", &ses);
        if (r >= 0) {
                sqlite3_bind_text(ses, 1, name, -1, SQLITE_STATIC);
                r = sqlite_errno(sqlite3_step(ses));
        }
        r = r >= 0 ? sqlite_exec_sql(s->writer, "COMMIT") : r;
        if (r < 0)
                sqlite_exec_sql(s->writer, "ROLLBACK");
out:
        sqlite_write_unlock(s, &del, &ses, NULL);
        return r < 0 ? r : n;
}

static int sqlite_operator_login_result(Storage *base, const char *name, bool ok, uint64_t now, uint64_t locked_until) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        int failures = 0;
        write_alone_begin(s);
        int r = sqlite_prepare(s->writer, ok
                ? "UPDATE operators SET failures = 0, locked_until = 0, last_login = ?2 WHERE name = ?1 RETURNING failures"
                : "UPDATE operators SET failures = failures + 1, "
                  "locked_until = CASE WHEN ?3 > 0 THEN ?3 ELSE locked_until END WHERE name = ?1 RETURNING failures", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, (int64_t) now);
                if (!ok)
                        sqlite3_bind_int64(st, 3, (int64_t) locked_until);
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW)
                        failures = sqlite3_column_int(st, 0);
                r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : sqlite_errno(rc);
                sqlite3_reset(st);
        }
        sqlite_write_unlock(s, &st, NULL);
        return r < 0 ? r : failures;
}

/* ---- sessions ---- */

static int sqlite_session_add(Storage *base, const ConsoleSession *cs, unsigned max_per_operator, uint64_t now) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *expire = NULL, *ins = NULL, *trim = NULL;
        int r;
        write_alone_begin(s);
        r = sqlite_exec_sql(s->writer, "BEGIN IMMEDIATE");
        if (r < 0)
                goto out;
        r = sqlite_prepare(s->writer, "DELETE FROM sessions WHERE expires <= ?", &expire);
        if (r >= 0) {
                sqlite3_bind_int64(expire, 1, (int64_t) now);
                r = sqlite_errno(sqlite3_step(expire));
        }
        if (r >= 0)
                r = sqlite_prepare(s->writer, "INSERT INTO sessions (token_hash, operator, csrf, remote, created, expires, "
                                              "last_used) VALUES (?, ?, ?, ?, ?, ?, ?)", &ins);
        if (r >= 0) {
                sqlite3_bind_blob(ins, 1, cs->token_hash, SHA256_SIZE, SQLITE_STATIC);
                sqlite3_bind_text(ins, 2, cs->operator_name, -1, SQLITE_STATIC);
                sqlite3_bind_text(ins, 3, cs->csrf, -1, SQLITE_STATIC);
                sqlite3_bind_text(ins, 4, cs->remote, -1, SQLITE_STATIC);
                sqlite3_bind_int64(ins, 5, (int64_t) cs->created_usec);
                sqlite3_bind_int64(ins, 6, (int64_t) cs->expires_usec);
                sqlite3_bind_int64(ins, 7, (int64_t) cs->last_used_usec);
                r = sqlite_errno(sqlite3_step(ins));
        }
        if (r >= 0)
                r = sqlite_prepare(s->writer, "DELETE FROM sessions WHERE operator = ?1 AND token_hash NOT IN "
                                              "(SELECT token_hash FROM sessions WHERE operator = ?1 "
                                              "ORDER BY created DESC LIMIT ?2)", &trim);
        if (r >= 0) {
                sqlite3_bind_text(trim, 1, cs->operator_name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(trim, 2, max_per_operator);
                r = sqlite_errno(sqlite3_step(trim));
        }
        r = r >= 0 ? sqlite_exec_sql(s->writer, "COMMIT") : r;
        if (r < 0)
                sqlite_exec_sql(s->writer, "ROLLBACK");
out:
        sqlite_write_unlock(s, &expire, &ins, &trim, NULL);
        return r;
}

static int sqlite_session_get(Storage *base, const uint8_t hash[SHA256_SIZE], ConsoleSession *ret) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned idx;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        int r = sqlite_prepare(db, "SELECT s.operator, o.role, s.csrf, s.remote, s.created, s.expires, s.last_used "
                                   "FROM sessions s JOIN operators o ON o.name = s.operator WHERE s.token_hash = ?", &st);
        if (r >= 0) {
                sqlite3_bind_blob(st, 1, hash, SHA256_SIZE, SQLITE_STATIC);
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        ConsoleSession cs = {};
                        memcpy(cs.token_hash, hash, SHA256_SIZE);
                        snprintf(cs.operator_name, sizeof(cs.operator_name), "%s", text_or_empty(st, 0));
                        if (operator_role_from_string(text_or_empty(st, 1), &cs.role) < 0)
                                cs.role = ROLE_NONE;
                        snprintf(cs.csrf, sizeof(cs.csrf), "%s", text_or_empty(st, 2));
                        snprintf(cs.remote, sizeof(cs.remote), "%s", text_or_empty(st, 3));
                        cs.created_usec = (uint64_t) sqlite3_column_int64(st, 4);
                        cs.expires_usec = (uint64_t) sqlite3_column_int64(st, 5);
                        cs.last_used_usec = (uint64_t) sqlite3_column_int64(st, 6);
                        *ret = cs;
                }
                r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : sqlite_errno(rc);
        }
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, idx);
        return r;
}

/* A write as a member of the ingest group (no fsync of its own): takes the writer and opens a savepoint;
 * group_end() releases it (or rolls it back when r < 0), lets the group commit and unlocks the writer.
 * Everything on the writer connection happens between the two. */
static int group_begin(SqliteStorage *s) {
        sqlite_write_lock(s);
        int r = sqlite_group_join_locked(s);
        if (r < 0) {
                pthread_mutex_unlock(&s->write_lock);
                return r;
        }
        r = sqlite_exec_sql(s->writer, "SAVEPOINT console");
        if (r < 0)
                sqlite_group_finish_locked(s, false);
        return r;
}

static int group_end(SqliteStorage *s, int r) {
        if (r >= 0)
                r = sqlite_exec_sql(s->writer, "RELEASE console");
        if (r < 0) {
                /* this part undone; when even that fails, the whole group (nothing half-done is committed) */
                if (sqlite_exec_sql(s->writer, "ROLLBACK TO console") < 0)
                        sqlite_group_abort_locked(s, r);
                else
                        (void) sqlite_exec_sql(s->writer, "RELEASE console");
                sqlite_group_finish_locked(s, false);
                return r;
        }
        return sqlite_group_finish_locked(s, true);
}

static int sqlite_session_touch(Storage *base, const uint8_t hash[SHA256_SIZE], uint64_t now) {
        SqliteStorage *s = (SqliteStorage *) base;
        sqlite3_stmt *st = NULL;
        int r = group_begin(s);
        if (r < 0)
                return r;
        r = sqlite_prepare(s->writer, "UPDATE sessions SET last_used = ? WHERE token_hash = ?", &st);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, (int64_t) now);
                sqlite3_bind_blob(st, 2, hash, SHA256_SIZE, SQLITE_STATIC);
                r = sqlite_errno(sqlite3_step(st));
        }
        sqlite3_finalize(st);
        return group_end(s, r);
}

static int sqlite_session_remove(Storage *base, const uint8_t hash[SHA256_SIZE]) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        write_alone_begin(s);
        int r = sqlite_prepare(s->writer, "DELETE FROM sessions WHERE token_hash = ?", &st);
        if (r >= 0) {
                sqlite3_bind_blob(st, 1, hash, SHA256_SIZE, SQLITE_STATIC);
                r = sqlite_errno(sqlite3_step(st));
                if (r >= 0)
                        r = sqlite3_changes(s->writer);
        }
        sqlite_write_unlock(s, &st, NULL);
        return r;
}

/* ---- access log ---- */

static int sqlite_access_add(Storage *base, const AccessEntry *e) {
        SqliteStorage *s = (SqliteStorage *) base;
        sqlite3_stmt *st = NULL;
        int r = group_begin(s);
        if (r < 0)
                return r;
        r = sqlite_prepare(s->writer, "INSERT INTO access_log (ts, operator, auth, remote, method, path, host_id, query, "
                                      "status, records) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, (int64_t) e->time_usec);
                sqlite3_bind_text(st, 2, e->operator_name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, e->auth, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 4, e->remote, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 5, e->method, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 6, e->path, -1, SQLITE_STATIC);
                if (e->host_id[0])
                        sqlite3_bind_text(st, 7, e->host_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 8, e->query, -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 9, (int) e->status);
                sqlite3_bind_int64(st, 10, e->records > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) e->records);
                r = sqlite_errno(sqlite3_step(st));
        }
        sqlite3_finalize(st);
        return group_end(s, r);
}

static int sqlite_access_list(Storage *base, const AccessQuery *q, AccessFunc f, void *userdata) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned idx;
        int rc = SQLITE_DONE;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        int r = sqlite_prepare(db, "SELECT id, ts, operator, auth, remote, method, path, host_id, query, status, records "
                                   "FROM access_log WHERE (?1 IS NULL OR operator = ?1) AND (?2 IS NULL OR host_id = ?2) "
                                   "AND (?3 = 0 OR id < ?3) ORDER BY id DESC LIMIT ?4", &st);
        if (r >= 0) {
                if (q->operator_name)
                        sqlite3_bind_text(st, 1, q->operator_name, -1, SQLITE_STATIC);
                if (q->host_id)
                        sqlite3_bind_text(st, 2, q->host_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, q->before_id > 0 ? q->before_id : 0);
                sqlite3_bind_int64(st, 4, (int64_t) (q->limit ? q->limit : ACCESS_LIST_MAX));
        }
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                AccessEntry e = {
                        .id = sqlite3_column_int64(st, 0),
                        .time_usec = (uint64_t) sqlite3_column_int64(st, 1),
                        .status = (unsigned) sqlite3_column_int(st, 9),
                        .records = (uint64_t) sqlite3_column_int64(st, 10),
                };
                snprintf(e.operator_name, sizeof(e.operator_name), "%s", text_or_empty(st, 2));
                snprintf(e.auth, sizeof(e.auth), "%s", text_or_empty(st, 3));
                snprintf(e.remote, sizeof(e.remote), "%s", text_or_empty(st, 4));
                snprintf(e.method, sizeof(e.method), "%s", text_or_empty(st, 5));
                snprintf(e.path, sizeof(e.path), "%s", text_or_empty(st, 6));
                snprintf(e.host_id, sizeof(e.host_id), "%s", text_or_empty(st, 7));
                snprintf(e.query, sizeof(e.query), "%s", text_or_empty(st, 8));
                r = f(&e, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = sqlite_errno(rc);
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, idx);
        return r < 0 ? r : 0;
}

/* ---- hosts ---- */

static void bind_all(sqlite3_stmt *st, const ConsoleSql *q) {
        for (unsigned i = 0; i < q->n_params; i++)
                if (q->text[i])
                        sqlite3_bind_text(st, (int) i + 1, q->text[i], -1, SQLITE_STATIC);
                else
                        sqlite3_bind_int64(st, (int) i + 1, q->number[i]);
}

static void console_host_from_row(sqlite3_stmt *st, ConsoleHost *c) {
        *c = (ConsoleHost) {};
        sqlite_host_from_row(st, &c->state); /* CONSOLE_HOST_COLUMNS begin with the host columns */
}

static int sqlite_console_hosts(Storage *base, const ConsoleHostQuery *q, ConsoleHostFunc f, void *userdata,
                                uint64_t *ret_total) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *count = NULL, *page = NULL, *recent = NULL;
        ConsoleSql cq, pq;
        unsigned idx;
        uint64_t total = 0;
        int rc = SQLITE_DONE, r;

        r = console_sql_hosts(q, false, true, &cq);
        if (r < 0)
                return r;
        r = console_sql_hosts(q, false, false, &pq);
        if (r < 0) {
                console_sql_done(&cq);
                return r;
        }
        bool sorted_by_recent = q->sort == CONSOLE_SORT_RECENT;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        /* one read transaction: the count and the page see the same hosts */
        r = sqlite_exec_sql(db, "BEGIN");
        if (r >= 0)
                r = sqlite_prepare(db, cq.sql, &count);
        if (r >= 0) {
                bind_all(count, &cq);
                rc = sqlite3_step(count);
                if (rc == SQLITE_ROW)
                        total = (uint64_t) sqlite3_column_int64(count, 0);
                else
                        r = sqlite_errno(rc) ?: -EIO;
        }
        if (r >= 0)
                r = sqlite_prepare(db, pq.sql, &page);
        if (r >= 0 && !sorted_by_recent)
                r = sqlite_prepare(db, "SELECT count(*) FROM events WHERE host_id = ? AND ts >= ?", &recent);
        if (r >= 0)
                bind_all(page, &pq);
        rc = SQLITE_DONE;
        while (r >= 0 && (rc = sqlite3_step(page)) == SQLITE_ROW) {
                ConsoleHost c;
                console_host_from_row(page, &c);
                if (sorted_by_recent)
                        c.events_recent = (uint64_t) sqlite3_column_int64(page, CONSOLE_HOST_N_COLUMNS);
                else {
                        sqlite3_bind_text(recent, 1, c.state.host_id, -1, SQLITE_STATIC);
                        sqlite3_bind_int64(recent, 2, q->recent_since_usec > (uint64_t) INT64_MAX ? INT64_MAX
                                                                                                   : (int64_t) q->recent_since_usec);
                        int rrc = sqlite3_step(recent);
                        if (rrc == SQLITE_ROW)
                                c.events_recent = (uint64_t) sqlite3_column_int64(recent, 0);
                        else
                                r = sqlite_errno(rrc) ?: -EIO;
                        sqlite3_reset(recent);
                }
                if (r >= 0)
                        r = f(&c, userdata);
                host_state_done(&c.state);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = sqlite_errno(rc);
        sqlite3_finalize(TAKE_PTR(count));
        sqlite3_finalize(TAKE_PTR(page));
        sqlite3_finalize(TAKE_PTR(recent));
        sqlite_exec_sql(db, "COMMIT");
        sqlite_reader_put(s, idx);
        console_sql_done(&cq);
        console_sql_done(&pq);
        if (r < 0)
                return r;
        if (ret_total)
                *ret_total = total;
        return 0;
}

static int sqlite_console_serials(Storage *base, SerialFunc f, void *userdata) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned idx;
        int rc = SQLITE_DONE;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        int r = sqlite_prepare(db, "SELECT COALESCE(grp, '" GROUP_DEFAULT "') AS g, policy_serial, count(*), max(last_seen) "
                                   "FROM hosts GROUP BY g, policy_serial ORDER BY g, policy_serial DESC LIMIT ?", &st);
        if (r >= 0)
                sqlite3_bind_int64(st, 1, CONSOLE_SERIALS_MAX);
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                SerialCount c = {
                        .serial = (uint64_t) sqlite3_column_int64(st, 1),
                        .hosts = (uint64_t) sqlite3_column_int64(st, 2),
                        .last_seen_usec = (uint64_t) sqlite3_column_int64(st, 3),
                };
                snprintf(c.group, sizeof(c.group), "%s", text_or_empty(st, 0));
                r = f(&c, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = sqlite_errno(rc);
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, idx);
        return r < 0 ? r : 0;
}

static int sqlite_console_events_span(Storage *base, const char *host_id, uint64_t from, uint64_t to, EventFunc f,
                                      void *userdata) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned idx;
        int rc = SQLITE_DONE;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        int r = sqlite_prepare(db, "SELECT host_id, seq, ts, received, flags, body FROM events "
                                   "WHERE host_id = ? AND seq BETWEEN ? AND ? ORDER BY seq", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, from > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) from);
                sqlite3_bind_int64(st, 3, to > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) to);
        }
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
                r = f(&e, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = sqlite_errno(rc);
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, idx);
        return r < 0 ? r : 0;
}

const StorageConsoleOps storage_sqlite_console_ops = {
        .operator_put = sqlite_operator_put,
        .operator_get = sqlite_operator_get,
        .operators = sqlite_operators,
        .operator_remove = sqlite_operator_remove,
        .operator_login_result = sqlite_operator_login_result,
        .session_add = sqlite_session_add,
        .session_get = sqlite_session_get,
        .session_touch = sqlite_session_touch,
        .session_remove = sqlite_session_remove,
        .access_add = sqlite_access_add,
        .access_list = sqlite_access_list,
        .hosts = sqlite_console_hosts,
        .serials = sqlite_console_serials,
        .events_span = sqlite_console_events_span,
};
