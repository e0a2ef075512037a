/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SQLite storage: one file in WAL mode, synchronous=FULL (an acknowledged batch is on disk). One writer
 * connection behind a mutex (SQLite has one writer anyway) and a pool of read connections, so queries
 * run beside ingest. */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "storage-sqlite.h"
#include "strutil.h"

/* The storage format this collector writes (meta 'format'). 1: events keyed by the host id text; 2: events
 * keyed by the host's integer key (hosts.host_key), read through the view "events". */
#define COLLECTOR_SQLITE_FORMAT 2

/* Events carry the host's integer key, not its 32-character id: smaller index entries, integer comparisons
 * (measured in docs/performance.md). Readers see host_id through the view "events". A host's key is given
 * when its row is made (the trigger), one more than the largest. */
static const char schema[] =
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS hosts (host_id TEXT PRIMARY KEY NOT NULL, host_name TEXT, grp TEXT,"
        "  enrolled INTEGER NOT NULL DEFAULT 0, last_seen INTEGER NOT NULL DEFAULT 0,"
        "  first_seq INTEGER NOT NULL DEFAULT 0, contiguous_seq INTEGER NOT NULL DEFAULT 0,"
        "  last_seq INTEGER NOT NULL DEFAULT 0, n_events INTEGER NOT NULL DEFAULT 0,"
        "  n_broken INTEGER NOT NULL DEFAULT 0, chain TEXT NOT NULL DEFAULT 'empty', host_key INTEGER);"
        "CREATE UNIQUE INDEX IF NOT EXISTS hosts_key ON hosts (host_key);"
        "CREATE TRIGGER IF NOT EXISTS hosts_key_new AFTER INSERT ON hosts WHEN NEW.host_key IS NULL BEGIN"
        "  UPDATE hosts SET host_key = (SELECT IFNULL(MAX(host_key), 0) + 1 FROM hosts) WHERE host_id = NEW.host_id;"
        "  END;"
        "CREATE TABLE IF NOT EXISTS event_rows (host_key INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,"
        "  received INTEGER NOT NULL, action TEXT NOT NULL, user_name TEXT, dev_serial TEXT, dev_vidpid TEXT,"
        "  flags INTEGER NOT NULL, hash BLOB NOT NULL, prev_hash BLOB NOT NULL, digest BLOB NOT NULL,"
        "  body TEXT NOT NULL);"
        "CREATE UNIQUE INDEX IF NOT EXISTS events_host_seq ON event_rows (host_key, seq);"
        "CREATE INDEX IF NOT EXISTS events_host_ts ON event_rows (host_key, ts, seq);"
        "CREATE INDEX IF NOT EXISTS events_ts ON event_rows (ts, host_key, seq);"
        "CREATE INDEX IF NOT EXISTS events_user ON event_rows (user_name, ts) WHERE user_name IS NOT NULL;"
        "CREATE INDEX IF NOT EXISTS events_serial ON event_rows (dev_serial, ts) WHERE dev_serial IS NOT NULL;"
        "CREATE INDEX IF NOT EXISTS events_vidpid ON event_rows (dev_vidpid, ts) WHERE dev_vidpid IS NOT NULL;"
        "CREATE VIEW IF NOT EXISTS events AS SELECT h.host_id AS host_id, e.seq AS seq, e.ts AS ts,"
        "  e.received AS received, e.action AS action, e.user_name AS user_name, e.dev_serial AS dev_serial,"
        "  e.dev_vidpid AS dev_vidpid, e.flags AS flags, e.hash AS hash, e.prev_hash AS prev_hash,"
        "  e.digest AS digest, e.body AS body, e.host_key AS host_key"
        "  FROM event_rows e JOIN hosts h ON h.host_key = e.host_key;"
        "CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, host_id TEXT NOT NULL, created INTEGER NOT NULL,"
        "  kind TEXT NOT NULL, seq INTEGER NOT NULL, seq_end INTEGER NOT NULL, detail TEXT NOT NULL, body TEXT);"
        "CREATE INDEX IF NOT EXISTS alerts_host ON alerts (host_id, id);"
        "CREATE TABLE IF NOT EXISTS tokens (hash BLOB PRIMARY KEY NOT NULL, grp TEXT NOT NULL,"
        "  created INTEGER NOT NULL, expires INTEGER NOT NULL, uses INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS certs (serial TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL,"
        "  subject TEXT NOT NULL, role TEXT, grp TEXT, issued INTEGER NOT NULL, not_after INTEGER NOT NULL,"
        "  revoked INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX IF NOT EXISTS certs_subject ON certs (subject);"
        "CREATE TABLE IF NOT EXISTS policies (id INTEGER PRIMARY KEY, grp TEXT NOT NULL, serial INTEGER NOT NULL,"
        "  name TEXT NOT NULL, key_id TEXT NOT NULL, published INTEGER NOT NULL, published_by TEXT NOT NULL,"
        "  data BLOB NOT NULL, signature BLOB NOT NULL);"
        "CREATE UNIQUE INDEX IF NOT EXISTS policies_grp_serial ON policies (grp, serial);"
        "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY AUTOINCREMENT, host_id TEXT NOT NULL,"
        "  ticket_id TEXT NOT NULL UNIQUE, queued INTEGER NOT NULL, queued_by TEXT NOT NULL, data BLOB NOT NULL);"
        "CREATE INDEX IF NOT EXISTS tickets_host ON tickets (host_id, id);"
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('format', '2');"
        "UPDATE meta SET value = '2' WHERE key = 'format' AND value = '1';";

/* Format 1 → 2 at the first start of this version, in the schema transaction (all or nothing): every host
 * gets its key (a host row missing for some events is made first) and the events are copied into
 * event_rows with it; the indexes are built afterwards by the schema. The file needs room for the copy
 * while it is made; VACUUM afterwards gives the old pages back to the file system. */
static const char convert_1_to_2[] =
        "INSERT OR IGNORE INTO hosts (host_id) SELECT DISTINCT host_id FROM events;"
        "ALTER TABLE hosts ADD COLUMN host_key INTEGER;"
        "UPDATE hosts SET host_key = rowid;"
        "DROP INDEX IF EXISTS events_host_seq; DROP INDEX IF EXISTS events_host_ts; DROP INDEX IF EXISTS events_ts;"
        "DROP INDEX IF EXISTS events_user; DROP INDEX IF EXISTS events_serial; DROP INDEX IF EXISTS events_vidpid;"
        "CREATE TABLE event_rows (host_key INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,"
        "  received INTEGER NOT NULL, action TEXT NOT NULL, user_name TEXT, dev_serial TEXT, dev_vidpid TEXT,"
        "  flags INTEGER NOT NULL, hash BLOB NOT NULL, prev_hash BLOB NOT NULL, digest BLOB NOT NULL,"
        "  body TEXT NOT NULL);"
        "INSERT INTO event_rows SELECT h.host_key, e.seq, e.ts, e.received, e.action, e.user_name, e.dev_serial,"
        "  e.dev_vidpid, e.flags, e.hash, e.prev_hash, e.digest, e.body FROM events e JOIN hosts h USING (host_id)"
        "  ORDER BY e.rowid;"
        "DROP TABLE events;";

/* Brings the schema to COLLECTOR_SQLITE_FORMAT, in one transaction. -EPROTO: a newer format. */
static int sqlite_schema(sqlite3 *db) {
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        bool convert = false;
        int r = sqlite_exec_sql(db, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = sqlite_prepare(db, "SELECT (SELECT type FROM sqlite_master WHERE name = 'events'), "
                               "(SELECT count(*) FROM sqlite_master WHERE name = 'meta')", &st);
        if (r >= 0) {
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        const char *type = (const char *) sqlite3_column_text(st, 0);
                        convert = type && strcmp(type, "table") == 0;
                        bool has_meta = sqlite3_column_int(st, 1) > 0;
                        sqlite3_finalize(TAKE_PTR(st));
                        if (has_meta)
                                r = sqlite_prepare(db, "SELECT value FROM meta WHERE key = 'format'", &st);
                        if (r >= 0 && has_meta && sqlite3_step(st) == SQLITE_ROW) {
                                uint64_t format = 0;
                                const char *v = (const char *) sqlite3_column_text(st, 0);
                                if (!v || parse_u64(v, &format) < 0 || format > COLLECTOR_SQLITE_FORMAT)
                                        r = -EPROTO;
                        }
                } else
                        r = sqlite_errno(rc);
        }
        sqlite3_finalize(TAKE_PTR(st));
        if (r >= 0 && convert)
                r = sqlite_exec_sql(db, convert_1_to_2);
        if (r >= 0)
                r = sqlite_exec_sql(db, schema);
        if (r >= 0)
                r = sqlite_console_schema(db);
        if (r >= 0)
                r = sqlite_exec_sql(db, "COMMIT");
        if (r < 0)
                (void) sqlite_exec_sql(db, "ROLLBACK");
        return r;
}

int sqlite_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW: return 0;
        case SQLITE_NOMEM: return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED: return -EBUSY;
        case SQLITE_FULL: return -ENOSPC;
        case SQLITE_READONLY: return -EROFS;
        case SQLITE_CANTOPEN: return -ENOENT;
        case SQLITE_CONSTRAINT: return -EEXIST;
        case SQLITE_TOOBIG: return -EMSGSIZE;
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT: return -EBADMSG;
        case SQLITE_PERM:
        case SQLITE_AUTH: return -EACCES;
        default: return -EIO;
        }
}

