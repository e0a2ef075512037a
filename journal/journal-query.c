/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Queries with filters, and the NDJSON evidence export. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal-internal.h"

static int64_t clamp_i64(uint64_t v) {
        return v > INT64_MAX ? INT64_MAX : (int64_t) v;
}

static bool parse_vidpid(const char *s, char out[static 10]) {
        if (strlen(s) != 9 || s[4] != ':')
                return false;
        for (int i = 0; i < 9; i++) {
                char c = s[i];
                if (i == 4)
                        continue;
                if (c >= 'A' && c <= 'F')
                        c = (char) (c - 'A' + 'a');
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return false;
                out[i] = c;
        }
        out[4] = ':';
        out[9] = 0;
        return true;
}

/* The full record (body plus mnguard.hash) into out, NUL-terminated. A record whose stored hash or body
 * is damaged comes out as its body alone: queries still show it, journal_verify() reports it. */
static int full_record(const char *body, size_t len, const void *hash, size_t hash_len, Buf *out) {
        RecordFields f;
        char hex[JOURNAL_HASH_HEX_SIZE];
        int r;

        buf_reset(out);
        if (hash_len == JOURNAL_SHA256_SIZE && canon_scan_record(body, len, &f) >= 0 && f.mnguard.p) {
                hex_encode(hash, JOURNAL_SHA256_SIZE, hex);
                r = canon_splice_hash(body, len, &f, hex, out);
        } else
                r = buf_append(out, body, len);
        return r < 0 ? r : buf_terminate(out);
}

static int append_str(Buf *b, const char *s) {
        return buf_append(b, s, strlen(s));
}

/* The SQL of a query; parameters ?1 since, ?2 until, ?3 action, ?4 user, ?5 device, ?6/?7 after
 * (time, sequence), ?8 limit.
 *
 * By user or device (format 2), the runs of that value lead: each run's stretch of sequences is read and
 * filtered on the records' own columns; the inner query sorts sequences and times only (DISTINCT: runs
 * that overlap, which only forgery makes and verification reports, must not show a record twice), the
 * outer one reads the bodies of what it kept. "+e.ts" keeps the time index out of that: within a run the rows are
 * found by sequence. Otherwise, and on a format 1 journal (its column indexes), one filtered SELECT. */
static int query_sql(Journal *j, const JournalQuery *q, bool by_vidpid, bool desc, Buf *sql) {
        const char *dev_col = by_vidpid ? "dev_vidpid" : "dev_serial";
        bool runs = j->format >= 2 && (q->user || q->device);
        const char *ts = runs ? "+e.ts" : "e.ts";
        int r = 0;

#define ADD(s) (r >= 0 ? (r = append_str(sql, (s))) : r)
        if (runs) {
                RunKind kind = q->user ? RUN_USER : by_vidpid ? RUN_VIDPID : RUN_SERIAL;
                char head[256];
                snprintf(head, sizeof(head),
                         "SELECT x.seq, x.ts, x.hash, x.body FROM (SELECT DISTINCT e.seq AS s, e.ts AS t FROM runs r CROSS JOIN events e "
                         "ON e.seq BETWEEN r.first_seq AND r.last_seq WHERE r.kind = %d AND r.value = ?%d",
                         (int) kind, q->user ? 4 : 5);
                ADD(head);
                if (q->since_usec > 0)
                        ADD(" AND r.max_ts >= ?1");
                if (q->until_usec > 0)
                        ADD(" AND r.min_ts < ?2");
                if (q->has_after)
                        ADD(desc ? " AND r.min_ts <= ?6" : " AND r.max_ts >= ?6");
        } else
                ADD("SELECT e.seq, e.ts, e.hash, e.body FROM events e WHERE 1");
        if (q->since_usec > 0)
                ADD(" AND "), ADD(ts), ADD(" >= ?1");
        if (q->until_usec > 0)
                ADD(" AND "), ADD(ts), ADD(" < ?2");
        if (q->action)
                ADD(" AND e.action GLOB ?3");
        if (q->user)
                ADD(" AND e.user_name = ?4");
        if (q->device)
                ADD(" AND e."), ADD(dev_col), ADD(" = ?5");
        if (q->has_after) {
                /* the first term bounds the index range, the second breaks ties by sequence */
                ADD(" AND "), ADD(ts), ADD(desc ? " <= ?6 AND (" : " >= ?6 AND (");
                ADD(ts), ADD(desc ? " < ?6 OR e.seq < ?7)" : " > ?6 OR e.seq > ?7)");
        }
        const char *order = desc ? " DESC" : "";
        if (runs) {
                ADD(" ORDER BY t"), ADD(order), ADD(", s"), ADD(order);
                if (q->limit > 0)
                        ADD(" LIMIT ?8");
                ADD(") AS k CROSS JOIN events x ON x.seq = k.s ORDER BY x.ts"), ADD(order), ADD(", x.seq"), ADD(order);
        } else {
                ADD(" ORDER BY e.ts"), ADD(order), ADD(", e.seq"), ADD(order);
                if (q->limit > 0)
                        ADD(" LIMIT ?8");
        }
#undef ADD
        return r < 0 ? r : buf_terminate(sql);
}

