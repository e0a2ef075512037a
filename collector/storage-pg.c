/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PostgreSQL storage: a connection pool, the schema (created under an advisory lock, so several collectors
 * may start at once), monthly partitions of the events table, tokens and certificates. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query-sql.h"
#include "storage-pg.h"
#include "strutil.h"

/* Advisory lock keys (pg_advisory_xact_lock(MNGUARD, what)). */
#define PG_LOCK_NAMESPACE 0x6d6e67  /* "mng" */
#define PG_LOCK_SCHEMA 1
#define PG_LOCK_PARTITIONS 2

/* The storage format this collector writes (mnguard_meta 'format'). 1: events keyed by the host id text;
 * 2: events keyed by the host's integer key (hosts.host_key), read through the view "events". */
#define PG_FORMAT 2

/* Identifiers, names and serials are compared byte for byte (COLLATE "C"): with the database's default collation
 * (C.UTF-8 is not PostgreSQL's fast "C") every index insert went through strcoll, a third of the backend's time
 * when draining a backlog.
 * Events carry the host's integer key, not its 32-character id: the three host indexes' tuples are 32 instead
 * of 56 bytes and their comparisons integer ones (the backend's btree inserts were 62 % of a drain). Readers
 * see host_id through the view "events".
 * User, device serial and vendor:product share one GIN index (events_attrs) instead of a btree each: an event's
 * three entries go to the index's pending list and are merged in sorted runs, where three btree inserts at
 * scattered places cost the backend ~6.6 of its ~16 µs per event in a drain. A query for one of them reads the
 * matching rows through a bitmap (or walks events_ts when they are common) instead of an ordered index range.
 * Its pending list is kept at 512 kB (not 4 MB): every query reads it whole until it is merged, and a merge
 * done by an ingest is then ~3,000 events' worth.
 * Databases made by earlier versions lose the three btrees and gain events_attrs at the first start. */
