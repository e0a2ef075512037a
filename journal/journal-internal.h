/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* SQLite page cache per connection, as PRAGMA cache_size wants it (negative: KiB). */
#define JOURNAL_CACHE_SIZE "-256"
#define JOURNAL_WRITER_CACHE_SIZE "-2048"

/* Shared between the journal's source files; not for users of the library. */

#include <pthread.h>
#include <sqlite3.h>

#include "clock.h"
#include "journal-canon.h"
#include "journal.h"
#include "strutil.h"

/* Schema of format 2. Everything the hash covers is in "body" (the canonical record without
 * mnguard.hash, the exact bytes that were hashed; it names its own sequence and its predecessor's hash);
 * "hash" is mnguard.hash; the other columns are for queries, and verification checks them against the
 * body. user.name, device.serial and vendor:product are searched through "runs" (journal-runs.c): a row
 * per stretch of records with the same value, kind 1 user, 2 serial, 3 vendor:product. Format 1 had an
 * index per column instead (JOURNAL_RUNS_MIGRATION turns it into format 2). */
#define JOURNAL_DB_FORMAT 2
#define JOURNAL_SCHEMA                                                                               \
        "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"     \
        "CREATE TABLE events ("                                                                     \
        "  seq INTEGER PRIMARY KEY,"            /* event.sequence */                                \
        "  ts INTEGER NOT NULL,"                /* @timestamp, µs */                                \
        "  action TEXT NOT NULL,"               /* event.action */                                  \
        "  user_name TEXT,"                     /* user.name */                                     \
        "  dev_serial TEXT,"                    /* device.serial */                                 \
        "  dev_vidpid TEXT,"                    /* device.vendor:device.product, lowercase */       \
        "  hash BLOB NOT NULL,"                 /* 32 bytes */                                      \
        "  body TEXT NOT NULL);"                                                                    \
        "CREATE INDEX events_ts ON events (ts);"                                                    \
        JOURNAL_RUNS_SCHEMA
#define JOURNAL_RUNS_SCHEMA                                                                          \
        "CREATE TABLE runs (kind INTEGER NOT NULL, value TEXT NOT NULL, max_ts INTEGER NOT NULL,"     \
        "  first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, min_ts INTEGER NOT NULL,"          \
        "  PRIMARY KEY (kind, value, max_ts, first_seq)) WITHOUT ROWID;"
/* Format 1 → 2, inside a transaction, before runs_build(). */
#define JOURNAL_RUNS_MIGRATION                                                                       \
        "DROP TABLE IF EXISTS runs;" JOURNAL_RUNS_SCHEMA                                             \
        "DROP INDEX IF EXISTS events_user; DROP INDEX IF EXISTS events_serial;"                      \
        "DROP INDEX IF EXISTS events_vidpid;"

#define JOURNAL_BUSY_TIMEOUT_MSEC 2000
/* The WAL is truncated back to this size after a checkpoint. */
#define JOURNAL_WAL_SIZE_LIMIT (4 * 1024 * 1024)
/* Longest value of an indexed column (user.name, device.serial, ...) kept in the index. */
#define JOURNAL_COLUMN_MAX 1024u

/* A record built by journal_append(), queued until its transaction commits. */
typedef struct RecordBlock RecordBlock;

typedef struct Record {
        RecordBlock *block;                     /* where it lives (record_alloc()) */
        uint64_t seq, ts;
        uint8_t hash[JOURNAL_SHA256_SIZE];
        const char *action, *user, *serial;     /* into data; user and serial may be NULL */
        char vidpid[10];                        /* "vvvv:pppp" or "" */
        size_t body_len, size;
        char data[];                            /* body NUL action NUL [user NUL] [serial NUL] */
} Record;

/* Records live in blocks of 64 KiB, not one malloc() each: they are many, short-lived and freed in the
 * order they were made, and one by one they left holes between the daemon's lasting allocations (a
 * coldplug of 500 sticks: ~0.8 MiB of free 673- and 753-byte chunks that could not be given back). A
 * block is freed with its last record; its pages go back at the next malloc_trim(). Only the journal's
 * owner thread allocates and frees. */
Record *record_alloc(Journal *j, size_t size);
void record_free(Record *rec);
DEFINE_TRIVIAL_CLEANUP_FUNC(Record *, record_free);
/* The blocks of a journal whose records are all freed. */
void record_blocks_done(Journal *j);

/* The indexed columns of a record, taken from its canonical body (the same code at append and verify). */
typedef struct Columns {
        uint64_t ts;
        char *action, *user, *serial;   /* into buf */
        char vidpid[10];
        char buf[3 * (JOURNAL_COLUMN_MAX + 1)];
} Columns;
int columns_from_body(const RecordFields *f, Columns *ret);

