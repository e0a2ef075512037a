/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PostgreSQL backend: ingest transactions (the host row locked FOR UPDATE, so collectors sharing the
 * database serialize per host; events written with COPY), hosts, event and alert queries. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query-sql.h"
#include "storage-pg.h"
#include "strutil.h"

/* COPY data is sent in pieces of about this size. */
#define PG_COPY_CHUNK (256u * 1024u)
/* Batches up to this size are inserted row by row rather than with COPY. */
#define PG_INSERT_ROWS_MAX 4u

/* COPY's binary format: no escaping or hex on this side, no parsing on the server's (text COPY spent a
 * quarter of the backend's time in parsing). */
typedef struct CopyBuf {
        char *data;
        size_t len, cap;
} CopyBuf;

struct StorageTxn {
        PgStorage *s;
        PGconn *c;
        unsigned index;
        char host_id[HOST_ID_LEN + 1];
        char host_key[24];              /* hosts.host_key as text (the statements' parameter) */
        int64_t host_key_value;
        bool copying;                   /* a COPY of event rows is open (pg_ingest_copy_begin()) */
        CopyBuf copy;
};

#define HOST_COLUMNS "host_id, host_name, grp, enrolled, last_seen, first_seq, contiguous_seq, last_seq, n_events, n_broken, " \
                     "agent_version, policy_serial"

void pg_host_from_row(const PGresult *res, int row, HostState *h) {
        *h = (HostState) {};
        snprintf(h->host_id, sizeof(h->host_id), "%s", PQgetvalue(res, row, 0));
        h->host_name = pg_value_dup(res, row, 1);
        h->group = pg_value_dup(res, row, 2);
        h->enrolled_usec = pg_value_u64(res, row, 3);
        h->last_seen_usec = pg_value_u64(res, row, 4);
        h->first_sequence = pg_value_u64(res, row, 5);
        h->contiguous_sequence = pg_value_u64(res, row, 6);
        h->last_sequence = pg_value_u64(res, row, 7);
        h->n_events = pg_value_u64(res, row, 8);
        h->n_broken = pg_value_u64(res, row, 9);
        snprintf(h->agent_version, sizeof(h->agent_version), "%s", PQgetvalue(res, row, 10));
        h->policy_serial = pg_value_u64(res, row, 11);
        h->chain = host_chain_state(h);
}

static void txn_free(StorageTxn *t) {
        pg_conn_put(t->s, t->index);
        free(t->copy.data);
        free(t);
}

int pg_ingest_begin(Storage *base, const char *host_id, const char *host_name, uint64_t now_usec,
                    HostState *ret_state, StorageTxn **ret) {
        PgStorage *s = (PgStorage *) base;
        StorageTxn *t = calloc(1, sizeof(*t));
        _cleanup_(PQclearp) PGresult *sel = NULL; /* before the first goto: its cleanup runs at fail too */
        const char *v[] = { host_id };
        HostState h = {};
        int r;

        if (!t)
                return -ENOMEM;
        t->s = s;
        memcpy(t->host_id, host_id, sizeof(t->host_id));
        r = pg_conn_get(s, &t->c, &t->index);
        if (r < 0) {
                free(t);
                return r;
        }
        r = pg_exec(t->c, "BEGIN");
        if (r < 0)
                goto fail;
        /* creates the row if needed and locks it (ON CONFLICT DO UPDATE takes the row lock), in one round trip */
        r = pg_query_prepared(s, t->index, PG_STMT_HOST_LOCK, "INSERT INTO hosts (host_id) VALUES ($1) ON CONFLICT (host_id) DO UPDATE SET host_id = "
                           "EXCLUDED.host_id RETURNING " HOST_COLUMNS ", host_key", 1, v, NULL, NULL, &sel);
        if (r < 0)
                goto fail;
        if (PQntuples(sel) != 1) {
                r = -EIO;
                goto fail;
        }
        pg_host_from_row(sel, 0, &h);
        uint64_t key;
        if (parse_u64(PQgetvalue(sel, 0, 12), &key) < 0 || key > (uint64_t) INT64_MAX) {
                host_state_done(&h);
                r = -EIO;
                goto fail;
        }
        t->host_key_value = (int64_t) key;
        snprintf(t->host_key, sizeof(t->host_key), "%" PRIu64, key);
        if (host_name) {
                free(h.host_name);
                h.host_name = strdup(host_name);
        }
        *ret_state = h;
        *ret = t;
        return 0;
fail:
        pg_exec(t->c, "ROLLBACK");
        txn_free(t);
        return r;
}