static const char schema[] =
        "CREATE TABLE IF NOT EXISTS mnguard_meta (key text PRIMARY KEY, value text NOT NULL);"
        "CREATE TABLE IF NOT EXISTS hosts (host_id text COLLATE \"C\" PRIMARY KEY, host_name text, grp text,"
        "  enrolled bigint NOT NULL DEFAULT 0, last_seen bigint NOT NULL DEFAULT 0,"
        "  first_seq bigint NOT NULL DEFAULT 0, contiguous_seq bigint NOT NULL DEFAULT 0,"
        "  last_seq bigint NOT NULL DEFAULT 0, n_events bigint NOT NULL DEFAULT 0,"
        "  n_broken bigint NOT NULL DEFAULT 0, chain text NOT NULL DEFAULT 'empty', host_key bigserial);"
        "CREATE UNIQUE INDEX IF NOT EXISTS hosts_key ON hosts (host_key);"
        "CREATE TABLE IF NOT EXISTS event_rows (host_key bigint NOT NULL, seq bigint NOT NULL, ts bigint NOT NULL,"
        "  received bigint NOT NULL, action text COLLATE \"C\" NOT NULL, user_name text COLLATE \"C\","
        "  dev_serial text COLLATE \"C\", dev_vidpid text COLLATE \"C\","
        "  flags integer NOT NULL, hash bytea NOT NULL, prev_hash bytea NOT NULL, digest bytea NOT NULL,"
        "  body text NOT NULL)"
        "  PARTITION BY RANGE (ts);"
        "CREATE INDEX IF NOT EXISTS events_host_seq ON event_rows (host_key, seq);"
        "CREATE INDEX IF NOT EXISTS events_host_ts ON event_rows (host_key, ts, seq);"
        "CREATE INDEX IF NOT EXISTS events_ts ON event_rows (ts, host_key, seq);"
        "CREATE INDEX IF NOT EXISTS events_attrs ON event_rows USING gin ((" SQL_PG_EVENT_ATTRS "))"
        "  WITH (gin_pending_list_limit = 512);"
        "DROP INDEX IF EXISTS events_user, events_serial, events_vidpid;"
        "CREATE TABLE IF NOT EXISTS events_default PARTITION OF event_rows DEFAULT;"
        "CREATE TABLE IF NOT EXISTS alerts (id bigserial PRIMARY KEY, host_id text COLLATE \"C\" NOT NULL, created bigint NOT NULL,"
        "  kind text NOT NULL, seq bigint NOT NULL, seq_end bigint NOT NULL, detail text NOT NULL, body text);"
        "CREATE INDEX IF NOT EXISTS alerts_host ON alerts (host_id, id);"
        "CREATE TABLE IF NOT EXISTS tokens (hash bytea PRIMARY KEY, grp text NOT NULL, created bigint NOT NULL,"
        "  expires bigint NOT NULL, uses integer NOT NULL);"
        "CREATE TABLE IF NOT EXISTS certs (serial text COLLATE \"C\" PRIMARY KEY, kind text NOT NULL, subject text NOT NULL,"
        "  role text, grp text, issued bigint NOT NULL, not_after bigint NOT NULL, revoked boolean NOT NULL DEFAULT false);"
        "CREATE INDEX IF NOT EXISTS certs_subject ON certs (subject);"
        "CREATE TABLE IF NOT EXISTS policies (id bigserial PRIMARY KEY, grp text NOT NULL, serial bigint NOT NULL,"
        "  name text NOT NULL, key_id text NOT NULL, published bigint NOT NULL, published_by text NOT NULL,"
        "  data bytea NOT NULL, signature bytea NOT NULL, UNIQUE (grp, serial));"
        "CREATE TABLE IF NOT EXISTS tickets (id bigserial PRIMARY KEY, host_id text COLLATE \"C\" NOT NULL,"
        "  ticket_id text NOT NULL UNIQUE, queued bigint NOT NULL, queued_by text NOT NULL, data bytea NOT NULL);"
        "CREATE INDEX IF NOT EXISTS tickets_host ON tickets (host_id, id);"
        "INSERT INTO mnguard_meta (key, value) VALUES ('format', '2') ON CONFLICT (key) DO UPDATE SET value = '2' "
        "  WHERE mnguard_meta.value = '1';";

/* Created when missing only: replacing it would wait for every query reading it in other collectors. */
static const char events_view[] =
        "CREATE VIEW events AS SELECT h.host_id, e.seq, e.ts, e.received, e.action, e.user_name, e.dev_serial,"
        "  e.dev_vidpid, e.flags, e.hash, e.prev_hash, e.digest, e.body, e.host_key"
        "  FROM event_rows e JOIN hosts h ON h.host_key = e.host_key;";

/* Format 1 → 2, at the first start of this version, in the schema transaction (all or nothing): every host
 * gets its key (a host row missing for some events is made first), the events table becomes event_rows
 * with host_key instead of host_id. The UPDATE rewrites every row once; a VACUUM afterwards gives the old
 * row versions back. */
static const char convert_1_to_2[] =
        "INSERT INTO hosts (host_id) SELECT DISTINCT host_id FROM events ON CONFLICT DO NOTHING;"
        "ALTER TABLE hosts ADD COLUMN host_key bigserial;"
        "ALTER TABLE events RENAME TO event_rows;"
        "DROP INDEX IF EXISTS events_host_seq, events_host_ts, events_ts;"
        "ALTER TABLE event_rows ADD COLUMN host_key bigint;"
        "UPDATE event_rows e SET host_key = h.host_key FROM hosts h WHERE h.host_id = e.host_id;"
        "ALTER TABLE event_rows ALTER COLUMN host_key SET NOT NULL, DROP COLUMN host_id;";