int sqlite_exec_sql(sqlite3 *db, const char *sql) {
        return sqlite_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

char *sqlite_column_strdup(sqlite3_stmt *st, int i) {
        const char *v = (const char *) sqlite3_column_text(st, i);
        return v ? strdup(v) : NULL;
}

int sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret) {
        return sqlite_errno(sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL));
}


static int open_connection(const char *path, bool readonly, sqlite3 **ret) {
        sqlite3 *db = NULL;
        /* Readers are used by one thread at a time (the pool). The writer too, under write_lock; it is
         * serialized by SQLite as well, so that a statement finalized after the lock was let go (an
         * error path, a _cleanup_) cannot corrupt it: that happened (index entries missing) before
         * sqlite_write_unlock() finalized them under the lock. */
        int flags = (readonly ? SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
                              : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX) |
                    SQLITE_OPEN_EXRESCODE;
        journal_sqlite_init();
        int rc = sqlite3_open_v2(path, &db, flags, NULL);
        if (rc != SQLITE_OK) {
                sqlite3_close_v2(db);
                return sqlite_errno(rc);
        }
        sqlite3_busy_timeout(db, SQLITE_BUSY_TIMEOUT_MS);
        int r = sqlite_exec_sql(db, readonly ? "PRAGMA query_only=1; PRAGMA cache_size=-" SQLITE_CACHE_KIB ";"
                                             : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-" SQLITE_CACHE_KIB ";"
                                               "PRAGMA wal_autocheckpoint=" SQLITE_WAL_CHECKPOINT_PAGES ";");
        if (r < 0) {
                sqlite3_close_v2(db);
                return r;
        }
        *ret = db;
        return 0;
}