int pg_ingest_existing(StorageTxn *t, uint64_t lo, uint64_t hi, ExistingEvent *out, size_t max, size_t *ret_n) {
        char slo[24], shi[24], smax[24];
        snprintf(slo, sizeof(slo), "%llu", (unsigned long long) lo);
        snprintf(shi, sizeof(shi), "%llu", (unsigned long long) (hi > (uint64_t) INT64_MAX ? (uint64_t) INT64_MAX : hi));
        snprintf(smax, sizeof(smax), "%zu", max);
        const char *v[] = { t->host_key, slo, shi, smax };
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = pg_query_prepared(t->s, t->index, PG_STMT_EXISTING, "SELECT seq, hash, prev_hash, digest FROM event_rows WHERE host_key = $1 AND seq BETWEEN $2 AND $3 "
                               "ORDER BY seq LIMIT $4", 4, v, NULL, NULL, &res);
        if (r < 0)
                return r;
        size_t n = 0;
        for (int i = 0; i < PQntuples(res) && n < max; i++) {
                ExistingEvent *e = &out[n++];
                e->sequence = pg_value_u64(res, i, 0);
                (void) pg_bytea_hash(PQgetvalue(res, i, 1), e->hash);
                (void) pg_bytea_hash(PQgetvalue(res, i, 2), e->prev_hash);
                (void) pg_bytea_hash(PQgetvalue(res, i, 3), e->digest);
        }
        *ret_n = n;
        return 0;
}

int pg_ingest_sequences_after(StorageTxn *t, uint64_t after, uint64_t *out, size_t max, size_t *ret_n) {
        char safter[24], smax[24];
        snprintf(safter, sizeof(safter), "%llu", (unsigned long long) after);
        snprintf(smax, sizeof(smax), "%zu", max);
        const char *v[] = { t->host_key, safter, smax };
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = pg_query_prepared(t->s, t->index, PG_STMT_SEQ_AFTER,
                                  "SELECT seq FROM event_rows WHERE host_key = $1 AND seq > $2 ORDER BY seq LIMIT $3", 3, v, NULL,
                                  NULL, &res);
        if (r < 0)
                return r;
        size_t n = 0;
        for (int i = 0; i < PQntuples(res) && n < max; i++)
                out[n++] = pg_value_u64(res, i, 0);
        *ret_n = n;
        return 0;
}

static int copy_reserve(CopyBuf *b, size_t extra) {
        if (b->len + extra <= b->cap)
                return 0;
        size_t ncap = b->cap ? b->cap : PG_COPY_CHUNK * 2;
        while (ncap < b->len + extra)
                ncap *= 2;
        char *d = realloc(b->data, ncap);
        if (!d)
                return -ENOMEM;
        b->data = d;
        b->cap = ncap;
        return 0;
}

static void put_be(CopyBuf *b, uint64_t v, unsigned bytes) {
        for (unsigned i = bytes; i > 0; i--)
                b->data[b->len++] = (char) (v >> (8 * (i - 1)));
}

/* One field: its length (-1: NULL) and its bytes. */
static int copy_field(CopyBuf *b, const void *p, size_t n) {
        if (n > INT32_MAX || copy_reserve(b, 4 + n) < 0)
                return -ENOMEM;
        put_be(b, p ? n : UINT32_MAX, 4);
        if (p) {
                memcpy(b->data + b->len, p, n);
                b->len += n;
        }
        return 0;
}

static int copy_str(CopyBuf *b, const char *s) {
        return copy_field(b, s, s ? strlen(s) : 0);
}

static int copy_int(CopyBuf *b, uint64_t v, unsigned bytes) {
        if (copy_reserve(b, 4 + bytes) < 0)
                return -ENOMEM;
        put_be(b, bytes, 4);
        put_be(b, v, bytes);
        return 0;
}

static int copy_header(CopyBuf *b) {
        static const char sig[11] = "PGCOPY\n\377\r\n";
        if (copy_reserve(b, sizeof(sig) + 8) < 0)
                return -ENOMEM;
        memcpy(b->data + b->len, sig, sizeof(sig)); /* with its NUL */
        b->len += sizeof(sig);
        put_be(b, 0, 4); /* flags */
        put_be(b, 0, 4); /* header extension */
        return 0;
}