/* Brings the schema to PG_FORMAT inside the schema transaction. -EPROTO: a newer format. */
static int pg_schema(PGconn *c) {
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = pg_query(c, "SELECT (SELECT relkind FROM pg_class WHERE oid = to_regclass('events')), "
                            "to_regclass('mnguard_meta') IS NOT NULL", 0, NULL, NULL, NULL, &res);
        if (r < 0)
                return r;
        const char *events_kind = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
        if (streq(PQgetvalue(res, 0, 1), "t")) {
                _cleanup_(PQclearp) PGresult *fmt = NULL;
                uint64_t format = 0;
                r = pg_query(c, "SELECT value FROM mnguard_meta WHERE key = 'format'", 0, NULL, NULL, NULL, &fmt);
                if (r < 0)
                        return r;
                if (PQntuples(fmt) == 1 && (parse_u64(PQgetvalue(fmt, 0, 0), &format) < 0 || format > PG_FORMAT))
                        return -EPROTO;
        }
        if (events_kind && !streq(events_kind, "v")) {
                r = pg_exec(c, convert_1_to_2);
                if (r < 0)
                        return r;
                events_kind = NULL;
        }
        r = pg_exec(c, schema);
        if (r >= 0 && !events_kind)
                r = pg_exec(c, events_view);
        return r;
}

int pg_result_errno(PGconn *c, const PGresult *res) {
        if (!c || PQstatus(c) != CONNECTION_OK)
                return -ECONNRESET;
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (!state)
                return res ? -EIO : -ECONNRESET;
        if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 || strncmp(state, "53", 2) == 0)
                return -ECONNRESET;     /* connection exception, shutdown, insufficient resources */
        if (streq(state, "40001") || streq(state, "40P01") || streq(state, "55P03"))
                return -EAGAIN;         /* serialization failure, deadlock, lock not available */
        if (streq(state, "23505"))
                return -EEXIST;
        if (strncmp(state, "22", 2) == 0)
                return -EINVAL;
        return -EIO;
}

char *pg_value_dup(const PGresult *res, int row, int col) {
        return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

uint64_t pg_value_u64(const PGresult *res, int row, int col) {
        uint64_t v = 0;
        (void) parse_u64(PQgetvalue(res, row, col), &v);
        return v;
}

int pg_exec(PGconn *c, const char *sql) {
        _cleanup_(PQclearp) PGresult *res = PQexec(c, sql);
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
                return 0;
        return pg_result_errno(c, res);
}

/* Hands a successful result to *ret; otherwise frees it and returns the error. */
static int take_result(PGconn *c, PGresult *res, PGresult **ret) {
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                *ret = res;
                return 0;
        }
        int r = pg_result_errno(c, res);
        PQclear(res);
        return r;
}

int pg_query(PGconn *c, const char *sql, int n, const char *const *values, const int *lengths, const int *binary,
             PGresult **ret) {
        return take_result(c, PQexecParams(c, sql, n, NULL, values, lengths, binary, 0), ret);
}

int pg_query_prepared(PgStorage *s, unsigned index, PgStmt id, const char *sql, int n, const char *const *values,
                      const int *lengths, const int *binary, PGresult **ret) {
        PGconn *c = s->conns[index];
        char name[24];
        snprintf(name, sizeof(name), "mnguard_%u", (unsigned) id);
        if (!(s->prepared[index] & (UINT32_C(1) << id))) {
                _cleanup_(PQclearp) PGresult *p = PQprepare(c, name, sql, n, NULL);
                if (!p || PQresultStatus(p) != PGRES_COMMAND_OK)
                        return pg_result_errno(c, p);
                s->prepared[index] |= UINT32_C(1) << id;
        }
        return take_result(c, PQexecPrepared(c, name, n, values, lengths, binary, 0), ret);
}

static PGconn *pg_connect(const char *conninfo) {
        const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
        const char *values[] = { PG_CONNECT_TIMEOUT_S, "mnguard-collector", conninfo, NULL };
        PGconn *c = PQconnectdbParams(keys, values, 1);
        if (c && PQstatus(c) == CONNECTION_OK) {
                /* quiet NOTICEs (e.g. "relation already exists, skipping") */
                PQsetNoticeProcessor(c, NULL, NULL);
                PQclear(PQexec(c, "SET client_min_messages = warning"));
        }
        return c;
}

