/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PostgreSQL backend: published policies, queued exception tickets, host groups (issue 7). Several
 * collectors may publish into one database: a publish takes a transaction-scoped advisory lock on its
 * group, so the "serial strictly greater" check and the insert cannot interleave. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage-pg.h"
#include "strutil.h"

static int unescape_bytea(const PGresult *res, int row, int col, char **ret, size_t *ret_len) {
        size_t n = 0;
        unsigned char *b = PQunescapeBytea((const unsigned char *) PQgetvalue(res, row, col), &n);
        if (!b)
                return -ENOMEM;
        char *d = malloc(n + 1);
        if (!d) {
                PQfreemem(b);
                return -ENOMEM;
        }
        memcpy(d, b, n);
        d[n] = 0;
        PQfreemem(b);
        *ret = d;
        *ret_len = n;
        return 0;
}

int pg_policy_publish(Storage *base, const PolicyRecord *p) {
        PgStorage *s = (PgStorage *) base;
        char serial[24], published[24], lock_ns[16];
        PGconn *c;
        unsigned idx;
        if (p->serial > INT64_MAX || p->data_len > INT32_MAX || p->signature_len > INT32_MAX)
                return -ERANGE;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        snprintf(serial, sizeof(serial), "%llu", (unsigned long long) p->serial);
        snprintf(published, sizeof(published), "%llu", (unsigned long long) p->published_usec);
        snprintf(lock_ns, sizeof(lock_ns), "%d", PG_LOCK_POLICIES);
        r = pg_exec(c, "BEGIN");
        if (r < 0)
                goto out;
        {
                const char *v[] = { lock_ns, p->group };
                _cleanup_(PQclearp) PGresult *res = NULL;
                r = pg_query(c, "SELECT pg_advisory_xact_lock($1::integer, hashtext($2))", 2, v, NULL, NULL, &res);
        }
        if (r >= 0) {
                const char *v[] = { p->group, serial, p->name, p->key_id, published, p->published_by, p->data, p->signature };
                const int len[] = { 0, 0, 0, 0, 0, 0, (int) p->data_len, (int) p->signature_len };
                const int bin[] = { 0, 0, 0, 0, 0, 0, 1, 1 };
                _cleanup_(PQclearp) PGresult *res = NULL;
                r = pg_query(c, "INSERT INTO policies (grp, serial, name, key_id, published, published_by, data, signature) "
                                "SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE NOT EXISTS "
                                "(SELECT 1 FROM policies WHERE grp = $1 AND serial >= $2::bigint)",
                             8, v, len, bin, &res);
                if (r >= 0 && streq(PQcmdTuples(res), "0"))
                        r = -ESTALE;
        }
        if (r >= 0)
                r = pg_exec(c, "COMMIT");
        if (r < 0)
                pg_exec(c, "ROLLBACK");
out:
        pg_conn_put(s, idx);
        return r;
}

#define POLICY_COLUMNS "grp, serial, name, key_id, published, published_by"

static void policy_from_row(const PGresult *res, int row, PolicyRecord *p) {
        *p = (PolicyRecord) {};
        snprintf(p->group, sizeof(p->group), "%s", PQgetvalue(res, row, 0));
        p->serial = pg_value_u64(res, row, 1);
        snprintf(p->name, sizeof(p->name), "%s", PQgetvalue(res, row, 2));
        snprintf(p->key_id, sizeof(p->key_id), "%s", PQgetvalue(res, row, 3));
        p->published_usec = pg_value_u64(res, row, 4);
        snprintf(p->published_by, sizeof(p->published_by), "%s", PQgetvalue(res, row, 5));
}