static void sqlite_close(Storage *base) {
        SqliteStorage *s = (SqliteStorage *) base;
        for (unsigned i = 0; i < s->n_readers; i++)
                sqlite3_close_v2(s->readers[i]);
        /* the open group is committed on the writer before it is closed, not after */
        if (s->writer) {
                pthread_mutex_lock(&s->write_lock);
                sqlite_group_flush_locked(s);
                pthread_mutex_unlock(&s->write_lock);
        }
        sqlite_events_finalize(s);
        sqlite3_close_v2(s->writer);
        pthread_mutex_destroy(&s->write_lock);
        pthread_cond_destroy(&s->durable_cond);
        pthread_mutex_destroy(&s->pool_lock);
        pthread_cond_destroy(&s->pool_cond);
        free(s->path);
        free(s);
}

static int sqlite_open(const char *location, unsigned n_connections, Storage **ret) {
        SqliteStorage *s = calloc(1, sizeof(*s));
        int r;
        if (!s)
                return -ENOMEM;
        s->base.ops = &storage_sqlite_ops;
        pthread_mutex_init(&s->write_lock, NULL);
        pthread_cond_init(&s->durable_cond, NULL);
        pthread_mutex_init(&s->pool_lock, NULL);
        pthread_cond_init(&s->pool_cond, NULL);
        s->path = strdup(location);
        if (!s->path) {
                r = -ENOMEM;
                goto fail;
        }
        r = open_connection(location, false, &s->writer);
        if (r < 0)
                goto fail;
        r = sqlite_schema(s->writer);
        if (r < 0)
                goto fail;
        r = sqlite_events_prepare(s);
        if (r < 0)
                goto fail;
        s->n_readers = n_connections < SQLITE_READERS_MAX ? n_connections : SQLITE_READERS_MAX;
        for (unsigned i = 0; i < s->n_readers; i++) {
                r = open_connection(location, true, &s->readers[i]);
                if (r < 0) {
                        s->n_readers = i;
                        goto fail;
                }
        }
        *ret = &s->base;
        return 0;
fail:
        sqlite_close(&s->base);
        return r;
}