int pg_conn_get(PgStorage *s, PGconn **ret, unsigned *ret_index) {
        unsigned i;
        pthread_mutex_lock(&s->lock);
        for (;;) {
                for (i = 0; i < s->n_conns; i++)
                        if (!s->busy[i])
                                break;
                if (i < s->n_conns)
                        break;
                pthread_cond_wait(&s->cond, &s->lock);
        }
        s->busy[i] = true;
        bool check = s->checked_gen[i] < s->broken_gen;
        s->checked_gen[i] = s->broken_gen;
        pthread_mutex_unlock(&s->lock);

        PGconn *c = s->conns[i];
        if (c && check && PQstatus(c) == CONNECTION_OK) {
                /* another connection broke since this one was last used: one round trip tells */
                _cleanup_(PQclearp) PGresult *res = PQexec(c, "SELECT 1");
                if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
                        PQfinish(c);
                        s->conns[i] = c = NULL; /* connected again below */
                }
        }
        if (!c || PQstatus(c) != CONNECTION_OK) {
                if (c)
                        PQfinish(c);
                s->conns[i] = c = pg_connect(s->conninfo);
                s->prepared[i] = 0;
                if (!c || PQstatus(c) != CONNECTION_OK) {
                        pg_conn_put(s, i);
                        return -ENOTCONN;
                }
        }
        *ret = c;
        *ret_index = i;
        return 0;
}

void pg_conn_put(PgStorage *s, unsigned index) {
        bool broken = s->conns[index] && PQstatus(s->conns[index]) != CONNECTION_OK;
        pthread_mutex_lock(&s->lock);
        if (broken)
                s->broken_gen++;
        s->busy[index] = false;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
}

static void pg_close(Storage *base) {
        PgStorage *s = (PgStorage *) base;
        for (unsigned i = 0; i < s->n_conns; i++)
                if (s->conns[i])
                        PQfinish(s->conns[i]);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s->conninfo);
        free(s);
}

static int pg_open(const char *location, unsigned n_connections, Storage **ret) {
        PgStorage *s = calloc(1, sizeof(*s));
        PGconn *c;
        unsigned idx;
        int r;

        if (!s)
                return -ENOMEM;
        s->base.ops = &storage_postgresql_ops;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        s->n_conns = n_connections < PG_POOL_MAX ? n_connections : PG_POOL_MAX;
        s->conninfo = strdup(location);
        if (!s->conninfo) {
                pg_close(&s->base);
                return -ENOMEM;
        }
        r = pg_conn_get(s, &c, &idx);
        if (r < 0) {
                pg_close(&s->base);
                return -ECONNREFUSED;
        }
        char lock[128];
        snprintf(lock, sizeof(lock), "BEGIN; SELECT pg_advisory_xact_lock(%d, %d);", PG_LOCK_NAMESPACE, PG_LOCK_SCHEMA);
        r = pg_exec(c, lock);
        if (r >= 0)
                r = pg_schema(c);
        if (r >= 0)
                r = pg_console_schema(c);
        if (r >= 0)
                r = pg_exec(c, "COMMIT");
        else
                pg_exec(c, "ROLLBACK");
        pg_conn_put(s, idx);
        if (r < 0) {
                pg_close(&s->base);
                return r;
        }
        *ret = &s->base;
        return 0;
}

static int pg_ping(Storage *base) {
        PgStorage *s = (PgStorage *) base;
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        r = pg_exec(c, "SELECT 1");
        pg_conn_put(s, idx);
        return r;
}

int pg_bytea_hash(const char *text, uint8_t out[static SHA256_SIZE]) {
        if (!text || strlen(text) != 2 + 2 * SHA256_SIZE || text[0] != '\\' || text[1] != 'x')
                return -EINVAL;
        for (size_t i = 0; i < SHA256_SIZE; i++) {
                uint8_t v = 0;
                for (int k = 0; k < 2; k++) {
                        char ch = text[2 + 2 * i + (size_t) k];
                        v = (uint8_t) (v << 4);
                        if (ch >= '0' && ch <= '9')
                                v |= (uint8_t) (ch - '0');
                        else if (ch >= 'a' && ch <= 'f')
                                v |= (uint8_t) (ch - 'a' + 10);
                        else
                                return -EINVAL;
                }
                out[i] = v;
        }
        return 0;
}