/* Runs (journal-runs.c). */
typedef enum RunKind {
        RUN_USER = 1,
        RUN_SERIAL = 2,
        RUN_VIDPID = 3,
} RunKind;
#define _RUN_KIND_MAX 3u

typedef struct Run {
        bool live;              /* being extended */
        bool stored;            /* in the database, under (value, stored_max_ts, first_seq) */
        bool dirty;             /* changed since */
        uint64_t first_seq, last_seq, min_ts, max_ts, stored_max_ts;
        char value[JOURNAL_COLUMN_MAX + 1];
} Run;

/* The open runs of one connection, one per kind (index kind - 1), and its statements. */
typedef struct Runs {
        sqlite3 *db;
        sqlite3_stmt *load, *find, *insert, *update;
        Run run[_RUN_KIND_MAX];
} Runs;

void runs_init(Runs *rs, sqlite3 *db);
void runs_done(Runs *rs);
/* Reads the runs that the next records may extend; at the start of each writing transaction. */
int runs_load(Runs *rs);
/* Adds a record just inserted (not one that was already there); values by kind, NULL or "" for none. */
int runs_add(Runs *rs, uint64_t seq, uint64_t ts, const char *const values[static _RUN_KIND_MAX]);
int runs_add_record(Runs *rs, const Record *rec);
/* Writes the changed runs; before the transaction commits. */
int runs_flush(Runs *rs);
/* Builds the runs of every record (format 1 → 2), in the caller's transaction. */
int runs_build(sqlite3 *db);
/* The run of kind and value holding the record (seq, ts): 1 and *ret, 0 when there is none. */
int runs_prepare_find(sqlite3 *db, sqlite3_stmt **ret);
int runs_find(sqlite3 *db, sqlite3_stmt *find, RunKind kind, const char *value, uint64_t seq, uint64_t ts, Run *ret);

struct Journal {
        sqlite3 *db;
        unsigned format;        /* of the database: 1 (old, read-only use) or JOURNAL_DB_FORMAT */
        char *path;
        char *uri;              /* opens another reading connection (verification workers) */
        char *tmpdir;           /* private copy for a read-only open, removed at close */
        bool readonly;
        char *set_aside;

        char *host_id, *host_name;

        sqlite3_stmt *insert;   /* on db: salvage and prune append there */
        Runs runs;              /* on db */

        /* The chain: head is the last sequence handed out; durable the last one committed [lock]. */
        uint64_t head_seq, durable_seq;
        uint8_t head_hash[JOURNAL_SHA256_SIZE], durable_hash[JOURNAL_SHA256_SIZE];

        /* Records appended and not yet known to be committed, oldest first, and the writer thread that
         * commits them (journal-writer.c). Counters count records since open; pending[i] is record
         * number reaped + i. Fields marked [lock] are shared with the writer under lock; only the
         * caller's thread appends, reaps or reallocates. */
        Record **pending;
        RecordBlock *rblock;            /* where the next record goes */
        size_t n_alloc, pending_bytes;
        uint64_t appended, reaped;      /* [lock] */
        uint64_t inserted;              /* [lock] in the writer's open transaction, up to here */
        uint64_t committed;             /* [lock] */
        uint64_t target;                /* [lock] commit up to here */
        uint64_t error_gen;             /* [lock] counts failed commits */
        int error;                      /* [lock] of the last failed commit */
        bool streaming;                 /* [lock] the writer may insert ahead of a commit request */
        bool stop;                      /* [lock] */
        uint64_t seen_error_gen;
        size_t backlog_max;
        uint64_t first_pending_mono;

        sqlite3 *wdb;                   /* the writer's connection */
        sqlite3_stmt *winsert, *wmeta;
        Runs wruns;                     /* on wdb */
        pthread_t writer;
        bool writer_running;
        pid_t owner;                    /* the process the writer runs in (a forked child has none) */
        pthread_mutex_t lock;
        pthread_cond_t wake_writer, wake_caller;

        /* Events that could not be kept, not yet recorded in a journal-gap event. */
        uint64_t lost, lost_total, lost_first_usec, lost_last_usec;

        bool failing;
        int last_error;
        uint64_t last_failure_mono, n_failures, retry_usec;