sqlite3 *sqlite_reader_get(SqliteStorage *s, unsigned *ret_index) {
        pthread_mutex_lock(&s->pool_lock);
        for (;;) {
                for (unsigned i = 0; i < s->n_readers; i++)
                        if (!s->reader_busy[i]) {
                                s->reader_busy[i] = true;
                                pthread_mutex_unlock(&s->pool_lock);
                                *ret_index = i;
                                return s->readers[i];
                        }
                pthread_cond_wait(&s->pool_cond, &s->pool_lock);
        }
}

void sqlite_reader_put(SqliteStorage *s, unsigned i) {
        pthread_mutex_lock(&s->pool_lock);
        s->reader_busy[i] = false;
        pthread_cond_signal(&s->pool_cond);
        pthread_mutex_unlock(&s->pool_lock);
}

static int sqlite_ping(Storage *base) {
        SqliteStorage *s = (SqliteStorage *) base;
        unsigned i;
        sqlite3 *db = sqlite_reader_get(s, &i);
        int r = sqlite_exec_sql(db, "SELECT 1 FROM meta LIMIT 1;");
        sqlite_reader_put(s, i);
        return r;
}

/* ---- tokens and certificates ---- */

static int sqlite_token_add(Storage *base, const TokenRecord *t) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        sqlite_write_lock(s);
        sqlite_group_flush_locked(s);
        int r = sqlite_prepare(s->writer, "INSERT INTO tokens (hash, grp, created, expires, uses) VALUES (?, ?, ?, ?, ?)", &st);
        if (r >= 0) {
                sqlite3_bind_blob(st, 1, t->hash, SHA256_SIZE, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, t->group, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, (int64_t) t->created_usec);
                sqlite3_bind_int64(st, 4, (int64_t) t->expires_usec);
                sqlite3_bind_int64(st, 5, t->uses);
                r = sqlite_errno(sqlite3_step(st));
        }
        sqlite_write_unlock(s, &st, NULL);
        return r;
}

static int sqlite_token_consume(Storage *base, const uint8_t hash[SHA256_SIZE], uint64_t now, TokenRecord *ret) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *sel = NULL, *upd = NULL;
        TokenRecord t = {};
        int r;

        sqlite_write_lock(s);
        sqlite_group_flush_locked(s);
        r = sqlite_exec_sql(s->writer, "BEGIN IMMEDIATE");
        if (r < 0)
                goto out;
        r = sqlite_prepare(s->writer, "SELECT grp, created, expires, uses FROM tokens WHERE hash = ?", &sel);
        if (r < 0)
                goto rollback;
        sqlite3_bind_blob(sel, 1, hash, SHA256_SIZE, SQLITE_STATIC);
        int rc = sqlite3_step(sel);
        if (rc == SQLITE_DONE) {
                r = -ENOENT;
                goto rollback;
        }
        if (rc != SQLITE_ROW) {
                r = sqlite_errno(rc);
                goto rollback;
        }
        memcpy(t.hash, hash, SHA256_SIZE);
        snprintf(t.group, sizeof(t.group), "%s", (const char *) sqlite3_column_text(sel, 0) ?: "default");
        t.created_usec = (uint64_t) sqlite3_column_int64(sel, 1);
        t.expires_usec = (uint64_t) sqlite3_column_int64(sel, 2);
        int64_t uses = sqlite3_column_int64(sel, 3);
        if (uses <= 0) {
                r = -EUSERS;
                goto rollback;
        }
        if (t.expires_usec <= now) {
                r = -EKEYEXPIRED;
                goto rollback;
        }
        r = sqlite_prepare(s->writer, "UPDATE tokens SET uses = uses - 1 WHERE hash = ?", &upd);
        if (r < 0)
                goto rollback;
        sqlite3_bind_blob(upd, 1, hash, SHA256_SIZE, SQLITE_STATIC);
        r = sqlite_errno(sqlite3_step(upd));
        if (r < 0)
                goto rollback;
        r = sqlite_exec_sql(s->writer, "COMMIT");
        if (r < 0)
                goto rollback;
        t.uses = (uint32_t) (uses - 1);
        *ret = t;
        goto out;