/* ---- partitions ---- */

static bool month_known(PgStorage *s, int32_t m) {
        bool found = false;
        pthread_mutex_lock(&s->lock);
        for (unsigned i = 0; i < s->n_known_months && !found; i++)
                found = s->known_months[i] == m;
        pthread_mutex_unlock(&s->lock);
        return found;
}

static void month_remember(PgStorage *s, int32_t m) {
        pthread_mutex_lock(&s->lock);
        if (s->n_known_months < PG_KNOWN_PARTITIONS_MAX)
                s->known_months[s->n_known_months++] = m;
        pthread_mutex_unlock(&s->lock);
}

static int32_t month_of(uint64_t usec) {
        int y, m, d;
        days_to_civil((int64_t) (usec / 1000000u / 86400u), &y, &m, &d);
        return (int32_t) y * 12 + m - 1;
}

static int64_t month_start_usec(int32_t month) {
        int64_t days;
        if (civil_to_days(month / 12, month % 12 + 1, 1, &days) < 0)
                return -1;
        return days * 86400 * 1000000;
}

/* Creates events_YYYYMM for one month; rows of that month already in events_default move into it. */
static int create_partition(PGconn *c, int32_t month) {
        char sql[1024], name[32];
        int64_t from = month_start_usec(month), to = month_start_usec(month + 1);
        int r;
        if (from < 0 || to < 0)
                return -ERANGE;
        snprintf(name, sizeof(name), "events_%04d%02d", month / 12, month % 12 + 1);
        snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%d, %d);", PG_LOCK_NAMESPACE, PG_LOCK_PARTITIONS);
        r = pg_exec(c, sql);
        if (r < 0)
                return r;
        snprintf(sql, sizeof(sql), "SELECT to_regclass('%s') IS NOT NULL, "
                                   "EXISTS (SELECT 1 FROM events_default WHERE ts >= %lld AND ts < %lld)",
                 name, (long long) from, (long long) to);
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query(c, sql, 0, NULL, NULL, NULL, &res);
        if (r < 0)
                goto rollback;
        bool exists = streq(PQgetvalue(res, 0, 0), "t"), in_default = streq(PQgetvalue(res, 0, 1), "t");
        if (!exists && !in_default)
                snprintf(sql, sizeof(sql), "CREATE TABLE %s PARTITION OF event_rows FOR VALUES FROM (%lld) TO (%lld)",
                         name, (long long) from, (long long) to);
        else if (!exists)
                snprintf(sql, sizeof(sql),
                         "CREATE TABLE %1$s (LIKE event_rows INCLUDING DEFAULTS INCLUDING CONSTRAINTS);"
                         "WITH moved AS (DELETE FROM events_default WHERE ts >= %2$lld AND ts < %3$lld RETURNING *) "
                         "INSERT INTO %1$s SELECT * FROM moved;"
                         "ALTER TABLE event_rows ATTACH PARTITION %1$s FOR VALUES FROM (%2$lld) TO (%3$lld);",
                         name, (long long) from, (long long) to);
        if (!exists) {
                r = pg_exec(c, sql);
                if (r < 0)
                        goto rollback;
        }
        return pg_exec(c, "COMMIT");
rollback:
        pg_exec(c, "ROLLBACK");
        return r;
}

/* The months of records that have no partition yet (records outside the months kept as partitions stay in
 * events_default). */
#define PG_MONTHS_WANTED_MAX 64     /* new partitions looked for in one batch */

