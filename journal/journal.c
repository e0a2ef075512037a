/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Opening, creating and closing journals; the meta table; statistics. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "journal-internal.h"

uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

int sqlite_to_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_TOOBIG:
                return -EMSGSIZE;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_ERROR: /* SQL error, e.g. a missing table */
                return -EINVAL;
        default:
                return -EIO;
        }
}

int db_errno(sqlite3 *db, int rc) {
        if ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN) {
                int e = sqlite3_system_errno(db);
                if (e > 0)
                        return e == EDQUOT ? -ENOSPC : -e;
        }
        return sqlite_to_errno(rc);
}

int db_exec(sqlite3 *db, const char *sql) {
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : db_errno(db, rc);
}

int journal_exec(Journal *j, const char *sql) {
        return db_exec(j->db, sql);
}

int db_rollback(sqlite3 *db) {
        if (sqlite3_get_autocommit(db))
                return 0;
        return db_exec(db, "ROLLBACK");
}

int journal_rollback(Journal *j) {
        return db_rollback(j->db);
}

int db_setup_writer(sqlite3 *db, uint64_t max_size_bytes) {
        char sql[96];
        int r;
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, JOURNAL_BUSY_TIMEOUT_MSEC);
        if ((r = db_exec(db, "PRAGMA journal_mode = WAL")) < 0 || (r = db_exec(db, "PRAGMA synchronous = FULL")) < 0)
                return r;
        /* a resident daemon: a small page cache (the default 2 MiB per connection is most of its heap) */
        if ((r = db_exec(db, "PRAGMA cache_size = " JOURNAL_CACHE_SIZE)) < 0)
                return r;
        snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %d", JOURNAL_WAL_SIZE_LIMIT);
        if ((r = db_exec(db, sql)) < 0)
                return r;
        if (max_size_bytes > 0) {
                snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %" PRIu64, (max_size_bytes + 4095) / 4096);
                if ((r = db_exec(db, sql)) < 0)
                        return r;
        }
        return 0;
}

/* ---- opening ---- */

static Journal *journal_new(const char *path) {
        Journal *j = calloc(1, sizeof(Journal));
        if (!j)
                return NULL;
        j->head_fd = -1;
        j->streaming = true;
        j->backlog_max = JOURNAL_BACKLOG_MAX_EVENTS;
        pthread_mutex_init(&j->lock, NULL);
        pthread_cond_init(&j->wake_writer, NULL);
        pthread_cond_init(&j->wake_caller, NULL);
        j->path = strdup(path);
        buf_init(&j->scratch, JOURNAL_RECORD_MAX);
        if (!j->path)
                return journal_close(j);
        return j;
}

/* The first column of the first row of sql, an integer. */
static int query_u64(sqlite3 *db, const char *sql, uint64_t *ret) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                *ret = (uint64_t) sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
        return rc == SQLITE_OK ? 0 : db_errno(db, rc);
}

static void close_db(Journal *j) {
        runs_done(&j->runs);
        sqlite3_finalize(j->insert);
        j->insert = NULL;
        sqlite3_close_v2(j->db);
        j->db = NULL;
}