rollback:
        sqlite_exec_sql(s->writer, "ROLLBACK");
out:
        sqlite_write_unlock(s, &sel, &upd, NULL);
        return r;
}

static const char *cert_kind_str(CertKind k) {
        return k == CERT_HOST ? "host" : "operator";
}

static int sqlite_cert_add(Storage *base, const CertRecord *c, const char *host_name) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *rev = NULL, *ins = NULL, *host = NULL, *alert = NULL;
        int r;

        sqlite_write_lock(s);
        sqlite_group_flush_locked(s);
        r = sqlite_exec_sql(s->writer, "BEGIN IMMEDIATE");
        if (r < 0)
                goto out;
        /* one certificate per host or operator: enrolling again replaces the earlier ones */
        r = sqlite_prepare(s->writer, "UPDATE certs SET revoked = 1 WHERE subject = ? AND kind = ?", &rev);
        if (r < 0)
                goto rollback;
        sqlite3_bind_text(rev, 1, c->subject, -1, SQLITE_STATIC);
        sqlite3_bind_text(rev, 2, cert_kind_str(c->kind), -1, SQLITE_STATIC);
        r = sqlite_errno(sqlite3_step(rev));
        if (r < 0)
                goto rollback;
        r = sqlite_prepare(s->writer, "INSERT INTO certs (serial, kind, subject, role, grp, issued, not_after, revoked) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, 0)", &ins);
        if (r < 0)
                goto rollback;
        sqlite3_bind_text(ins, 1, c->serial, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, cert_kind_str(c->kind), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, c->subject, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, operator_role_to_string(c->role), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, c->group, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 6, (int64_t) c->issued_usec);
        sqlite3_bind_int64(ins, 7, (int64_t) c->not_after_usec);
        r = sqlite_errno(sqlite3_step(ins));
        if (r < 0)
                goto rollback;
        if (c->kind == CERT_HOST) {
                r = sqlite_prepare(s->writer, "INSERT INTO hosts (host_id, host_name, grp, enrolled) VALUES (?1, ?2, ?3, ?4) "
                                       "ON CONFLICT (host_id) DO UPDATE SET host_name = COALESCE(?2, host_name), "
                                       "grp = ?3, enrolled = ?4", &host);
                if (r < 0)
                        goto rollback;
                sqlite3_bind_text(host, 1, c->subject, -1, SQLITE_STATIC);
                if (host_name)
                        sqlite3_bind_text(host, 2, host_name, -1, SQLITE_STATIC);
                sqlite3_bind_text(host, 3, c->group, -1, SQLITE_STATIC);
                sqlite3_bind_int64(host, 4, (int64_t) c->issued_usec);
                r = sqlite_errno(sqlite3_step(host));
                if (r < 0)
                        goto rollback;
                r = sqlite_prepare(s->writer, "INSERT INTO alerts (host_id, created, kind, seq, seq_end, detail) "
                                       "VALUES (?, ?, 'enrolled', 0, 0, ?)", &alert);
                if (r < 0)
                        goto rollback;
                char detail[ALERT_DETAIL_MAX];
                snprintf(detail, sizeof(detail), "enrolled in group %s, certificate %s", c->group, c->serial);
                sqlite3_bind_text(alert, 1, c->subject, -1, SQLITE_STATIC);
                sqlite3_bind_int64(alert, 2, (int64_t) c->issued_usec);
                sqlite3_bind_text(alert, 3, detail, -1, SQLITE_STATIC);
                r = sqlite_errno(sqlite3_step(alert));
                if (r < 0)
                        goto rollback;
        }
        r = sqlite_exec_sql(s->writer, "COMMIT");
        if (r >= 0)
                goto out;