static size_t months_wanted(PgStorage *s, IngestRecord *const *records, size_t n, uint64_t now_usec,
                            int32_t wanted[static PG_MONTHS_WANTED_MAX]) {
        int32_t lo = month_of(now_usec) - PG_PARTITION_PAST_MONTHS, hi = month_of(now_usec) + PG_PARTITION_FUTURE_MONTHS;
        int32_t known = INT32_MIN;      /* the last month found known: records come in time order */
        size_t n_wanted = 0;

        for (size_t i = 0; i < n && n_wanted < PG_MONTHS_WANTED_MAX; i++) {
                int32_t m = month_of(records[i]->timestamp_usec);
                bool dup = false;
                if (m < lo || m > hi || m == known)
                        continue;
                for (size_t k = 0; k < n_wanted && !dup; k++)
                        dup = wanted[k] == m;
                if (dup)
                        continue;
                if (month_known(s, m))
                        known = m;
                else
                        wanted[n_wanted++] = m;
        }
        return n_wanted;
}

bool pg_ingest_prepared(Storage *base, IngestRecord *const *records, size_t n, uint64_t now_usec) {
        int32_t wanted[PG_MONTHS_WANTED_MAX];
        return months_wanted((PgStorage *) base, records, n, now_usec, wanted) == 0;
}

int pg_ingest_prepare(Storage *base, IngestRecord *const *records, size_t n, uint64_t now_usec) {
        PgStorage *s = (PgStorage *) base;
        int32_t wanted[PG_MONTHS_WANTED_MAX];
        size_t n_wanted = months_wanted(s, records, n, now_usec, wanted);

        if (n_wanted == 0)
                return 0;
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n_wanted && r >= 0; k++) {
                r = create_partition(c, wanted[k]);
                if (r >= 0)
                        month_remember(s, wanted[k]);
        }
        pg_conn_put(s, idx);
        return r;
}

/* ---- tokens and certificates ---- */

void pg_bytea_text(const uint8_t h[static SHA256_SIZE], char out[static 2 * SHA256_SIZE + 3]) {
        static const char digits[] = "0123456789abcdef";
        out[0] = '\\';
        out[1] = 'x';
        for (size_t i = 0; i < SHA256_SIZE; i++) {
                out[2 + 2 * i] = digits[h[i] >> 4];
                out[3 + 2 * i] = digits[h[i] & 15];
        }
        out[2 + 2 * SHA256_SIZE] = 0;
}

static void bytea_hex(const uint8_t *p, size_t n, char *out /* 2n + 3 */) {
        static const char digits[] = "0123456789abcdef";
        out[0] = '\\';
        out[1] = 'x';
        for (size_t i = 0; i < n; i++) {
                out[2 + 2 * i] = digits[p[i] >> 4];
                out[3 + 2 * i] = digits[p[i] & 15];
        }
        out[2 + 2 * n] = 0;
}

static int pg_token_add(Storage *base, const TokenRecord *t) {
        PgStorage *s = (PgStorage *) base;
        char hash[2 * SHA256_SIZE + 3], created[24], expires[24], uses[16];
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        bytea_hex(t->hash, SHA256_SIZE, hash);
        snprintf(created, sizeof(created), "%llu", (unsigned long long) t->created_usec);
        snprintf(expires, sizeof(expires), "%llu", (unsigned long long) t->expires_usec);
        snprintf(uses, sizeof(uses), "%u", t->uses);
        const char *v[] = { hash, t->group, created, expires, uses };
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query(c, "INSERT INTO tokens (hash, grp, created, expires, uses) VALUES ($1, $2, $3, $4, $5)", 5, v,
                     NULL, NULL, &res);
        pg_conn_put(s, idx);
        return r;
}