/* Reads the chain head: the last record, or the meta's last commit, or the anchor, whichever is newest. */
static int load_chain(Journal *j) {
        sqlite3_stmt *st = NULL;
        uint64_t seq = 0, mseq = 0;
        uint8_t hash[JOURNAL_SHA256_SIZE] = {};
        int rc, r;

        rc = sqlite3_prepare_v2(j->db, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return db_errno(j->db, rc);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                seq = (uint64_t) sqlite3_column_int64(st, 0);
                if (sqlite3_column_bytes(st, 1) == JOURNAL_SHA256_SIZE)
                        memcpy(hash, sqlite3_column_blob(st, 1), JOURNAL_SHA256_SIZE);
                rc = SQLITE_DONE;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return db_errno(j->db, rc);

        /* meta last_seq is newer only when the last records were removed behind the journal's back: going on
         * after it keeps the sequence strictly increasing and the gap visible to verification. */
        r = journal_meta_get_u64(j, "last_seq", &mseq);
        if (r >= 0 && mseq > seq) {
                seq = mseq;
                if (journal_meta_get_hash(j, "last_hash", hash) < 0)
                        memset(hash, 0, sizeof(hash));
        }
        if (seq == 0 && journal_meta_get_u64(j, "anchor_seq", &seq) >= 0)
                if (journal_meta_get_hash(j, "anchor_hash", hash) < 0)
                        memset(hash, 0, sizeof(hash));
        j->head_seq = j->durable_seq = seq;
        memcpy(j->head_hash, hash, sizeof(hash));
        memcpy(j->durable_hash, hash, sizeof(hash));
        return 0;
}

static int create_schema(Journal *j) {
        char ts[JOURNAL_TIMESTAMP_MAX];
        int r;
        if ((r = journal_exec(j, "PRAGMA auto_vacuum = INCREMENTAL")) < 0)
                return r;
        if ((r = journal_exec(j, "PRAGMA journal_mode = WAL")) < 0)
                return r;
        if ((r = journal_exec(j, "BEGIN IMMEDIATE")) < 0)
                return r;
        j->format = JOURNAL_DB_FORMAT;
        if ((r = journal_exec(j, JOURNAL_SCHEMA)) < 0 || (r = journal_meta_put_u64(j, "format", JOURNAL_DB_FORMAT)) < 0 ||
            (r = journal_meta_put(j, "created", journal_timestamp_format(now_usec(), ts))) < 0 ||
            (r = journal_exec(j, "COMMIT")) < 0) {
                (void) journal_rollback(j);
                return r;
        }
        return 0;
}

/* Format 1 → 2: the runs replace the three column indexes (journal-runs.c). One transaction: a crash
 * leaves format 1, converted again at the next start. */
static int migrate(Journal *j) {
        int r;
        if ((r = journal_exec(j, "BEGIN IMMEDIATE")) < 0)
                return r;
        if ((r = journal_exec(j, JOURNAL_RUNS_MIGRATION)) < 0 || (r = runs_build(j->db)) < 0 ||
            (r = journal_meta_put_u64(j, "format", JOURNAL_DB_FORMAT)) < 0 || (r = journal_exec(j, "COMMIT")) < 0) {
                (void) journal_rollback(j);
                return r;
        }
        j->format = JOURNAL_DB_FORMAT;
        return 0;
}

/* 0: usable; -EBADMSG: corrupt or not a journal (reason in *ret_reason); other: could not tell. */
static int check_existing(Journal *j, char **ret_reason) {
        _cleanup_free_ char *format = NULL;
        sqlite3_stmt *st = NULL;
        int rc, r;

        r = db_meta_get(j->db, "format", &format);
        if (r == -EBADMSG) {
                *ret_reason = strdup("not an SQLite database, or its header is damaged");
                return -EBADMSG;
        }
        if (r == -ENOENT || r == -EINVAL) {
                *ret_reason = strdup("not a mnguard journal");
                return -EBADMSG;
        }
        if (r < 0)
                return r;
        uint64_t f;
        if (parse_u64(format, &f) < 0 || f == 0) {
                *ret_reason = strdup("not a mnguard journal (bad format entry)");
                return -EBADMSG;
        }
        if (f > JOURNAL_DB_FORMAT)
                return -EPROTONOSUPPORT;
        j->format = (unsigned) f;
        if (f >= 2) {
                /* without its runs nothing could be committed: set aside like any damage, the records go
                 * into a new journal (which builds its runs as it takes them) */
                uint64_t n = 0;
                r = query_u64(j->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'", &n);
                if (r < 0)
                        return r;
                if (n == 0) {
                        *ret_reason = strdup("the search runs table is missing");
                        return -EBADMSG;
                }
        }

        rc = sqlite3_prepare_v2(j->db, "PRAGMA quick_check(5)", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        r = 0;
        if (rc == SQLITE_ROW) {
                const char *msg = (const char *) sqlite3_column_text(st, 0);
                if (!msg && (sqlite3_errcode(j->db) & 0xff) == SQLITE_NOMEM)
                        r = -ENOMEM; /* not a verdict on the file */
                else if (!msg || !streq(msg, "ok")) {
                        *ret_reason = untrusted_sanitize(msg ? msg : "?", msg ? strlen(msg) : 1, 200);
                        r = -EBADMSG;
                }
        } else if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
                *ret_reason = strdup("database corrupt");
                r = -EBADMSG;
        } else
                r = db_errno(j->db, rc);
        sqlite3_finalize(st);
        return r;
}

static int count_tables(sqlite3 *db, uint64_t *ret) {
        return query_u64(db, "SELECT count(*) FROM sqlite_master", ret);
}

/* Opens j->path for writing. -EBADMSG with *ret_reason when it must be set aside. */
static int open_rw(Journal *j, const JournalOptions *opts, char **ret_reason) {
        uint64_t n_tables = 0;
        int rc, r;

        rc = sqlite3_open_v2(j->path, &j->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
                             NULL);
        if (rc != SQLITE_OK) {
                r = j->db ? db_errno(j->db, rc) : -ENOMEM;
                close_db(j);
                return r;
        }
        sqlite3_extended_result_codes(j->db, 1);
        sqlite3_busy_timeout(j->db, JOURNAL_BUSY_TIMEOUT_MSEC);

        /* Until the file proved healthy, closing must not checkpoint its WAL into it: a file that is set
         * aside stays as it was found. */
        sqlite3_db_config(j->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);

        r = count_tables(j->db, &n_tables);
        if (r == -EBADMSG) {
                *ret_reason = strdup("not an SQLite database, or its header is damaged");
                return -EBADMSG;
        }
        if (r < 0)
                return r;
        r = n_tables == 0 ? create_schema(j) : check_existing(j, ret_reason);
        if (r < 0)
                return r;
        if (j->format < JOURNAL_DB_FORMAT && (r = migrate(j)) < 0)
                return r;
        if ((r = db_setup_writer(j->db, opts ? opts->max_size_bytes : 0)) < 0)
                return r;
        rc = sqlite3_prepare_v3(j->db, JOURNAL_INSERT_SQL, -1, SQLITE_PREPARE_PERSISTENT, &j->insert, NULL);
        if (rc != SQLITE_OK)
                return db_errno(j->db, rc);
        runs_init(&j->runs, j->db);
        sqlite3_db_config(j->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
        r = load_chain(j);
        /* the checks above read the whole file through this connection's cache: a resident daemon does
         * not keep it (a query fills it again from the kernel's page cache) */
        sqlite3_db_release_memory(j->db);
        return r;
}

static char *uri_for(const char *path, const char *query) {
        Buf b;
        buf_init(&b, 4 * 4096 + 64);
        int r = buf_append(&b, "file:", 5);
        for (const char *p = path; r >= 0 && *p; p++) {
                unsigned char c = (unsigned char) *p;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("/._-~", c))
                        r = buf_putc(&b, (char) c);
                else {
                        static const char hx[] = "0123456789ABCDEF";
                        char e[3] = { '%', hx[c >> 4], hx[c & 15] };
                        r = buf_append(&b, e, 3);
                }
        }
        if (r >= 0)
                r = buf_append(&b, query, strlen(query));
        if (r >= 0)
                r = buf_terminate(&b);
        if (r < 0) {
                buf_done(&b);
                return NULL;
        }
        return b.data;
}

static int copy_file(const char *src, const char *dst) {
        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (in < 0)
                return -errno;
        _cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0)
                return -errno;
        char buf[64 * 1024];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, buf + off, (size_t) (n - off));
                        if (w < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        off += w;
                }
        }
}