rollback:
        sqlite_exec_sql(s->writer, "ROLLBACK");
out:
        sqlite_write_unlock(s, &rev, &ins, &host, &alert, NULL);
        return r;
}

static int sqlite_cert_get(Storage *base, const char *serial, CertRecord *ret) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned idx;
        sqlite3 *db = sqlite_reader_get(s, &idx);
        int r = sqlite_prepare(db, "SELECT kind, subject, role, grp, issued, not_after, revoked FROM certs WHERE serial = ?", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        CertRecord c = {};
                        snprintf(c.serial, sizeof(c.serial), "%s", serial);
                        c.kind = streq((const char *) sqlite3_column_text(st, 0) ?: "", "host") ? CERT_HOST : CERT_OPERATOR;
                        snprintf(c.subject, sizeof(c.subject), "%s", (const char *) sqlite3_column_text(st, 1) ?: "");
                        if (operator_role_from_string((const char *) sqlite3_column_text(st, 2) ?: "", &c.role) < 0)
                                c.role = ROLE_NONE;
                        snprintf(c.group, sizeof(c.group), "%s", (const char *) sqlite3_column_text(st, 3) ?: "");
                        c.issued_usec = (uint64_t) sqlite3_column_int64(st, 4);
                        c.not_after_usec = (uint64_t) sqlite3_column_int64(st, 5);
                        c.revoked = sqlite3_column_int64(st, 6) != 0;
                        *ret = c;
                        r = 0;
                } else
                        r = rc == SQLITE_DONE ? -ENOENT : sqlite_errno(rc);
        }
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, idx);
        return r;
}

static int sqlite_cert_revoke(Storage *base, const char *serial, const char *subject) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        sqlite_write_lock(s);
        sqlite_group_flush_locked(s);
        int r = sqlite_prepare(s->writer, serial ? "UPDATE certs SET revoked = 1 WHERE serial = ? AND revoked = 0"
                                          : "UPDATE certs SET revoked = 1 WHERE subject = ? AND revoked = 0", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, serial ?: subject, -1, SQLITE_STATIC);
                r = sqlite_errno(sqlite3_step(st));
                if (r >= 0)
                        r = sqlite3_changes(s->writer);
        }
        sqlite_write_unlock(s, &st, NULL);
        return r;
}


const StorageOps storage_sqlite_ops = {
        .scheme = "sqlite",
        .open = sqlite_open,
        .close = sqlite_close,
        .ping = sqlite_ping,
        .token_add = sqlite_token_add,
        .token_consume = sqlite_token_consume,
        .cert_add = sqlite_cert_add,
        .cert_get = sqlite_cert_get,
        .cert_revoke = sqlite_cert_revoke,
        .ingest_begin = sqlite_ingest_begin,
        .ingest_existing = sqlite_ingest_existing,
        .ingest_sequences_after = sqlite_ingest_sequences_after,
        .ingest_insert = sqlite_ingest_insert,
        .ingest_alert = sqlite_ingest_alert,
        .ingest_commit = sqlite_ingest_commit,
        .ingest_abort = sqlite_ingest_abort,
        .host_get = sqlite_host_get,
        .hosts = sqlite_hosts,
        .events = sqlite_events,
        .alerts = sqlite_alerts,
        .policy_publish = sqlite_policy_publish,
        .policy_latest = sqlite_policy_latest,
        .policies = sqlite_policies,
        .published_state = sqlite_published_state,
        .ticket_queue = sqlite_ticket_queue,
        .tickets_after = sqlite_tickets_after,
        .host_set_group = sqlite_host_set_group,
};