static int pg_token_consume(Storage *base, const uint8_t h[SHA256_SIZE], uint64_t now, TokenRecord *ret) {
        PgStorage *s = (PgStorage *) base;
        char hash[2 * SHA256_SIZE + 3], nows[24];
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        bytea_hex(h, SHA256_SIZE, hash);
        snprintf(nows, sizeof(nows), "%llu", (unsigned long long) now);
        const char *v[] = { hash, nows };
        _cleanup_(PQclearp) PGresult *res = NULL;
        /* one statement: two collectors cannot both take the last use */
        r = pg_query(c, "UPDATE tokens SET uses = uses - 1 WHERE hash = $1 AND uses > 0 AND expires > $2 "
                        "RETURNING grp, created, expires, uses", 2, v, NULL, NULL, &res);
        if (r >= 0 && PQntuples(res) == 1) {
                TokenRecord t = {};
                memcpy(t.hash, h, SHA256_SIZE);
                snprintf(t.group, sizeof(t.group), "%s", PQgetvalue(res, 0, 0));
                (void) parse_u64(PQgetvalue(res, 0, 1), &t.created_usec);
                (void) parse_u64(PQgetvalue(res, 0, 2), &t.expires_usec);
                uint64_t u = 0;
                (void) parse_u64(PQgetvalue(res, 0, 3), &u);
                t.uses = (uint32_t) u;
                *ret = t;
        } else if (r >= 0) {
                _cleanup_(PQclearp) PGresult *why = NULL;
                r = pg_query(c, "SELECT uses > 0, expires > $2 FROM tokens WHERE hash = $1", 2, v, NULL, NULL, &why);
                if (r >= 0)
                        r = PQntuples(why) == 0 ? -ENOENT : !streq(PQgetvalue(why, 0, 0), "t") ? -EUSERS : -EKEYEXPIRED;
        }
        pg_conn_put(s, idx);
        return r;
}

