/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PostgreSQL backend of the console's storage (storage-console.h): operator accounts, sessions, the access
 * log, the host list. Every change is one statement (or one transaction), so several collectors can share
 * the tables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage-console.h"
#include "storage-pg.h"
#include "strutil.h"

static const char console_schema[] =
        "CREATE TABLE IF NOT EXISTS operators (name text PRIMARY KEY, role text NOT NULL, pwhash text NOT NULL,"
        "  created bigint NOT NULL, changed bigint NOT NULL, last_login bigint NOT NULL DEFAULT 0,"
        "  failures integer NOT NULL DEFAULT 0, locked_until bigint NOT NULL DEFAULT 0);"
        "CREATE TABLE IF NOT EXISTS sessions (token_hash bytea PRIMARY KEY, operator text NOT NULL, csrf text NOT NULL,"
        "  remote text NOT NULL, created bigint NOT NULL, expires bigint NOT NULL, last_used bigint NOT NULL);"
        "CREATE INDEX IF NOT EXISTS sessions_operator ON sessions (operator, created);"
        "CREATE TABLE IF NOT EXISTS access_log (id bigserial PRIMARY KEY, ts bigint NOT NULL, operator text NOT NULL,"
        "  auth text NOT NULL, remote text NOT NULL, method text NOT NULL, path text NOT NULL, host_id text,"
        "  query text NOT NULL, status integer NOT NULL, records bigint NOT NULL);"
        "CREATE INDEX IF NOT EXISTS access_log_host ON access_log (host_id, id) WHERE host_id IS NOT NULL;"
        "CREATE INDEX IF NOT EXISTS access_log_operator ON access_log (operator, id);";

/* Inside pg_open()'s schema transaction (under its advisory lock). ALTER TABLE only when the columns are
 * missing: it would take an exclusive lock on hosts even when they exist. */
int pg_console_schema(PGconn *c) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = pg_query(c, "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
                            "AND table_name = 'hosts' AND column_name IN ('agent_version', 'policy_serial')",
                         0, NULL, NULL, NULL, &res);
        if (r < 0)
                return r;
        if (!streq(PQgetvalue(res, 0, 0), "2")) {
                r = pg_exec(c, "ALTER TABLE hosts ADD COLUMN IF NOT EXISTS agent_version text;"
                               "ALTER TABLE hosts ADD COLUMN IF NOT EXISTS policy_serial bigint NOT NULL DEFAULT 0;");
                if (r < 0)
                        return r;
        }
        return pg_exec(c, console_schema);
}

static void u64_text(uint64_t v, char out[static 24]) {
        snprintf(out, 24, "%llu", (unsigned long long) (v > (uint64_t) INT64_MAX ? (uint64_t) INT64_MAX : v));
}

/* Runs sql with text parameters on a pooled connection; *ret the result. */
static int run(PgStorage *s, const char *sql, int n, const char *const *v, PGresult **ret) {
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        r = pg_query(c, sql, n, v, NULL, NULL, ret);
        pg_conn_put(s, idx);
        return r;
}

/* ---- operators ---- */

#define OPERATOR_COLUMNS "name, role, pwhash, created, changed, last_login, failures, locked_until"

static void operator_from_row(const PGresult *res, int i, OperatorAccount *a) {
        *a = (OperatorAccount) {};
        snprintf(a->name, sizeof(a->name), "%s", PQgetvalue(res, i, 0));
        if (operator_role_from_string(PQgetvalue(res, i, 1), &a->role) < 0)
                a->role = ROLE_NONE;
        snprintf(a->pwhash, sizeof(a->pwhash), "%s", PQgetvalue(res, i, 2));
        a->created_usec = pg_value_u64(res, i, 3);
        a->changed_usec = pg_value_u64(res, i, 4);
        a->last_login_usec = pg_value_u64(res, i, 5);
        a->failures = (uint32_t) pg_value_u64(res, i, 6);
        a->locked_until_usec = pg_value_u64(res, i, 7);
}