int pg_policy_latest(Storage *base, const char *group, bool with_data, PolicyRecord *ret) {
        PgStorage *s = (PgStorage *) base;
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        const char *v[] = { group };
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query(c, with_data ? "SELECT " POLICY_COLUMNS ", data, signature FROM policies WHERE grp = $1 "
                                    "ORDER BY serial DESC LIMIT 1"
                                  : "SELECT " POLICY_COLUMNS " FROM policies WHERE grp = $1 ORDER BY serial DESC LIMIT 1",
                     1, v, NULL, NULL, &res);
        pg_conn_put(s, idx);
        if (r < 0)
                return r;
        if (PQntuples(res) == 0)
                return -ENOENT;
        PolicyRecord p;
        policy_from_row(res, 0, &p);
        if (with_data && (unescape_bytea(res, 0, 6, &p.data, &p.data_len) < 0 ||
                          unescape_bytea(res, 0, 7, &p.signature, &p.signature_len) < 0)) {
                policy_record_done(&p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

int pg_policies(Storage *base, const char *group, uint64_t limit, PolicyFunc f, void *userdata) {
        PgStorage *s = (PgStorage *) base;
        char lim[24];
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        snprintf(lim, sizeof(lim), "%lld", limit > 0 && limit < INT64_MAX ? (long long) limit : (long long) INT64_MAX);
        const char *v[] = { group, lim };
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query(c, "SELECT " POLICY_COLUMNS " FROM policies WHERE ($1::text IS NULL OR grp = $1) "
                        "ORDER BY published DESC, id DESC LIMIT $2::bigint", 2, v, NULL, NULL, &res);
        pg_conn_put(s, idx);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                PolicyRecord p;
                policy_from_row(res, i, &p);
                r = f(&p, userdata);
                if (r != 0)
                        break;
        }
        return r < 0 ? r : 0;
}

int pg_published_state(Storage *base, PublishedState *ret) {
        PgStorage *s = (PgStorage *) base;
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        _cleanup_(PQclearp) PGresult *res = NULL, *tk = NULL;
        r = pg_query(c, "SELECT grp, MAX(serial) FROM policies GROUP BY grp", 0, NULL, NULL, NULL, &res);
        if (r >= 0)
                r = pg_query(c, "SELECT COALESCE(MAX(id), 0) FROM tickets", 0, NULL, NULL, NULL, &tk);
        pg_conn_put(s, idx);
        if (r < 0)
                return r;
        PublishedState ps = {};
        size_t n = (size_t) PQntuples(res);
        if (n > 0) {
                ps.groups = calloc(n, sizeof(*ps.groups));
                ps.serials = calloc(n, sizeof(*ps.serials));
                if (!ps.groups || !ps.serials) {
                        published_state_done(&ps);
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; i < n; i++) {
                snprintf(ps.groups[i], sizeof(ps.groups[i]), "%s", PQgetvalue(res, (int) i, 0));
                ps.serials[i] = pg_value_u64(res, (int) i, 1);
        }
        ps.n_groups = n;
        ps.last_ticket_id = PQntuples(tk) == 1 ? (int64_t) pg_value_u64(tk, 0, 0) : 0;
        *ret = ps;
        return 0;
}

int pg_ticket_queue(Storage *base, TicketRecord *t) {
        PgStorage *s = (PgStorage *) base;
        char queued[24];
        PGconn *c;
        unsigned idx;
        if (t->data_len > INT32_MAX)
                return -ERANGE;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        snprintf(queued, sizeof(queued), "%llu", (unsigned long long) t->queued_usec);
        const char *v[] = { t->host_id, t->ticket_id, queued, t->queued_by, t->data };
        const int len[] = { 0, 0, 0, 0, (int) t->data_len };
        const int bin[] = { 0, 0, 0, 0, 1 };
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query(c, "INSERT INTO tickets (host_id, ticket_id, queued, queued_by, data) VALUES ($1, $2, $3, $4, $5) "
                        "RETURNING id", 5, v, len, bin, &res);
        pg_conn_put(s, idx);
        if (r >= 0)
                t->id = (int64_t) pg_value_u64(res, 0, 0);
        return r;
}

int pg_tickets_after(Storage *base, const char *host_id, int64_t after, size_t max, TicketFunc f, void *userdata) {
        PgStorage *s = (PgStorage *) base;
        char after_s[24], max_s[24];
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        snprintf(after_s, sizeof(after_s), "%lld", (long long) after);
        snprintf(max_s, sizeof(max_s), "%zu", max);
        const char *v[] = { host_id, after_s, max_s };
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query(c, "SELECT id, host_id, ticket_id, queued, queued_by, data FROM tickets "
                        "WHERE host_id = $1 AND id > $2::bigint ORDER BY id LIMIT $3::bigint", 3, v, NULL, NULL, &res);
        pg_conn_put(s, idx);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                TicketRecord t = { .id = (int64_t) pg_value_u64(res, i, 0) };
                snprintf(t.host_id, sizeof(t.host_id), "%s", PQgetvalue(res, i, 1));
                snprintf(t.ticket_id, sizeof(t.ticket_id), "%s", PQgetvalue(res, i, 2));
                t.queued_usec = pg_value_u64(res, i, 3);
                snprintf(t.queued_by, sizeof(t.queued_by), "%s", PQgetvalue(res, i, 4));
                r = unescape_bytea(res, i, 5, &t.data, &t.data_len);
                if (r < 0)
                        break;
                r = f(&t, userdata);
                free(t.data);
                if (r != 0)
                        break;
        }
        return r < 0 ? r : 0;
}

int pg_host_set_group(Storage *base, const char *host_id, const char *group) {
        PgStorage *s = (PgStorage *) base;
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        const char *v[] = { group, host_id };
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query(c, "UPDATE hosts SET grp = $1 WHERE host_id = $2", 2, v, NULL, NULL, &res);
        pg_conn_put(s, idx);
        if (r >= 0 && streq(PQcmdTuples(res), "0"))
                r = -ENOENT;
        return r;
}