int journal_query(Journal *j, const JournalQuery *q, JournalRecordFunc f, void *userdata, uint64_t *ret_count) {
        sqlite3_stmt *st = NULL;
        char vidpid[10];
        bool by_vidpid = false, desc;
        uint64_t n = 0;
        Buf sql, out;
        int rc, r;

        if (!j || !q || !f)
                return -EINVAL;
        desc = q->order == JOURNAL_ORDER_DESCENDING;
        if (q->device)
                by_vidpid = parse_vidpid(q->device, vidpid);

        buf_init(&sql, 1024);
        r = query_sql(j, q, by_vidpid, desc, &sql);
        if (r < 0) {
                buf_done(&sql);
                return r;
        }
        rc = sqlite3_prepare_v2(j->db, sql.data, -1, &st, NULL);
        buf_done(&sql);
        if (rc != SQLITE_OK)
                return sqlite_to_errno(rc) ?: -EIO;
        if (q->since_usec > 0)
                sqlite3_bind_int64(st, 1, clamp_i64(q->since_usec));
        if (q->until_usec > 0)
                sqlite3_bind_int64(st, 2, clamp_i64(q->until_usec));
        if (q->action)
                sqlite3_bind_text(st, 3, q->action, -1, SQLITE_STATIC);
        if (q->user)
                sqlite3_bind_text(st, 4, q->user, -1, SQLITE_STATIC);
        if (q->device)
                sqlite3_bind_text(st, 5, by_vidpid ? vidpid : q->device, -1, SQLITE_STATIC);
        if (q->has_after) {
                sqlite3_bind_int64(st, 6, clamp_i64(q->after_usec));
                sqlite3_bind_int64(st, 7, clamp_i64(q->after_sequence));
        }
        if (q->limit > 0)
                sqlite3_bind_int64(st, 8, clamp_i64(q->limit));

        buf_init(&out, JOURNAL_RECORD_MAX + 128);
        r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *body = (const char *) sqlite3_column_text(st, 3);
                size_t len = (size_t) sqlite3_column_bytes(st, 3);
                if (!body && (sqlite3_errcode(j->db) & 0xff) == SQLITE_NOMEM) {
                        r = -ENOMEM; /* not an empty record */
                        break;
                }
                r = full_record(body ? body : "", body ? len : 0, sqlite3_column_blob(st, 2),
                                (size_t) sqlite3_column_bytes(st, 2), &out);
                if (r < 0)
                        break;
                JournalRecord rec = {
                        .sequence = (uint64_t) sqlite3_column_int64(st, 0),
                        .timestamp_usec = (uint64_t) sqlite3_column_int64(st, 1),
                        .json = out.data,
                        .json_len = out.len,
                };
                n++;
                r = f(&rec, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = sqlite_to_errno(rc) ?: -EIO;
        sqlite3_finalize(st);
        buf_done(&out);
        if (r < 0)
                return r;
        if (ret_count)
                *ret_count = n;
        return 0;
}

/* ---- export ---- */

#define JOURNAL_HOST_ID_EXPORT_MAX 64   /* host ids compared by journal_exporter_record() (ours: 32 hex) */

struct JournalExporter {
        Journal *j;
        sqlite3_stmt *get;
        uint64_t next, to;              /* sequences still to write: next..to */
        uint64_t count, since, until;
        uint64_t first_seq, last_seq;
        uint8_t first_prev[JOURNAL_SHA256_SIZE], last_hash[JOURNAL_SHA256_SIZE];
        bool done, in_read;             /* in_read: its own read transaction, ended when freed */
        bool has_record;                /* the line is a record: cur_* tell it */
        char cur_host[JOURNAL_HOST_ID_EXPORT_MAX + 1];
        size_t cur_host_len;            /* SIZE_MAX: longer than cur_host holds (no host id of ours) */
        Buf line;
};

JournalExporter *journal_exporter_free(JournalExporter *e) {
        if (!e)
                return NULL;
        sqlite3_finalize(e->get);
        if (e->in_read)
                (void) sqlite3_exec(e->j->db, "COMMIT", NULL, NULL, NULL);
        buf_done(&e->line);
        free(e);
        return NULL;
}

/* One sequence from sql (binding ?1 to v when v > 0); 0 and *ret = 0 when there is none. */
static int seq_query(Journal *j, const char *sql, uint64_t v, uint64_t *ret) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(j->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sqlite_to_errno(rc) ?: -EIO;
        if (v > 0)
                sqlite3_bind_int64(st, 1, clamp_i64(v));
        rc = sqlite3_step(st);
        *ret = rc == SQLITE_ROW ? (uint64_t) sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : (sqlite_to_errno(rc) ?: -EIO);
}

int journal_exporter_new(Journal *j, const JournalExportRange *range, JournalExporter **ret) {
        _cleanup_(journal_exporter_freep) JournalExporter *e = NULL;
        JournalExportRange rg = range ? *range : (JournalExportRange) {};
        uint64_t from, to, s;
        int r, rc;

        if (!j || !ret)
                return -EINVAL;
        e = calloc(1, sizeof(JournalExporter));
        if (!e)
                return -ENOMEM;
        e->j = j;
        e->since = rg.since_usec;
        e->until = rg.until_usec;
        buf_init(&e->line, JOURNAL_RECORD_MAX + 128);

        if ((r = seq_query(j, "SELECT min(seq) FROM events", 0, &from)) < 0)
                return r;
        to = from == 0 ? 0 : journal_durable_sequence(j); /* no records: an empty export */
        if (rg.from_sequence > from)
                from = rg.from_sequence;
        if (rg.to_sequence > 0 && rg.to_sequence < to)
                to = rg.to_sequence;
        if (rg.since_usec > 0) {
                if ((r = seq_query(j, "SELECT seq FROM events WHERE ts >= ?1 ORDER BY ts, seq LIMIT 1", rg.since_usec, &s)) < 0)
                        return r;
                if (s == 0)
                        to = 0;
                else if (s > from)
                        from = s;
        }
        if (rg.until_usec > 0) {
                if ((r = seq_query(j, "SELECT seq FROM events WHERE ts < ?1 ORDER BY ts DESC, seq DESC LIMIT 1",
                                   rg.until_usec, &s)) < 0)
                        return r;
                if (s < to)
                        to = s;
        }
        e->next = from == 0 ? 1 : from;
        e->to = to;
        /* one read transaction for all the lines, instead of one per line (each takes the WAL's read lock) */
        if (rg.snapshot && sqlite3_get_autocommit(j->db)) {
                rc = sqlite3_exec(j->db, "BEGIN", NULL, NULL, NULL);
                if (rc != SQLITE_OK)
                        return sqlite_to_errno(rc) ?: -EIO;
                e->in_read = true;
        }
        rc = sqlite3_prepare_v2(j->db, "SELECT hash, body FROM events WHERE seq = ?1", -1, &e->get, NULL);
        if (rc != SQLITE_OK)
                return sqlite_to_errno(rc) ?: -EIO;
        *ret = TAKE_PTR(e);
        return 0;
}

static int manifest_line(JournalExporter *e) {
        _cleanup_(json_object_putp) json_object *top = json_object_new_object();
        json_object *m = json_object_new_object();
        char hex[JOURNAL_HASH_HEX_SIZE], ts[JOURNAL_TIMESTAMP_MAX];

        if (!top || !m) {
                json_object_put(m);
                return -ENOMEM;
        }
        /* every member checked: a manifest missing one would make a good export fail verification */
        if (journal_json_add(top, "mnguard_manifest", m) < 0 ||
            journal_json_add(m, "format", json_object_new_int(JOURNAL_EXPORT_FORMAT)) < 0 ||
            journal_json_add(m, "count", json_object_new_uint64(e->count)) < 0 ||
            journal_json_add(m, "exported_at", json_object_new_string(journal_timestamp_format(now_usec(), ts))) < 0 ||
            (e->j->host_id && journal_json_add(m, "host_id", json_object_new_string(e->j->host_id)) < 0) ||
            (e->since > 0 && journal_json_add(m, "since", json_object_new_string(journal_timestamp_format(e->since, ts))) < 0) ||
            (e->until > 0 && journal_json_add(m, "until", json_object_new_string(journal_timestamp_format(e->until, ts))) < 0))
                return -ENOMEM;
        if (e->count > 0) {
                char last_hex[JOURNAL_HASH_HEX_SIZE];
                hex_encode(e->first_prev, JOURNAL_SHA256_SIZE, hex);
                hex_encode(e->last_hash, JOURNAL_SHA256_SIZE, last_hex);
                if (journal_json_add(m, "first_sequence", json_object_new_uint64(e->first_seq)) < 0 ||
                    journal_json_add(m, "last_sequence", json_object_new_uint64(e->last_seq)) < 0 ||
                    journal_json_add(m, "first_prev_hash", json_object_new_string(hex)) < 0 ||
                    journal_json_add(m, "last_hash", json_object_new_string(last_hex)) < 0)
                        return -ENOMEM;
        }
        buf_reset(&e->line);
        int r = canon_write(&e->line, top);
        return r < 0 ? r : buf_terminate(&e->line);
}

int journal_exporter_next(JournalExporter *e, const char **ret_line, size_t *ret_len) {
        int r, rc;

        if (!e || !ret_line)
                return -EINVAL;
        if (e->done)
                return 0;
        e->has_record = false;
        if (e->next > e->to) {
                if ((r = manifest_line(e)) < 0)
                        return r;
                e->done = true;
        } else {
                sqlite3_bind_int64(e->get, 1, (sqlite3_int64) e->next);
                rc = sqlite3_step(e->get);
                if (rc != SQLITE_ROW) {
                        sqlite3_reset(e->get);
                        return rc == SQLITE_DONE ? -ESTALE : (sqlite_to_errno(rc) ?: -EIO);
                }
                const char *body = (const char *) sqlite3_column_text(e->get, 1);
                size_t len = (size_t) sqlite3_column_bytes(e->get, 1);
                RecordFields f;
                if (!body && (sqlite3_errcode(e->j->db) & 0xff) == SQLITE_NOMEM) {
                        sqlite3_reset(e->get);
                        return -ENOMEM;
                }
                if (sqlite3_column_bytes(e->get, 0) != JOURNAL_SHA256_SIZE || !body ||
                    canon_scan_record(body, len, &f) < 0 || (e->count == 0 && hex_decode32(f.prev_hash.p, f.prev_hash.n, e->first_prev) < 0)) {
                        sqlite3_reset(e->get);
                        return -EBADMSG;
                }
                r = full_record(body, len, sqlite3_column_blob(e->get, 0), JOURNAL_SHA256_SIZE, &e->line);
                if (r >= 0) {
                        /* the text as stored: canonical JSON never escapes a character of a host id */
                        e->cur_host_len = f.host_id.n <= JOURNAL_HOST_ID_EXPORT_MAX ? f.host_id.n : SIZE_MAX;
                        if (e->cur_host_len != SIZE_MAX && f.host_id.n > 0)
                                memcpy(e->cur_host, f.host_id.p, f.host_id.n);
                        e->has_record = true;
                        if (e->count == 0)
                                e->first_seq = e->next;
                        memcpy(e->last_hash, sqlite3_column_blob(e->get, 0), JOURNAL_SHA256_SIZE);
                        e->last_seq = e->next;
                        e->count++;
                        e->next++;
                }
                sqlite3_reset(e->get);
                if (r < 0)
                        return r;
        }
        *ret_line = e->line.data;
        if (ret_len)
                *ret_len = e->line.len;
        return 1;
}

int journal_exporter_record(JournalExporter *e, const char *host_id, uint64_t *ret_sequence, bool *ret_host_is) {
        if (!e || !host_id)
                return -EINVAL;
        if (!e->has_record)
                return -ENODATA;
        if (ret_sequence)
                *ret_sequence = e->last_seq;
        if (ret_host_is)
                *ret_host_is = e->cur_host_len == strlen(host_id) && memcmp(e->cur_host, host_id, e->cur_host_len) == 0;
        return 0;
}

int journal_export(Journal *j, const JournalExportRange *range, FILE *f, uint64_t *ret_count) {
        _cleanup_(journal_exporter_freep) JournalExporter *e = NULL;
        const char *line;
        size_t len;
        int r;

        if (!f)
                return -EINVAL;
        if ((r = journal_exporter_new(j, range, &e)) < 0)
                return r;
        while ((r = journal_exporter_next(e, &line, &len)) > 0)
                if (fwrite(line, 1, len, f) != len || fputc('\n', f) == EOF)
                        return -EIO;
        if (r < 0)
                return r;
        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        if (ret_count)
                *ret_count = e->count;
        return 0;
}