static int pg_operator_put(Storage *base, const OperatorAccount *a, bool replace) {
        char created[24];
        u64_text(a->created_usec, created);
        const char *v[] = { a->name, operator_role_to_string(a->role), a->pwhash, created };
        _cleanup_(PQclearp) PGresult *res = NULL;
        return run((PgStorage *) base, replace
                   ? "INSERT INTO operators (name, role, pwhash, created, changed) VALUES ($1, $2, $3, $4, $4) "
                     "ON CONFLICT (name) DO UPDATE SET role = $2, pwhash = $3, changed = $4, failures = 0, locked_until = 0"
                   : "INSERT INTO operators (name, role, pwhash, created, changed) VALUES ($1, $2, $3, $4, $4)",
                   4, v, &res);
}

static int pg_operator_get(Storage *base, const char *name, OperatorAccount *ret) {
        const char *v[] = { name };
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = run((PgStorage *) base, "SELECT " OPERATOR_COLUMNS " FROM operators WHERE name = $1", 1, v, &res);
        if (r < 0)
                return r;
        if (PQntuples(res) != 1)
                return -ENOENT;
        operator_from_row(res, 0, ret);
        return 0;
}

static int pg_operators(Storage *base, OperatorFunc f, void *userdata) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = run((PgStorage *) base, "SELECT " OPERATOR_COLUMNS " FROM operators ORDER BY name", 0, NULL, &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                OperatorAccount a;
                operator_from_row(res, i, &a);
                r = f(&a, userdata);
                explicit_bzero(a.pwhash, sizeof(a.pwhash));
                if (r != 0)
                        break;
        }
        return r < 0 ? r : 0;
}

static int pg_operator_remove(Storage *base, const char *name) {
        const char *v[] = { name };
        _cleanup_(PQclearp) PGresult *res = NULL;
        /* one statement: the account and its sessions go together */
        int r = run((PgStorage *) base, "WITH gone AS (DELETE FROM sessions WHERE operator = $1) "
                                        "DELETE FROM operators WHERE name = $1", 1, v, &res);
        if (r < 0)
                return r;
        uint64_t n = 0;
        (void) parse_u64(PQcmdTuples(res), &n);
        return (int) n;
}

static int pg_operator_login_result(Storage *base, const char *name, bool ok, uint64_t now, uint64_t locked_until) {
        char snow[24], slock[24];
        u64_text(now, snow);
        u64_text(locked_until, slock);
        const char *v[] = { name, ok ? snow : slock };
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = run((PgStorage *) base, ok
                    ? "UPDATE operators SET failures = 0, locked_until = 0, last_login = $2 WHERE name = $1 RETURNING failures"
                    : "UPDATE operators SET failures = failures + 1, "
                      "locked_until = CASE WHEN $2::bigint > 0 THEN $2::bigint ELSE locked_until END "
                      "WHERE name = $1 RETURNING failures", 2, v, &res);
        if (r < 0)
                return r;
        if (PQntuples(res) != 1)
                return -ENOENT;
        return (int) pg_value_u64(res, 0, 0);
}

/* ---- sessions ---- */