void journal_remove_tmpdir(char *tmpdir) {
        static const char *const names[] = { "journal.db", "journal.db-wal", "journal.db-shm" };
        if (!tmpdir)
                return;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/%s", tmpdir, names[i]) >= 0)
                        (void) unlink(p);
        }
        (void) rmdir(tmpdir);
        free(tmpdir);
}

int journal_readonly_connect(const char *path, sqlite3 **ret_db, char **ret_uri, char **ret_tmpdir) {
        _cleanup_free_ char *wal = NULL, *shm = NULL, *uri = NULL, *tmpdir = NULL;
        struct stat st;
        sqlite3 *db = NULL;
        int rc, r;

        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (asprintf(&wal, "%s-wal", path) < 0 || asprintf(&shm, "%s-shm", path) < 0)
                return -ENOMEM;
        bool has_wal = stat(wal, &st) >= 0 && st.st_size > 0;
        bool has_shm = access(shm, F_OK) >= 0;

        if (!has_wal)
                /* Everything is in the main file: nothing is locked, created or read besides it. */
                uri = uri_for(path, "?immutable=1");
        else if (has_shm)
                /* A live journal or a complete copy: read the WAL through the existing -shm, never
                 * writing it (SQLite builds a private index when the -shm is stale). */
                uri = uri_for(path, "?mode=ro&readonly_shm=1");
        else {
                /* A copy with its WAL but no -shm: SQLite would have to create one next to it. Read a
                 * private copy instead. */
                const char *t = getenv("TMPDIR");
                _cleanup_free_ char *dbc = NULL, *walc = NULL;
                if (asprintf(&tmpdir, "%s/mnguard-journal-XXXXXX", isempty(t) ? "/tmp" : t) < 0)
                        return -ENOMEM;
                if (!mkdtemp(tmpdir))
                        return -errno;
                if (asprintf(&dbc, "%s/journal.db", tmpdir) < 0 || asprintf(&walc, "%s/journal.db-wal", tmpdir) < 0) {
                        journal_remove_tmpdir(TAKE_PTR(tmpdir));
                        return -ENOMEM;
                }
                if ((r = copy_file(path, dbc)) < 0 || (r = copy_file(wal, walc)) < 0) {
                        journal_remove_tmpdir(TAKE_PTR(tmpdir));
                        return r;
                }
                uri = uri_for(dbc, "?mode=ro");
        }
        if (!uri) {
                journal_remove_tmpdir(TAKE_PTR(tmpdir));
                return -ENOMEM;
        }
        rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                r = db ? db_errno(db, rc) : -ENOMEM;
                sqlite3_close_v2(db);
                journal_remove_tmpdir(TAKE_PTR(tmpdir));
                return r;
        }
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, JOURNAL_BUSY_TIMEOUT_MSEC);
        *ret_db = db;
        if (ret_uri)
                *ret_uri = TAKE_PTR(uri);
        *ret_tmpdir = TAKE_PTR(tmpdir);
        return 0;
}