        int head_fd;            /* "<path>.head": sequence and hash of the last commit, a hint */
        Buf scratch;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

uint64_t now_usec(void);

int sqlite_to_errno(int rc);
/* The errno for a failure of db: I/O errors keep the system's errno when there is one. */
int db_errno(sqlite3 *db, int rc);
int db_exec(sqlite3 *db, const char *sql);
int db_rollback(sqlite3 *db);
/* Pragmas of a writing connection: WAL, synchronous=FULL, size limits. */
int db_setup_writer(sqlite3 *db, uint64_t max_size_bytes);
int journal_exec(Journal *j, const char *sql);
int db_meta_get(sqlite3 *db, const char *key, char **ret);
/* Replaces *p by a copy of v (NULL: none). */
int replace_string(char **p, const char *v);
int journal_meta_get_u64(Journal *j, const char *key, uint64_t *ret);
int journal_meta_put(Journal *j, const char *key, const char *value);
int journal_meta_put_u64(Journal *j, const char *key, uint64_t value);
int journal_meta_put_hash(Journal *j, const char *key, const uint8_t hash[static 32]);
int journal_meta_get_hash(Journal *j, const char *key, uint8_t ret[static 32]);
void journal_write_head_hint(Journal *j);

/* Builds the record for event on top of the chain head and advances the head. */
int journal_build_record(Journal *j, json_object *event, Record **ret);
/* Adds v as o[key]; v == NULL (its allocation failed) or a failed add is -ENOMEM, and v is released then
 * (json_object_object_add() leaves it with the caller when it fails). */
int journal_json_add(json_object *o, const char *key, json_object *v);
/* A journal-generated event (journal-gap, journal-corrupt, journal-pruned) with @timestamp and host. */
json_object *journal_event_new(Journal *j, const char *action, const char *outcome, const char *reason);
/* Inserts a record with insert (prepared on db from JOURNAL_INSERT_SQL) inside the caller's transaction:
 * 1 when inserted, 0 when the very same record was there already. The caller adds it to its runs. */
#define JOURNAL_INSERT_SQL                                                                                        \
        "INSERT INTO events (seq, ts, action, user_name, dev_serial, dev_vidpid, hash, body) "                  \
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (seq) DO NOTHING"
int db_insert_record(sqlite3 *db, sqlite3_stmt *insert, const Record *rec);
/* The same for n records on j->db (salvage, prune), in order, runs included. */
int journal_insert_records(Journal *j, Record *const *recs, size_t n);
/* Stores last_seq/last_hash in meta, with meta (prepared on db from JOURNAL_META_PUT_SQL). */
#define JOURNAL_META_PUT_SQL \
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
int db_store_last(sqlite3_stmt *meta, uint64_t seq, const uint8_t hash[static 32]);
int journal_store_last(Journal *j, uint64_t seq, const uint8_t hash[static 32]);
int journal_rollback(Journal *j);
/* Waits until the writer thread holds no transaction and no records: what it inserted ahead is committed
 * (or, when that fails, rolled back) and it inserts nothing ahead until the next successful commit. For
 * the caller's own writing transactions (pruning): journal_flush() returns at once while commits fail,
 * when a commit asked for by journal_append() may still be going on. */
void journal_queue_settle(Journal *j);
/* journal_flush() without the retry interval. */
int journal_flush_now(Journal *j);

/* journal-writer.c: the queue of pending records and the writer thread. */
int journal_writer_start(Journal *j, uint64_t max_size_bytes);
void journal_writer_stop(Journal *j);
int journal_queue_push(Journal *j, Record *rec);
/* Asks the writer to commit everything appended so far, without waiting. */
void journal_queue_request(Journal *j);
/* Commits everything appended so far and waits for it. */
int journal_queue_commit(Journal *j);
/* Frees the records known to be committed. */
void journal_queue_reap(Journal *j);
/* Records appended and not committed. */
uint64_t journal_queue_uncommitted(Journal *j);
/* A commit failure not seen yet (0: none). */
int journal_queue_new_error(Journal *j);
/* The committed chain head. */
void journal_durable(Journal *j, uint64_t *ret_seq, uint8_t ret_hash[static 32]);
/* The uncommitted records, for a transaction of the caller's own while the writer is idle (prune). */
void journal_queue_uncommitted_records(Journal *j, Record ***ret, size_t *ret_n);
/* That transaction committed them, and more records after them: the new durable head is seq, hash. */
void journal_queue_all_committed(Journal *j, uint64_t seq, const uint8_t hash[static 32]);
/* Frees all records (at close, once the writer stopped). */
void journal_queue_free(Journal *j);

/* Opens the reading connection for path (see journal_open_readonly()); *ret_uri for more of them. */
int journal_readonly_connect(const char *path, sqlite3 **ret_db, char **ret_uri, char **ret_tmpdir);
void journal_remove_tmpdir(char *tmpdir);

/* Moves the corrupt file (and its -wal, -shm) aside, reads what it can from it, opens a new journal at
 * j->path and commits a journal-corrupt record that continues the sequence. */
int journal_set_aside_and_salvage(Journal *j, const JournalOptions *opts, const char *reason);
/* Opens the new, empty journal at j->path (after the old one was set aside). */
int journal_reopen_fresh(Journal *j, const JournalOptions *opts);