static int pg_cert_add(Storage *base, const CertRecord *cr, const char *host_name) {
        PgStorage *s = (PgStorage *) base;
        char issued[24], not_after[24], detail[ALERT_DETAIL_MAX];
        const char *kind = cr->kind == CERT_HOST ? "host" : "operator";
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        snprintf(issued, sizeof(issued), "%llu", (unsigned long long) cr->issued_usec);
        snprintf(not_after, sizeof(not_after), "%llu", (unsigned long long) cr->not_after_usec);
        snprintf(detail, sizeof(detail), "enrolled in group %s, certificate %s", cr->group, cr->serial);
        r = pg_exec(c, "BEGIN");
        if (r < 0)
                goto out;
        {
                const char *v[] = { cr->subject, kind };
                _cleanup_(PQclearp) PGresult *res = NULL;
                r = pg_query(c, "UPDATE certs SET revoked = true WHERE subject = $1 AND kind = $2", 2, v, NULL, NULL, &res);
                if (r < 0)
                        goto rollback;
        }
        {
                const char *v[] = { cr->serial, kind, cr->subject, operator_role_to_string(cr->role), cr->group, issued,
                                    not_after };
                _cleanup_(PQclearp) PGresult *res = NULL;
                r = pg_query(c, "INSERT INTO certs (serial, kind, subject, role, grp, issued, not_after) "
                                "VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, v, NULL, NULL, &res);
                if (r < 0)
                        goto rollback;
        }
        if (cr->kind == CERT_HOST) {
                const char *v[] = { cr->subject, host_name, cr->group, issued, detail };
                _cleanup_(PQclearp) PGresult *res = NULL, *res2 = NULL;
                r = pg_query(c, "INSERT INTO hosts (host_id, host_name, grp, enrolled) VALUES ($1, $2, $3, $4) "
                                "ON CONFLICT (host_id) DO UPDATE SET host_name = COALESCE($2, hosts.host_name), "
                                "grp = $3, enrolled = $4", 4, v, NULL, NULL, &res);
                if (r < 0)
                        goto rollback;
                const char *va[] = { cr->subject, issued, detail };
                r = pg_query(c, "INSERT INTO alerts (host_id, created, kind, seq, seq_end, detail) "
                                "VALUES ($1, $2, 'enrolled', 0, 0, $3)", 3, va, NULL, NULL, &res2);
                if (r < 0)
                        goto rollback;
        }
        r = pg_exec(c, "COMMIT");
        goto out;
rollback:
        pg_exec(c, "ROLLBACK");
out:
        pg_conn_put(s, idx);
        return r;
}

static int pg_cert_get(Storage *base, const char *serial, CertRecord *ret) {
        PgStorage *s = (PgStorage *) base;
        PGconn *c;
        unsigned idx;
        const char *v[] = { serial };
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r;
        for (unsigned attempt = 0;; attempt++) {
                if ((r = pg_conn_get(s, &c, &idx)) < 0)
                        return r;
                r = pg_query_prepared(s, idx, PG_STMT_CERT_GET,
                                      "SELECT kind, subject, role, grp, issued, not_after, revoked FROM certs WHERE serial = $1",
                                      1, v, NULL, NULL, &res);
                /* A pooled connection that broke while idle (the server restarted) fails its first query: every
                 * request checks its certificate here, so that one is run again on a new connection at once
                 * rather than answered 503. */
                if (r != -ECONNRESET || attempt > 0 || PQstatus(c) == CONNECTION_OK)
                        break;
                pg_conn_put(s, idx);
        }
        if (r >= 0 && PQntuples(res) == 0)
                r = -ENOENT;
        else if (r >= 0) {
                CertRecord cr = {};
                snprintf(cr.serial, sizeof(cr.serial), "%s", serial);
                cr.kind = streq(PQgetvalue(res, 0, 0), "host") ? CERT_HOST : CERT_OPERATOR;
                snprintf(cr.subject, sizeof(cr.subject), "%s", PQgetvalue(res, 0, 1));
                if (operator_role_from_string(PQgetvalue(res, 0, 2), &cr.role) < 0)
                        cr.role = ROLE_NONE;
                snprintf(cr.group, sizeof(cr.group), "%s", PQgetvalue(res, 0, 3));
                (void) parse_u64(PQgetvalue(res, 0, 4), &cr.issued_usec);
                (void) parse_u64(PQgetvalue(res, 0, 5), &cr.not_after_usec);
                cr.revoked = streq(PQgetvalue(res, 0, 6), "t");
                *ret = cr;
        }
        pg_conn_put(s, idx);
        return r;
}

static int pg_cert_revoke(Storage *base, const char *serial, const char *subject) {
        PgStorage *s = (PgStorage *) base;
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        const char *v[] = { serial ?: subject };
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query(c, serial ? "UPDATE certs SET revoked = true WHERE serial = $1 AND NOT revoked"
                               : "UPDATE certs SET revoked = true WHERE subject = $1 AND NOT revoked", 1, v, NULL, NULL, &res);
        if (r >= 0) {
                uint64_t n = 0;
                (void) parse_u64(PQcmdTuples(res), &n);
                r = (int) n;
        }
        pg_conn_put(s, idx);
        return r;
}

const StorageOps storage_postgresql_ops = {
        .scheme = "postgresql",
        .open = pg_open,
        .close = pg_close,
        .ping = pg_ping,
        .token_add = pg_token_add,
        .token_consume = pg_token_consume,
        .cert_add = pg_cert_add,
        .cert_get = pg_cert_get,
        .cert_revoke = pg_cert_revoke,
        .ingest_prepare = pg_ingest_prepare,
        .ingest_prepared = pg_ingest_prepared,
        .ingest_begin = pg_ingest_begin,
        .ingest_existing = pg_ingest_existing,
        .ingest_sequences_after = pg_ingest_sequences_after,
        .ingest_insert = pg_ingest_insert,
        .ingest_copy_begin = pg_ingest_copy_begin,
        .ingest_copy_add = pg_ingest_copy_add,
        .ingest_copy_end = pg_ingest_copy_end,
        .ingest_alert = pg_ingest_alert,
        .ingest_commit = pg_ingest_commit,
        .ingest_abort = pg_ingest_abort,
        .host_get = pg_host_get,
        .hosts = pg_hosts,
        .events = pg_events,
        .alerts = pg_alerts,
        .policy_publish = pg_policy_publish,
        .policy_latest = pg_policy_latest,
        .policies = pg_policies,
        .published_state = pg_published_state,
        .ticket_queue = pg_ticket_queue,
        .tickets_after = pg_tickets_after,
        .host_set_group = pg_host_set_group,
};
