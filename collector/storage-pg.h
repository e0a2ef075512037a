/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Internal to the PostgreSQL backend: storage-pg.c (pool, schema, partitions, tokens, certificates) and
 * storage-pg-events.c (ingest transactions, hosts, events, alerts). */

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>

#include "storage.h"

#define PG_POOL_MAX 32
/* advisory lock namespace of policy publishing (key 2: hashtext(group)); storage-pg.c has the others */
#define PG_LOCK_POLICIES 0x6d6e68
#define PG_KNOWN_PARTITIONS_MAX 1024
#define PG_CONNECT_TIMEOUT_S "5"
/* Months around now for which ingest creates partitions; records outside go to events_default. */
#define PG_PARTITION_PAST_MONTHS (20 * 12)
#define PG_PARTITION_FUTURE_MONTHS 12
#define PG_QUERY_WINDOW_USEC (86400ull * 1000000u)     /* the first window of a user/device query: a day */

/* Statements of the hot paths (ingest, client certificate check), prepared once per pooled connection: parsing
 * and planning them again for each request was most of PostgreSQL's work at 1,000 requests/s. */
typedef enum PgStmt {
        PG_STMT_CERT_GET,
        PG_STMT_HOST_LOCK,
        PG_STMT_EXISTING,
        PG_STMT_SEQ_AFTER,
        PG_STMT_INSERT_EVENT,
        PG_STMT_HOST_UPDATE,
        PG_STMT_HOST_GET,
        _PG_STMT_MAX,
} PgStmt;

typedef struct PgStorage {
        Storage base;
        char *conninfo;
        pthread_mutex_t lock;           /* the pool and the partition cache */
        pthread_cond_t cond;
        PGconn *conns[PG_POOL_MAX];
        bool busy[PG_POOL_MAX];
        uint32_t prepared[PG_POOL_MAX]; /* bit (1 << PgStmt): prepared on that connection (by its holder) */
        /* Connections found broken when put back (the server restarted, say): the others, idle meanwhile, are
         * probably broken too and are checked before their next use. */
        uint64_t broken_gen;
        uint64_t checked_gen[PG_POOL_MAX];
        unsigned n_conns;
        int32_t known_months[PG_KNOWN_PARTITIONS_MAX];  /* year * 12 + month - 1, partitions that exist */
        unsigned n_known_months;
} PgStorage;

DEFINE_TRIVIAL_CLEANUP_FUNC(PGresult *, PQclear);

/* Takes a connection from the pool, (re)connecting it when needed: -ENOTCONN when the server is away. */
int pg_conn_get(PgStorage *s, PGconn **ret, unsigned *ret_index);
void pg_conn_put(PgStorage *s, unsigned index);
/* The negative errno for a failed result (or a broken connection). */
int pg_result_errno(PGconn *c, const PGresult *res);
/* A result value as a new string (NULL for SQL NULL or no memory), or as a number (0 when not one). */
char *pg_value_dup(const PGresult *res, int row, int col);
uint64_t pg_value_u64(const PGresult *res, int row, int col);
/* A row whose first columns are HOST_COLUMNS (storage-pg-events.c; the console's host list too). */
void pg_host_from_row(const PGresult *res, int row, HostState *h);
/* Runs a statement without result rows; 0 or a negative errno. */
int pg_exec(PGconn *c, const char *sql);
/* Runs a parameterized statement (text parameters); *ret the result on success. */
int pg_query(PGconn *c, const char *sql, int n, const char *const *values, const int *lengths, const int *binary,
             PGresult **ret);
/* pg_query() of one of the statements above on pooled connection index (as pg_conn_get() gave it), prepared
 * there the first time. */
int pg_query_prepared(PgStorage *s, unsigned index, PgStmt id, const char *sql, int n, const char *const *values,
                      const int *lengths, const int *binary, PGresult **ret);
/* Makes sure the monthly partitions for these records exist (outside any ingest transaction). */
int pg_ingest_prepare(Storage *base, IngestRecord *const *records, size_t n, uint64_t now_usec);
int pg_ingest_copy_begin(StorageTxn *t);
int pg_ingest_copy_add(StorageTxn *t, IngestRecord *const *records, size_t n, uint64_t received_usec);
int pg_ingest_copy_end(StorageTxn *t);
bool pg_ingest_prepared(Storage *base, IngestRecord *const *records, size_t n, uint64_t now_usec);
/* 32 bytes as "\x…" bytea text */
void pg_bytea_text(const uint8_t h[static SHA256_SIZE], char out[static 2 * SHA256_SIZE + 3]);
/* "\x…" bytea text to 32 bytes */
int pg_bytea_hash(const char *text, uint8_t out[static SHA256_SIZE]);

int pg_ingest_begin(Storage *base, const char *host_id, const char *host_name, uint64_t now_usec,
                    HostState *ret_state, StorageTxn **ret);
int pg_ingest_existing(StorageTxn *t, uint64_t lo, uint64_t hi, ExistingEvent *out, size_t max, size_t *ret_n);
int pg_ingest_sequences_after(StorageTxn *t, uint64_t after, uint64_t *out, size_t max, size_t *ret_n);
int pg_ingest_insert(StorageTxn *t, IngestRecord *const *records, size_t n, uint64_t received_usec);
int pg_ingest_alert(StorageTxn *t, const AlertRecord *a);
int pg_ingest_commit(StorageTxn *t, const HostState *state);
void pg_ingest_abort(StorageTxn *t);
int pg_host_get(Storage *base, const char *host_id, HostState *ret);
int pg_hosts(Storage *base, HostFunc f, void *userdata);
int pg_events(Storage *base, const EventQuery *q, EventFunc f, void *userdata, uint64_t *ret_count);
int pg_alerts(Storage *base, const char *host_id, uint64_t limit, AlertFunc f, void *userdata);

/* storage-pg-policy.c */
int pg_policy_publish(Storage *base, const PolicyRecord *p);
int pg_policy_latest(Storage *base, const char *group, bool with_data, PolicyRecord *ret);
int pg_policies(Storage *base, const char *group, uint64_t limit, PolicyFunc f, void *userdata);
int pg_published_state(Storage *base, PublishedState *ret);
int pg_ticket_queue(Storage *base, TicketRecord *t);
int pg_tickets_after(Storage *base, const char *host_id, int64_t after, size_t max, TicketFunc f, void *userdata);
int pg_host_set_group(Storage *base, const char *host_id, const char *group);

/* storage-pg-console.c: the console's tables and the hosts table's console columns (in the schema transaction) */
int pg_console_schema(PGconn *c);