static int copy_row(CopyBuf *b, int64_t host_key, const IngestRecord *r, uint64_t received) {
        if (copy_reserve(b, 2) < 0)
                return -ENOMEM;
        put_be(b, 13, 2);
        if (copy_int(b, (uint64_t) host_key, 8) < 0 || copy_int(b, r->sequence, 8) < 0 ||
            copy_int(b, r->timestamp_usec, 8) < 0 || copy_int(b, received, 8) < 0 || copy_str(b, r->action) < 0 ||
            copy_str(b, r->user_name) < 0 || copy_str(b, r->dev_serial) < 0 ||
            copy_str(b, r->dev_vidpid[0] ? r->dev_vidpid : NULL) < 0 || copy_int(b, r->flags, 4) < 0 ||
            copy_field(b, r->hash, SHA256_SIZE) < 0 || copy_field(b, r->prev_hash, SHA256_SIZE) < 0 ||
            copy_field(b, r->digest, SHA256_SIZE) < 0 || copy_field(b, r->json, r->json_len) < 0)
                return -ENOMEM;
        return 0;
}

/* A few records: one INSERT each (a round trip each) beats COPY's three round trips. */
static int insert_rows(StorageTxn *t, IngestRecord *const *records, size_t n, uint64_t received_usec) {
        char seq[24], ts[24], recv[24], flags[16], hash[2 * SHA256_SIZE + 3], prev[2 * SHA256_SIZE + 3],
                digest[2 * SHA256_SIZE + 3];
        snprintf(recv, sizeof(recv), "%llu", (unsigned long long) received_usec);
        for (size_t i = 0; i < n; i++) {
                const IngestRecord *r = records[i];
                snprintf(seq, sizeof(seq), "%llu", (unsigned long long) r->sequence);
                snprintf(ts, sizeof(ts), "%llu", (unsigned long long) r->timestamp_usec);
                snprintf(flags, sizeof(flags), "%u", r->flags);
                pg_bytea_text(r->hash, hash);
                pg_bytea_text(r->prev_hash, prev);
                pg_bytea_text(r->digest, digest);
                const char *v[] = { t->host_key, seq, ts, recv, r->action, r->user_name, r->dev_serial,
                                    r->dev_vidpid[0] ? r->dev_vidpid : NULL, flags, hash, prev, digest, r->json };
                int lengths[13] = { [12] = (int) r->json_len };
                _cleanup_(PQclearp) PGresult *res = NULL;
                int k = pg_query_prepared(t->s, t->index, PG_STMT_INSERT_EVENT, "INSERT INTO event_rows (host_key, seq, ts, received, action, user_name, dev_serial, "
                                       "dev_vidpid, flags, hash, prev_hash, digest, body) "
                                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                                 13, v, lengths, NULL, &res);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int copy_finish(StorageTxn *t, const char *error);

int pg_ingest_copy_begin(StorageTxn *t) {
        _cleanup_(PQclearp) PGresult *start = PQexec(t->c, "COPY event_rows (host_key, seq, ts, received, action, user_name, "
                                                           "dev_serial, dev_vidpid, flags, hash, prev_hash, digest, body) "
                                                           "FROM STDIN (FORMAT binary)");
        if (!start || PQresultStatus(start) != PGRES_COPY_IN)
                return pg_result_errno(t->c, start);
        t->copying = true;
        t->copy.len = 0;
        int r = copy_header(&t->copy);
        if (r < 0)
                (void) copy_finish(t, "mnguard-collector: out of memory");
        return r;
}

/* Rows into the open COPY, sent in pieces of PG_COPY_CHUNK or more: the backend works on them meanwhile. */
int pg_ingest_copy_add(StorageTxn *t, IngestRecord *const *records, size_t n, uint64_t received_usec) {
        CopyBuf *b = &t->copy;
        for (size_t i = 0; i < n; i++) {
                if (copy_row(b, t->host_key_value, records[i], received_usec) < 0)
                        return -ENOMEM;
                if (b->len >= PG_COPY_CHUNK || i + 1 == n) {
                        if (PQputCopyData(t->c, b->data, (int) b->len) != 1)
                                return -ECONNRESET;
                        b->len = 0;
                }
        }
        /* all of it to the backend now, not the last few KiB left in libpq's buffer until the next piece */
        return PQflush(t->c) == 0 ? 0 : -ECONNRESET;
}

/* Ends the open COPY: with its trailer (error NULL), or failed with error (the transaction is then lost). */
static int copy_finish(StorageTxn *t, const char *error) {
        int r = 0;
        if (!error && (r = copy_reserve(&t->copy, 2)) >= 0) {
                put_be(&t->copy, UINT16_MAX, 2); /* the trailer: -1 */
                if (PQputCopyData(t->c, t->copy.data, (int) t->copy.len) != 1)
                        r = -ECONNRESET;
        }
        t->copy.len = 0;
        t->copying = false;
        const char *why = error ?: r < 0 ? "mnguard-collector: aborted" : NULL;  /* NULL: the COPY succeeds */
        if (PQputCopyEnd(t->c, why) != 1 && r >= 0)
                r = -ECONNRESET;
        PGresult *res;
        while ((res = PQgetResult(t->c))) {
                if (r >= 0 && !error && PQresultStatus(res) != PGRES_COMMAND_OK)
                        r = pg_result_errno(t->c, res);
                PQclear(res);
        }
        return r;
}

int pg_ingest_copy_end(StorageTxn *t) {
        return copy_finish(t, NULL);
}

int pg_ingest_insert(StorageTxn *t, IngestRecord *const *records, size_t n, uint64_t received_usec) {
        if (n <= PG_INSERT_ROWS_MAX)
                return insert_rows(t, records, n, received_usec);
        int r = pg_ingest_copy_begin(t);
        if (r < 0)
                return r;
        r = pg_ingest_copy_add(t, records, n, received_usec);
        int k = copy_finish(t, r < 0 ? "mnguard-collector: aborted" : NULL);
        return r < 0 ? r : k;
}

int pg_ingest_alert(StorageTxn *t, const AlertRecord *a) {
        char created[24], seq[24], seq_end[24];
        _cleanup_free_ char *body = a->body ? strndup(a->body, a->body_len) : NULL;
        snprintf(created, sizeof(created), "%llu", (unsigned long long) a->created_usec);
        snprintf(seq, sizeof(seq), "%llu", (unsigned long long) a->sequence);
        snprintf(seq_end, sizeof(seq_end), "%llu", (unsigned long long) a->sequence_end);
        const char *v[] = { a->host_id, created, alert_kind_to_string(a->kind), seq, seq_end, a->detail, body };
        _cleanup_(PQclearp) PGresult *res = NULL;
        return pg_query(t->c, "INSERT INTO alerts (host_id, created, kind, seq, seq_end, detail, body) "
                              "VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, v, NULL, NULL, &res);
}

int pg_ingest_commit(StorageTxn *t, const HostState *h) {
        char last_seen[24], first[24], contig[24], last[24], nev[24], nbr[24], serial[24];
        snprintf(last_seen, sizeof(last_seen), "%llu", (unsigned long long) h->last_seen_usec);
        snprintf(first, sizeof(first), "%llu", (unsigned long long) h->first_sequence);
        snprintf(contig, sizeof(contig), "%llu", (unsigned long long) h->contiguous_sequence);
        snprintf(last, sizeof(last), "%llu", (unsigned long long) h->last_sequence);
        snprintf(nev, sizeof(nev), "%llu", (unsigned long long) h->n_events);
        snprintf(nbr, sizeof(nbr), "%llu", (unsigned long long) h->n_broken);
        snprintf(serial, sizeof(serial), "%llu", (unsigned long long) (h->policy_serial > (uint64_t) INT64_MAX
                                                                               ? (uint64_t) INT64_MAX : h->policy_serial));
        const char *v[] = { h->host_name, last_seen, first, contig, last, nev, nbr,
                            chain_state_to_string(host_chain_state(h)), t->host_id,
                            h->agent_version[0] ? h->agent_version : NULL, serial };
        _cleanup_(PQclearp) PGresult *res = NULL;
        int r = pg_query_prepared(t->s, t->index, PG_STMT_HOST_UPDATE, "UPDATE hosts SET host_name = COALESCE($1, host_name), last_seen = $2, first_seq = $3, "
                               "contiguous_seq = $4, last_seq = $5, n_events = $6, n_broken = $7, chain = $8, "
                               "agent_version = $10, policy_serial = $11 WHERE host_id = $9", 11, v, NULL, NULL, &res);
        if (r >= 0)
                r = pg_exec(t->c, "COMMIT");
        if (r < 0)
                pg_exec(t->c, "ROLLBACK");
        txn_free(t);
        return r;
}

void pg_ingest_abort(StorageTxn *t) {
        if (t->copying)
                (void) copy_finish(t, "mnguard-collector: batch not stored");
        if (PQstatus(t->c) == CONNECTION_OK)
                pg_exec(t->c, "ROLLBACK");
        txn_free(t);
}

/* ---- reading ---- */

int pg_host_get(Storage *base, const char *host_id, HostState *ret) {
        PgStorage *s = (PgStorage *) base;
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        const char *v[] = { host_id };
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query_prepared(s, idx, PG_STMT_HOST_GET, "SELECT " HOST_COLUMNS " FROM hosts WHERE host_id = $1", 1, v, NULL,
                              NULL, &res);
        if (r >= 0 && PQntuples(res) == 0)
                r = -ENOENT;
        else if (r >= 0)
                pg_host_from_row(res, 0, ret);
        pg_conn_put(s, idx);
        return r;
}

int pg_hosts(Storage *base, HostFunc f, void *userdata) {
        PgStorage *s = (PgStorage *) base;
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query(c, "SELECT " HOST_COLUMNS " FROM hosts ORDER BY host_name NULLS FIRST, host_id", 0, NULL, NULL,
                     NULL, &res);
        pg_conn_put(s, idx);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                HostState h;
                pg_host_from_row(res, i, &h);
                r = f(&h, userdata);
                host_state_done(&h);
                if (r != 0)
                        break;
        }
        return r < 0 ? r : 0;
}

/* One query's rows to f, one by one; *ret_count: the rows given; *ret_stopped: f asked to stop. */
static int events_run(PgStorage *s, const EventQuery *q, EventFunc f, void *userdata, uint64_t *ret_count,
                      bool *ret_stopped) {
        const char *values[SQL_PARAMS_MAX];
        char numbers[SQL_PARAMS_MAX][24];
        SqlQuery sq;
        PGconn *c;
        unsigned idx;
        uint64_t count = 0;
        int r = sql_build_events(q, true, &sq);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < sq.n_params; i++) {
                if (sq.params[i].text)
                        values[i] = sq.params[i].text;
                else {
                        snprintf(numbers[i], sizeof(numbers[i]), "%lld", (long long) sq.params[i].number);
                        values[i] = numbers[i];
                }
        }
        r = pg_conn_get(s, &c, &idx);
        if (r < 0) {
                sql_query_done(&sq);
                return r;
        }
        /* Rows one by one (single-row mode): a long history is never held in memory at once. */
        if (!PQsendQueryParams(c, sq.sql, (int) sq.n_params, NULL, values, NULL, NULL, 0) || !PQsetSingleRowMode(c))
                r = pg_result_errno(c, NULL);
        PGresult *res;
        bool stop = r < 0;
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
                        count++;
                        int k = f(&e, userdata);
                        if (k != 0) {
                                stop = true;
                                if (k < 0)
                                        r = k;
                                /* Abandon the rest of the result (the rows still come and are dropped). */
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
        sql_query_done(&sq);
        *ret_count = count;
        *ret_stopped = stop;
        return r < 0 ? r : 0;
}

/* The first and last ts stored (index endpoints); *ret_empty when there is no event. */
static int ts_extent(PgStorage *s, uint64_t *ret_first, uint64_t *ret_last, bool *ret_empty) {
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query(c, "SELECT min(ts), max(ts) FROM event_rows", 0, NULL, NULL, NULL, &res);
        pg_conn_put(s, idx);
        if (r < 0)
                return r;
        *ret_empty = PQgetisnull(res, 0, 0);
        *ret_first = *ret_empty ? 0 : pg_value_u64(res, 0, 0);
        *ret_last = *ret_empty ? 0 : pg_value_u64(res, 0, 1);
        return 0;
}

/* A user or device filter with a limit. Its rows come from the events_attrs bitmap and are sorted
 * (query-sql.c), at a cost in proportion to the matches in the range: the first page of a value found in a
 * quarter of all events would read and sort 30 days' worth of it. So the range is read in windows, in the
 * query's order, a day first and each next one twice as long, until the limit is reached or the range ends:
 * that page reads about a day's worth; a value that is rare or nowhere costs a probe of the index per window,
 * their number the logarithm of the range in days (5 for 30 days). Each probe reads the value's whole posting
 * list in a partition (GIN cannot narrow it by time), so fewer, longer windows beat many short ones: starting
 * at an hour was slower for every value measured. The windows are disjoint and visited in order, so the rows
 * are those and in the order one query would give. */
static int events_windows(PgStorage *s, const EventQuery *q, EventFunc f, void *userdata, uint64_t *ret_count) {
        bool desc = q->order == EVENT_ORDER_DESCENDING;
        uint64_t lo = q->since_usec, hi = q->until_usec, total = 0;
        if (q->has_after) {
                if (desc && (!hi || q->after_usec < hi - 1))
                        hi = q->after_usec + 1;
                else if (!desc && q->after_usec > lo)
                        lo = q->after_usec;
        }
        if (!lo || !hi) {
                uint64_t first, last;
                bool empty;
                int r = ts_extent(s, &first, &last, &empty);
                if (r < 0)
                        return r;
                if (empty) {
                        *ret_count = 0;
                        return 0;
                }
                if (!lo)
                        lo = first;
                if (!hi)
                        hi = last + 1;
        }
        uint64_t width = PG_QUERY_WINDOW_USEC;
        while (lo < hi && total < q->limit) {
                EventQuery w = *q;
                w.limit = q->limit - total;
                bool whole = hi - lo <= width;
                w.since_usec = desc && !whole ? hi - width : lo;
                w.until_usec = !desc && !whole ? lo + width : hi;
                uint64_t n = 0;
                bool stopped = false;
                int r = events_run(s, &w, f, userdata, &n, &stopped);
                if (r < 0)
                        return r;
                total += n;
                if (stopped)
                        break;
                if (desc)
                        hi = w.since_usec;
                else
                        lo = w.until_usec;
                if (width <= UINT64_MAX / 2)
                        width *= 2;
        }
        *ret_count = total;
        return 0;
}

int pg_events(Storage *base, const EventQuery *q, EventFunc f, void *userdata, uint64_t *ret_count) {
        PgStorage *s = (PgStorage *) base;
        uint64_t count = 0;
        bool stopped;
        int r = (q->user || q->device) && q->limit ? events_windows(s, q, f, userdata, &count)
                                                   : events_run(s, q, f, userdata, &count, &stopped);
        if (r >= 0 && ret_count)
                *ret_count = count;
        return r;
}

int pg_alerts(Storage *base, const char *host_id, uint64_t limit, AlertFunc f, void *userdata) {
        PgStorage *s = (PgStorage *) base;
        char slimit[24];
        PGconn *c;
        unsigned idx;
        int r = pg_conn_get(s, &c, &idx);
        if (r < 0)
                return r;
        snprintf(slimit, sizeof(slimit), "%llu", (unsigned long long) (limit && limit < (uint64_t) INT64_MAX ? limit : (uint64_t) INT64_MAX));
        const char *v[] = { host_id, slimit };
        _cleanup_(PQclearp) PGresult *res = NULL;
        r = pg_query(c, "SELECT id, host_id, created, kind, seq, seq_end, detail, body FROM alerts "
                        "WHERE ($1::text IS NULL OR host_id = $1) ORDER BY id DESC LIMIT $2", 2, v, NULL, NULL, &res);
        pg_conn_put(s, idx);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                AlertRecord a = {
                        .id = (int64_t) pg_value_u64(res, i, 0),
                        .created_usec = pg_value_u64(res, i, 2),
                        .kind = alert_kind_from_string(PQgetvalue(res, i, 3)),
                        .sequence = pg_value_u64(res, i, 4),
                        .sequence_end = pg_value_u64(res, i, 5),
                        .body = PQgetisnull(res, i, 7) ? NULL : PQgetvalue(res, i, 7),
                        .body_len = (size_t) PQgetlength(res, i, 7),
                };
                snprintf(a.host_id, sizeof(a.host_id), "%s", PQgetvalue(res, i, 1));
                snprintf(a.detail, sizeof(a.detail), "%s", PQgetvalue(res, i, 6));
                r = f(&a, userdata);
                if (r != 0)
                        break;
        }
        return r < 0 ? r : 0;
}