static int pg_session_add(Storage *base, const ConsoleSession *cs, unsigned max_per_operator, uint64_t now) {
        PgStorage *s = (PgStorage *) base;
        char hash[2 * SHA256_SIZE + 3], created[24], expires[24], used[24], snow[24], smax[24];
        PGconn *c;
        unsigned idx;
        pg_bytea_text(cs->token_hash, hash);
        u64_text(cs->created_usec, created);
        u64_text(cs->expires_usec, expires);
        u64_text(cs->last_used_usec, used);
        u64_text(now, snow);
        u64_text(max_per_operator, smax);
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        r = pg_exec(c, "BEGIN");
        if (r >= 0) {
                const char *v[] = { snow };
                _cleanup_(PQclearp) PGresult *res = NULL;
                r = pg_query(c, "DELETE FROM sessions WHERE expires <= $1", 1, v, NULL, NULL, &res);
        }
        if (r >= 0) {
                const char *v[] = { hash, cs->operator_name, cs->csrf, cs->remote, created, expires, used };
                _cleanup_(PQclearp) PGresult *res = NULL;
                r = pg_query(c, "INSERT INTO sessions (token_hash, operator, csrf, remote, created, expires, last_used) "
                                "VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, v, NULL, NULL, &res);
        }
        if (r >= 0) {
                const char *v[] = { cs->operator_name, smax };
                _cleanup_(PQclearp) PGresult *res = NULL;
                r = pg_query(c, "DELETE FROM sessions WHERE operator = $1 AND token_hash NOT IN (SELECT token_hash FROM "
                                "sessions WHERE operator = $1 ORDER BY created DESC LIMIT $2)", 2, v, NULL, NULL, &res);
        }
        if (r >= 0)
                r = pg_exec(c, "COMMIT");
        if (r < 0)
                pg_exec(c, "ROLLBACK");
        pg_conn_put(s, idx);
        return r;
}

static int pg_session_get(Storage *base, const uint8_t h[SHA256_SIZE], ConsoleSession *ret) {
        char hash[2 * SHA256_SIZE + 3];
        pg_bytea_text(h, hash);
        const char *v[] = { hash };
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = run((PgStorage *) base, "SELECT s.operator, o.role, s.csrf, s.remote, s.created, s.expires, s.last_used "
                                        "FROM sessions s JOIN operators o ON o.name = s.operator WHERE s.token_hash = $1",
                    1, v, &res);
        if (r < 0)
                return r;
        if (PQntuples(res) != 1)
                return -ENOENT;
        ConsoleSession cs = {};
        memcpy(cs.token_hash, h, SHA256_SIZE);
        snprintf(cs.operator_name, sizeof(cs.operator_name), "%s", PQgetvalue(res, 0, 0));
        if (operator_role_from_string(PQgetvalue(res, 0, 1), &cs.role) < 0)
                cs.role = ROLE_NONE;
        snprintf(cs.csrf, sizeof(cs.csrf), "%s", PQgetvalue(res, 0, 2));
        snprintf(cs.remote, sizeof(cs.remote), "%s", PQgetvalue(res, 0, 3));
        cs.created_usec = pg_value_u64(res, 0, 4);
        cs.expires_usec = pg_value_u64(res, 0, 5);
        cs.last_used_usec = pg_value_u64(res, 0, 6);
        *ret = cs;
        return 0;
}

static int pg_session_touch(Storage *base, const uint8_t h[SHA256_SIZE], uint64_t now) {
        char hash[2 * SHA256_SIZE + 3], snow[24];
        pg_bytea_text(h, hash);
        u64_text(now, snow);
        const char *v[] = { snow, hash };
        _cleanup_(PQclearp) PGresult *res = NULL;
        return run((PgStorage *) base, "UPDATE sessions SET last_used = $1 WHERE token_hash = $2", 2, v, &res);
}

static int pg_session_remove(Storage *base, const uint8_t h[SHA256_SIZE]) {
        char hash[2 * SHA256_SIZE + 3];
        pg_bytea_text(h, hash);
        const char *v[] = { hash };
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = run((PgStorage *) base, "DELETE FROM sessions WHERE token_hash = $1", 1, v, &res);
        if (r < 0)
                return r;
        uint64_t n = 0;
        (void) parse_u64(PQcmdTuples(res), &n);
        return (int) n;
}

/* ---- access log ---- */

static int pg_access_add(Storage *base, const AccessEntry *e) {
        char ts[24], status[24], records[24];
        u64_text(e->time_usec, ts);
        u64_text(e->status, status);
        u64_text(e->records, records);
        const char *v[] = { ts, e->operator_name, e->auth, e->remote, e->method, e->path, e->host_id[0] ? e->host_id : NULL,
                            e->query, status, records };
        _cleanup_(PQclearp) PGresult *res = NULL;
        return run((PgStorage *) base, "INSERT INTO access_log (ts, operator, auth, remote, method, path, host_id, query, "
                                       "status, records) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", 10, v, &res);
}

static int pg_access_list(Storage *base, const AccessQuery *q, AccessFunc f, void *userdata) {
        char before[24], limit[24];
        snprintf(before, sizeof(before), "%lld", (long long) (q->before_id > 0 ? q->before_id : 0));
        u64_text(q->limit ? q->limit : ACCESS_LIST_MAX, limit);
        const char *v[] = { q->operator_name, q->host_id, before, limit };
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = run((PgStorage *) base,
                    "SELECT id, ts, operator, auth, remote, method, path, host_id, query, status, records FROM access_log "
                    "WHERE ($1::text IS NULL OR operator = $1) AND ($2::text IS NULL OR host_id = $2) "
                    "AND ($3::bigint = 0 OR id < $3::bigint) ORDER BY id DESC LIMIT $4", 4, v, &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                AccessEntry e = {
                        .id = (int64_t) pg_value_u64(res, i, 0),
                        .time_usec = pg_value_u64(res, i, 1),
                        .status = (unsigned) pg_value_u64(res, i, 9),
                        .records = pg_value_u64(res, i, 10),
                };
                snprintf(e.operator_name, sizeof(e.operator_name), "%s", PQgetvalue(res, i, 2));
                snprintf(e.auth, sizeof(e.auth), "%s", PQgetvalue(res, i, 3));
                snprintf(e.remote, sizeof(e.remote), "%s", PQgetvalue(res, i, 4));
                snprintf(e.method, sizeof(e.method), "%s", PQgetvalue(res, i, 5));
                snprintf(e.path, sizeof(e.path), "%s", PQgetvalue(res, i, 6));
                snprintf(e.host_id, sizeof(e.host_id), "%s", PQgetvalue(res, i, 7));
                snprintf(e.query, sizeof(e.query), "%s", PQgetvalue(res, i, 8));
                r = f(&e, userdata);
                if (r != 0)
                        break;
        }
        return r < 0 ? r : 0;
}

/* ---- hosts ---- */

static int query_sql(PGconn *c, const ConsoleSql *q, PGresult **ret) {
        const char *values[CONSOLE_SQL_PARAMS_MAX];
        char numbers[CONSOLE_SQL_PARAMS_MAX][24];
        for (unsigned i = 0; i < q->n_params; i++) {
                if (q->text[i])
                        values[i] = q->text[i];
                else {
                        snprintf(numbers[i], sizeof(numbers[i]), "%lld", (long long) q->number[i]);
                        values[i] = numbers[i];
                }
        }
        return pg_query(c, q->sql, (int) q->n_params, values, NULL, NULL, ret);
}

static int pg_console_hosts(Storage *base, const ConsoleHostQuery *q, ConsoleHostFunc f, void *userdata,
                            uint64_t *ret_total) {
        PgStorage *s = (PgStorage *) base;
        _cleanup_(PQclearp) PGresult *cres = NULL, *pres = NULL;
        ConsoleSql cq, pq;
        PGconn *c;
        unsigned idx;
        int r;

        r = console_sql_hosts(q, true, true, &cq);
        if (r < 0)
                return r;
        r = console_sql_hosts(q, true, false, &pq);
        if (r < 0) {
                console_sql_done(&cq);
                return r;
        }
        r = pg_conn_get(s, &c, &idx);
        if (r >= 0) {
                /* one snapshot for the count and the page */
                r = pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
                if (r >= 0)
                        r = query_sql(c, &cq, &cres);
                if (r >= 0)
                        r = query_sql(c, &pq, &pres);
                pg_exec(c, r >= 0 ? "COMMIT" : "ROLLBACK");
                pg_conn_put(s, idx);
        }
        console_sql_done(&cq);
        console_sql_done(&pq);
        if (r < 0)
                return r;
        for (int i = 0; i < PQntuples(pres); i++) {
                ConsoleHost ch = {};
                HostState *h = &ch.state;
                pg_host_from_row(pres, i, h); /* CONSOLE_HOST_COLUMNS begin with HOST_COLUMNS */
                ch.events_recent = pg_value_u64(pres, i, CONSOLE_HOST_N_COLUMNS);
                r = f(&ch, userdata);
                host_state_done(h);
                if (r != 0)
                        break;
        }
        if (r < 0)
                return r;
        if (ret_total)
                *ret_total = pg_value_u64(cres, 0, 0);
        return 0;
}

static int pg_console_serials(Storage *base, SerialFunc f, void *userdata) {
        char limit[24];
        u64_text(CONSOLE_SERIALS_MAX, limit);
        const char *v[] = { limit };
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = run((PgStorage *) base, "SELECT COALESCE(grp, '" GROUP_DEFAULT "') AS g, policy_serial, count(*), "
                                        "max(last_seen) FROM hosts GROUP BY g, policy_serial "
                                        "ORDER BY g, policy_serial DESC LIMIT $1", 1, v, &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                SerialCount c = {
                        .serial = pg_value_u64(res, i, 1),
                        .hosts = pg_value_u64(res, i, 2),
                        .last_seen_usec = pg_value_u64(res, i, 3),
                };
                snprintf(c.group, sizeof(c.group), "%s", PQgetvalue(res, i, 0));
                r = f(&c, userdata);
                if (r != 0)
                        break;
        }
        return r < 0 ? r : 0;
}

static int pg_console_events_span(Storage *base, const char *host_id, uint64_t from, uint64_t to, EventFunc f,
                                  void *userdata) {
        PgStorage *s = (PgStorage *) base;
        char sfrom[24], sto[24];
        PGconn *c;
        unsigned idx;
        u64_text(from, sfrom);
        u64_text(to, sto);
        const char *v[] = { host_id, sfrom, sto };
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        /* row by row (single-row mode): an export is never held in the client library at once */
        if (!PQsendQueryParams(c, "SELECT host_id, seq, ts, received, flags, body FROM events "
                                  "WHERE host_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq", 3, NULL, v, NULL, NULL, 0) ||
            !PQsetSingleRowMode(c))
                r = pg_result_errno(c, NULL);
        bool stop = r < 0;
        PGresult *res;
        while ((res = PQgetResult(c))) {
                ExecStatusType st = PQresultStatus(res);
                if (st == PGRES_SINGLE_TUPLE && !stop) {
                        StoredEvent e = {
                                .host_id = PQgetvalue(res, 0, 0),
                                .sequence = pg_value_u64(res, 0, 1),
                                .timestamp_usec = pg_value_u64(res, 0, 2),
                                .received_usec = pg_value_u64(res, 0, 3),
                                .flags = (unsigned) pg_value_u64(res, 0, 4),
                                .json = PQgetvalue(res, 0, 5),
                                .json_len = (size_t) PQgetlength(res, 0, 5),
                        };
                        int k = f(&e, userdata);
                        if (k != 0) {
                                stop = true;
                                if (k < 0)
                                        r = k;
                                PGcancel *cancel = PQgetCancel(c);
                                char err[64];
                                if (cancel) {
                                        PQcancel(cancel, err, sizeof(err));
                                        PQfreeCancel(cancel);
                                }
                        }
                } else if (st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE && !stop) {
                        r = pg_result_errno(c, res);
                        stop = true;
                }
                PQclear(res);
        }
        pg_conn_put(s, idx);
        return r < 0 ? r : 0;
}

const StorageConsoleOps storage_postgresql_console_ops = {
        .operator_put = pg_operator_put,
        .operator_get = pg_operator_get,
        .operators = pg_operators,
        .operator_remove = pg_operator_remove,
        .operator_login_result = pg_operator_login_result,
        .session_add = pg_session_add,
        .session_get = pg_session_get,
        .session_touch = pg_session_touch,
        .session_remove = pg_session_remove,
        .access_add = pg_access_add,
        .access_list = pg_access_list,
        .hosts = pg_console_hosts,
        .serials = pg_console_serials,
        .events_span = pg_console_events_span,
};