static int load_host(Journal *j, const JournalOptions *opts) {
        int r;
        if (opts && (opts->host_id || opts->host_name))
                return journal_set_host(j, opts->host_id, opts->host_name);
        r = db_meta_get(j->db, "host_id", &j->host_id);
        if (r < 0 && r != -ENOENT)
                return r;
        r = db_meta_get(j->db, "host_name", &j->host_name);
        return r == -ENOENT ? 0 : r;
}

/* SQLite keeps allocation statistics under one process-wide mutex, taken on every malloc and free: with
 * lookaside compiled out (Debian's build), that is several times per inserted record, in the writer and the
 * readers alike. Nothing here reads those statistics. Must run before SQLite initializes; a no-op (MISUSE)
 * when another part of the process initialized it first. */
static void sqlite_setup(void) {
        (void) sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

void journal_sqlite_init(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        (void) pthread_once(&once, sqlite_setup);
}

int journal_open(const char *path, const JournalOptions *opts, Journal **ret) {
        _cleanup_(journal_closep) Journal *j = NULL;
        _cleanup_free_ char *reason = NULL;
        int r;

        if (isempty(path) || !ret)
                return -EINVAL;
        if (sodium_init() < 0)
                return -EIO;
        journal_sqlite_init();
        j = journal_new(path);
        if (!j)
                return -ENOMEM;
        j->backlog_max = opts && opts->backlog_max_events > 0 && opts->backlog_max_events < JOURNAL_BACKLOG_MAX_EVENTS
                                 ? opts->backlog_max_events
                                 : JOURNAL_BACKLOG_MAX_EVENTS;
        j->retry_usec = opts && opts->retry_usec > 0 ? opts->retry_usec : JOURNAL_RETRY_USEC;
        if (opts && ((opts->host_id && (r = replace_string(&j->host_id, opts->host_id)) < 0) ||
                     (opts->host_name && (r = replace_string(&j->host_name, opts->host_name)) < 0)))
                return r;

        r = open_rw(j, opts, &reason);
        if (r == -EBADMSG) {
                close_db(j);
                r = journal_set_aside_and_salvage(j, opts, reason ? reason : "corrupt");
                if (r < 0)
                        return r;
                /* salvage left the new journal open and the journal-corrupt event pending */
                j->uri = uri_for(path, "?mode=ro");
                if (!j->uri)
                        return -ENOMEM;
                (void) journal_flush(j);
        } else if (r < 0)
                return r;
        else if (!(j->uri = uri_for(path, "?mode=ro")))
                return -ENOMEM;

        if ((r = load_host(j, opts)) < 0)
                return r;

        _cleanup_free_ char *head = NULL;
        if (asprintf(&head, "%s.head", path) < 0)
                return -ENOMEM;
        j->head_fd = open(head, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        journal_write_head_hint(j);
        if ((r = journal_writer_start(j, opts ? opts->max_size_bytes : 0)) < 0)
                return r;

        *ret = TAKE_PTR(j);
        return 0;
}

int journal_reopen_fresh(Journal *j, const JournalOptions *opts) {
        _cleanup_free_ char *reason = NULL;
        int r = open_rw(j, opts, &reason);
        if (r == -EBADMSG)
                return -EIO; /* a new file that is corrupt: give up rather than loop */
        return r;
}

int journal_open_readonly(const char *path, Journal **ret) {
        _cleanup_(journal_closep) Journal *j = NULL;
        _cleanup_free_ char *format = NULL;
        int r;

        if (isempty(path) || !ret)
                return -EINVAL;
        if (sodium_init() < 0)
                return -EIO;
        journal_sqlite_init();
        j = journal_new(path);
        if (!j)
                return -ENOMEM;
        j->readonly = true;
        r = journal_readonly_connect(path, &j->db, &j->uri, &j->tmpdir);
        if (r < 0)
                return r;
        r = db_meta_get(j->db, "format", &format);
        if (r == -ENOENT || r == -EINVAL)
                return -EBADMSG;
        if (r < 0)
                return r;
        uint64_t f;
        if (parse_u64(format, &f) < 0 || f == 0)
                return -EBADMSG;
        if (f > JOURNAL_DB_FORMAT)
                return -EPROTONOSUPPORT;
        j->format = (unsigned) f;
        if ((r = load_chain(j)) < 0 || (r = load_host(j, NULL)) < 0)
                return r;
        *ret = TAKE_PTR(j);
        return 0;
}

Journal *journal_close(Journal *j) {
        if (!j)
                return NULL;
        if (j->writer_running && j->owner != getpid()) {
                /* A forked child: the writer thread and the database belong to the parent. Free the memory,
                 * touch nothing else. */
                j->writer_running = false;
                j->db = j->wdb = NULL;
                j->insert = j->winsert = j->wmeta = NULL;
                j->runs = j->wruns = (Runs) {};
                j->head_fd = -1;
        }
        if (j->db && !j->readonly)
                (void) journal_flush(j);
        journal_writer_stop(j);
        journal_queue_free(j);
        close_db(j);
        pthread_mutex_destroy(&j->lock);
        pthread_cond_destroy(&j->wake_writer);
        pthread_cond_destroy(&j->wake_caller);
        if (j->head_fd >= 0)
                close(j->head_fd);
        journal_remove_tmpdir(j->tmpdir);
        buf_done(&j->scratch);
        free(j->path);
        free(j->uri);
        free(j->set_aside);
        free(j->host_id);
        free(j->host_name);
        free(j);
        return NULL;
}

const char *journal_set_aside_path(const Journal *j) {
        return j ? j->set_aside : NULL;
}

int journal_get_stats(Journal *j, JournalStats *ret) {
        JournalStats s = {};
        uint64_t pages = 0, free_pages = 0, page_size = 0;
        int r;

        if (!j || !ret)
                return -EINVAL;
        if ((r = query_u64(j->db, "SELECT ifnull(min(seq), 0) FROM events", &s.first_sequence)) < 0 ||
            (r = query_u64(j->db, "PRAGMA page_count", &pages)) < 0 ||
            (r = query_u64(j->db, "PRAGMA freelist_count", &free_pages)) < 0 ||
            (r = query_u64(j->db, "PRAGMA page_size", &page_size)) < 0)
                return r;
        r = journal_meta_get_u64(j, "anchor_seq", &s.anchor_sequence);
        if (r < 0 && r != -ENOENT)
                return r;
        if ((r = journal_get_acked(j, &s.acked_sequence)) < 0)
                return r;
        s.last_sequence = journal_durable_sequence(j);
        s.next_sequence = j->head_seq + 1;
        s.size_bytes = (pages - (free_pages < pages ? free_pages : pages)) * page_size;
        s.n_pending = j->readonly ? 0 : (size_t) journal_queue_uncommitted(j);
        s.pending_bytes = j->pending_bytes;
        s.n_lost = j->lost;
        s.n_lost_total = j->lost_total;
        s.n_write_failures = j->n_failures;
        s.last_error = j->failing ? j->last_error : 0;
        *ret = s;
        return 0;
}

void journal_release_memory(Journal *j) {
        if (j && j->db)
                sqlite3_db_release_memory(j->db);
}
