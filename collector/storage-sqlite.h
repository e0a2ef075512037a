/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Internal to the SQLite backend: storage-sqlite.c (connections, tokens, certificates) and
 * storage-sqlite-events.c (ingest transactions, hosts, events, alerts). */

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "storage.h"

#define SQLITE_READERS_MAX 16
#define SQLITE_BUSY_TIMEOUT_MS 10000    /* another process (a CLI verb) holding the write lock */
#define SQLITE_GROUP_MAX 256            /* ingest transactions committed together at most */
#define SQLITE_GROUP_MAX_USEC 20000     /* a group is committed at the latest this long after it began */
#define SQLITE_GROUP_RESULTS 64         /* commit results kept for waking members */
#define SQLITE_CACHE_KIB "65536"        /* page cache per connection: index pages of a big table stay in memory */
#define SQLITE_WAL_CHECKPOINT_PAGES "16384"     /* fewer, larger checkpoints during bulk ingest */

typedef struct SqliteStorage {
        Storage base;
        char *path;
        pthread_mutex_t write_lock;     /* the writer connection and everything prepared on it */
        sqlite3 *writer;
        sqlite3_stmt *st_insert, *st_existing, *st_after, *st_alert, *st_host_get, *st_host_put, *st_host_new;
        /* group commit (storage-sqlite-group.c), under write_lock */
        atomic_uint writers_waiting;
        bool group_open;
        unsigned group_size;
        uint64_t group_started_usec, group_gen, durable_gen;
        int group_results[SQLITE_GROUP_RESULTS];
        pthread_cond_t durable_cond;
        pthread_mutex_t pool_lock;
        pthread_cond_t pool_cond;
        sqlite3 *readers[SQLITE_READERS_MAX];
        bool reader_busy[SQLITE_READERS_MAX];
        unsigned n_readers;
} SqliteStorage;

DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3_stmt *, sqlite3_finalize);

int sqlite_errno(int rc);
int sqlite_exec_sql(sqlite3 *db, const char *sql);
int sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret);
/* A text column as a new string (NULL for SQL NULL or no memory). */
char *sqlite_column_strdup(sqlite3_stmt *st, int i);
/* A row whose first columns are the hosts table's HOST_COLUMNS (storage-sqlite-events.c; the console's host
 * list too). */
void sqlite_host_from_row(sqlite3_stmt *st, HostState *h);
sqlite3 *sqlite_reader_get(SqliteStorage *s, unsigned *ret_index);
void sqlite_reader_put(SqliteStorage *s, unsigned i);

/* storage-sqlite-group.c: takes the writer (counted as waiting meanwhile) */
void sqlite_write_lock(SqliteStorage *s);
/* Finalizes statements prepared on the writer (a NULL-terminated list of pointers to them; each is set to
 * NULL), then releases the writer. Statements must not outlive the lock: once it is released another
 * thread uses the connection. */
void sqlite_write_unlock(SqliteStorage *s, ...);
/* Commits the open group, if any, and wakes its members. For writers outside ingest, before their own
 * transaction. */
int sqlite_group_flush_locked(SqliteStorage *s);
/* Opens a group transaction unless one is open. */
int sqlite_group_join_locked(SqliteStorage *s);
/* Rolls the whole group back (an ingest's own part could not be undone): every member gets error. */
void sqlite_group_abort_locked(SqliteStorage *s, int error);
/* After an ingest's savepoint is released (member) or rolled back (!member): commits the group or waits
 * for a later member to; unlocks the writer. Returns the commit's result for a member. */
int sqlite_group_finish_locked(SqliteStorage *s, bool member);

/* storage-sqlite-events.c */
int sqlite_events_prepare(SqliteStorage *s);
void sqlite_events_finalize(SqliteStorage *s);
int sqlite_ingest_begin(Storage *base, const char *host_id, const char *host_name, uint64_t now_usec,
                        HostState *ret_state, StorageTxn **ret);
int sqlite_ingest_existing(StorageTxn *t, uint64_t lo, uint64_t hi, ExistingEvent *out, size_t max, size_t *ret_n);
int sqlite_ingest_sequences_after(StorageTxn *t, uint64_t after, uint64_t *out, size_t max, size_t *ret_n);
int sqlite_ingest_insert(StorageTxn *t, IngestRecord *const *records, size_t n, uint64_t received_usec);
int sqlite_ingest_alert(StorageTxn *t, const AlertRecord *a);
int sqlite_ingest_commit(StorageTxn *t, const HostState *state);
void sqlite_ingest_abort(StorageTxn *t);
int sqlite_host_get(Storage *base, const char *host_id, HostState *ret);
int sqlite_hosts(Storage *base, HostFunc f, void *userdata);
int sqlite_events(Storage *base, const EventQuery *q, EventFunc f, void *userdata, uint64_t *ret_count);
int sqlite_alerts(Storage *base, const char *host_id, uint64_t limit, AlertFunc f, void *userdata);

/* storage-sqlite-policy.c */
int sqlite_policy_publish(Storage *base, const PolicyRecord *p);
int sqlite_policy_latest(Storage *base, const char *group, bool with_data, PolicyRecord *ret);
int sqlite_policies(Storage *base, const char *group, uint64_t limit, PolicyFunc f, void *userdata);
int sqlite_published_state(Storage *base, PublishedState *ret);
int sqlite_ticket_queue(Storage *base, TicketRecord *t);
int sqlite_tickets_after(Storage *base, const char *host_id, int64_t after, size_t max, TicketFunc f, void *userdata);
int sqlite_host_set_group(Storage *base, const char *host_id, const char *group);

/* storage-sqlite-console.c: the console's tables and the hosts table's console columns (at open) */
int sqlite_console_schema(sqlite3 *db);
