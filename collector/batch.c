/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Parsing and checking an NDJSON ingest batch, line by line. */
#include "batch.h"

#include <errno.h>
#include <pthread.h>
#include <gnutls/crypto.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch-internal.h"
#include "journal.h"
#include "record-scan.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

void hash_to_hex(const uint8_t h[static SHA256_SIZE], char out[static 65]) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < SHA256_SIZE; i++) {
                out[2 * i] = digits[h[i] >> 4];
                out[2 * i + 1] = digits[h[i] & 15];
        }
        out[64] = 0;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Lowercase only: the journal writes lowercase, and one spelling keeps hashes comparable as text. */
int hash_from_hex(const char *s, size_t n, uint8_t out[static SHA256_SIZE]) {
        if (n != 2 * SHA256_SIZE)
                return -EINVAL;
        for (size_t i = 0; i < SHA256_SIZE; i++) {
                int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}

int record_chain_hash(const char prev_hex[static 64], const char *body, size_t len, uint8_t out[static SHA256_SIZE]) {
        gnutls_hash_hd_t h;
        /* it allocates: a failure is not a digest (a zero digest would flag the record as modified) */
        if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
                return -ENOMEM;
        gnutls_hash(h, prev_hex, 64);
        gnutls_hash(h, body, len);
        gnutls_hash_deinit(h, out);
        return 0;
}

void record_done(IngestRecord *r) {
        free(r->user_name);
        free(r->dev_serial);
        free(r->json);
        *r = (IngestRecord) {};
}

static json_object *member(json_object *o, const char *a, const char *b) {
        json_object *x = NULL, *y = NULL;
        if (!json_object_object_get_ex(o, a, &x))
                return NULL;
        if (!b)
                return x;
        if (!json_object_is_type(x, json_type_object) || !json_object_object_get_ex(x, b, &y))
                return NULL;
        return y;
}

static const char *string_member(json_object *o, const char *a, const char *b, size_t *ret_len) {
        json_object *v = member(o, a, b);
        if (!v || !json_object_is_type(v, json_type_string))
                return NULL;
        *ret_len = (size_t) json_object_get_string_len(v);
        return json_object_get_string(v);
}

/* A copy for an index column in *ret, NULL when absent or too long (the record itself keeps it); -ENOMEM. */
static int column_copy(json_object *o, const char *a, const char *b, size_t max, char **ret) {
        size_t n = 0;
        const char *s = string_member(o, a, b, &n);
        *ret = NULL;
        if (!s || n == 0 || n > max || memchr(s, 0, n))
                return 0;
        *ret = strndup(s, n);
        return *ret ? 0 : -ENOMEM;
}

/* Whether line is body with "hash":"<hex>" inserted as a member (with its comma). hash_hex is the
 * mnguard.hash value read from the line; its member is found by its text (tried at each occurrence). */
static bool line_is_body_plus_hash(const char *line, size_t len, const char *body, size_t body_len, const char *hash_hex) {
        char member[8 + 64 + 2];
        size_t mlen = sizeof(member) - 1;
        memcpy(member, "\"hash\":\"", 8);
        memcpy(member + 8, hash_hex, 64);
        member[72] = '"';
        member[73] = 0;
        if (len != body_len + mlen + 1)
                return false;
        for (const char *p = line; (p = memmem(p, len - (size_t) (p - line), member, mlen)); p++) {
                size_t pos = (size_t) (p - line);
                /* ",<member>" after a previous member, or "<member>," as the first member */
                size_t cut = pos > 0 && line[pos - 1] == ',' ? pos - 1 : pos;
                size_t cut_len = mlen + 1;
                if (cut == pos && (pos + mlen >= len || line[pos + mlen] != ','))
                        continue;
                if (memcmp(line, body, cut) == 0 && memcmp(line + cut + cut_len, body + cut, body_len - cut) == 0)
                        return true;
        }
        return false;
}

_printf_(3, 4) static int fail(char *errbuf, size_t errsize, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errsize, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

/* The json-c path of parse_with(). */
static int parse_json(json_tokener *tok, const char *line, size_t len, IngestRecord *ret, char *ret_host_id,
                      char **ret_host_name, char *errbuf, size_t errsize) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *body = NULL;
        IngestRecord rec = {};
        size_t body_len = 0, n;
        const char *s;
        int r;

        json_tokener_reset(tok);
        o = json_tokener_parse_ex(tok, line, (int) len);
        if (!o && json_tokener_get_error(tok) == json_tokener_success)
                return -ENOMEM; /* json-c before 0.17 when memory runs out */
        if (!o || json_tokener_get_error(tok) != json_tokener_success || (size_t) json_tokener_get_parse_end(tok) != len)
                return fail(errbuf, errsize, "not valid JSON (%s)",
                            json_tokener_error_desc(json_tokener_get_error(tok) == json_tokener_success
                                                            ? json_tokener_error_parse_unexpected
                                                            : json_tokener_get_error(tok)));
        if (!json_object_is_type(o, json_type_object))
                return fail(errbuf, errsize, "not a JSON object");

        s = string_member(o, "host", "id", &n);
        if (!s || n != HOST_ID_LEN || !host_id_is_valid(s)) /* n, not strlen: "\u0000" cuts s short */
                return fail(errbuf, errsize, "host.id missing or not 32 lowercase hex digits");
        memcpy(ret_host_id, s, HOST_ID_LEN + 1);

        json_object *v = member(o, "event", "sequence");
        if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0)
                return fail(errbuf, errsize, "event.sequence missing or not a positive integer");
        rec.sequence = (uint64_t) json_object_get_int64(v);
        if (rec.sequence == (uint64_t) INT64_MAX)
                return fail(errbuf, errsize, "event.sequence out of range");

        s = string_member(o, "event", "action", &n);
        if (!s || n == 0 || n > ACTION_MAX || memchr(s, 0, n))
                return fail(errbuf, errsize, "event.action missing, empty or longer than %d bytes", ACTION_MAX);
        memcpy(rec.action, s, n);
        rec.action[n] = 0;

        s = string_member(o, "@timestamp", NULL, &n);
        if (!s || journal_timestamp_parse(s, n, &rec.timestamp_usec) < 0 || rec.timestamp_usec >= (uint64_t) INT64_MAX)
                return fail(errbuf, errsize, "@timestamp missing or not an RFC 3339 time");

        s = string_member(o, "mnguard", "prev_hash", &n);
        if (!s || hash_from_hex(s, n, rec.prev_hash) < 0)
                return fail(errbuf, errsize, "mnguard.prev_hash missing or not 64 lowercase hex digits");
        char prev_hex[65];
        memcpy(prev_hex, s, 65);

        s = string_member(o, "mnguard", "hash", &n);
        if (!s || hash_from_hex(s, n, rec.hash) < 0)
                return fail(errbuf, errsize, "mnguard.hash missing or not 64 lowercase hex digits");
        char hash_hex[65];
        memcpy(hash_hex, s, 65);

        /* What the agent hashed: the record without mnguard.hash, in canonical form. */
        json_object_object_del(member(o, "mnguard", NULL), "hash");
        r = journal_canonical_json(o, &body, &body_len);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(errbuf, errsize, "not in canonical form (docs/journal.md: no floating-point numbers, "
                                             "valid UTF-8, bounded nesting)");
        /* The line must be exactly that plus the hash member: the text stored is the text hashed, with no
         * second reading (spaces, key order, escapes, duplicate keys). */
        if (!line_is_body_plus_hash(line, len, body, body_len, hash_hex))
                return fail(errbuf, errsize, "not in canonical form (docs/journal.md: sorted keys, no spaces, "
                                             "integers only)");
        if ((r = record_chain_hash(prev_hex, body, body_len, rec.digest)) < 0)
                return r;
        rec.hash_ok = memcmp(rec.digest, rec.hash, SHA256_SIZE) == 0;

        if ((r = column_copy(o, "user", "name", USER_NAME_MAX, &rec.user_name)) < 0 ||
            (r = column_copy(o, "device", "serial", DEVICE_SERIAL_MAX, &rec.dev_serial)) < 0) {
                record_done(&rec);
                return r;
        }
        size_t nv = 0, np = 0;
        const char *vendor = string_member(o, "device", "vendor", &nv), *product = string_member(o, "device", "product", &np);
        if (vendor && product && nv == 4 && np == 4) {
                char vp[10];
                memcpy(vp, vendor, 4);
                vp[4] = ':';
                memcpy(vp + 5, product, 4);
                vp[9] = 0;
                if (!device_is_vidpid(vp, rec.dev_vidpid))
                        rec.dev_vidpid[0] = 0;
        }
        v = member(o, "mnguard", "policy_serial");
        if (v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0)
                rec.policy_serial = (uint64_t) json_object_get_int64(v);
        s = string_member(o, "mnguard", "version", &n);
        if (streq(rec.action, "agent-started") && s && agent_version_is_valid(s, n)) {
                memcpy(rec.agent_version, s, n);
                rec.agent_version[n] = 0;
        }
        if (ret_host_name && (r = column_copy(o, "host", "name", HOST_NAME_MAX_BYTES, ret_host_name)) < 0) {
                record_done(&rec);
                return r;
        }
        rec.json = strndup(line, len);
        if (!rec.json) {
                record_done(&rec);
                return -ENOMEM;
        }
        rec.json_len = len;
        *ret = rec;
        return 0;
}

static int parse_with(json_tokener *tok, const char *line, size_t len, bool fast, IngestRecord *ret, char *ret_host_id,
                      char **ret_host_name, char *errbuf, size_t errsize) {
        char again[BATCH_ERROR_MAX], hid[HOST_ID_LEN + 1];
        IngestRecord rec = {};
        char *name = NULL;
        int r;

        if (len > BATCH_LINE_MAX)
                return fail(errbuf, errsize, "longer than %u bytes", BATCH_LINE_MAX);
        if (memchr(line, 0, len))
                return fail(errbuf, errsize, "contains a NUL byte");
        if (fast) {
                r = record_parse_fast(line, len, ret, ret_host_id, ret_host_name);
                if (r != -EAGAIN)
                        return r;
        }
        r = parse_json(tok, line, len, ret, ret_host_id, ret_host_name, errbuf, errsize);
        if (r != -EBADMSG)
                return r;
        /* json-c before 0.17 says nothing when memory runs out while parsing: it drops members and cuts
         * strings short. A refused line is parsed a second time, and only the same refusal twice is the
         * line's fault (a valid batch refused with 400 would not be sent again as it is). */
        if (errsize > sizeof(again))
                errsize = sizeof(again);
        r = parse_json(tok, line, len, &rec, hid, ret_host_name ? &name : NULL, again, errsize);
        if (r == 0) {
                *ret = rec;
                memcpy(ret_host_id, hid, sizeof(hid));
                if (ret_host_name)
                        *ret_host_name = name;
                return 0;
        }
        if (r == -EBADMSG && strncmp(again, errbuf, errsize) == 0)
                return r;
        return -ENOMEM;
}

static json_tokener *tokener_new(void) {
        json_tokener *tok = json_tokener_new_ex(JOURNAL_DEPTH_MAX + 2);
        if (tok)
                json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        return tok;
}

int record_parse(const char *line, size_t len, IngestRecord *ret, char *ret_host_id, char **ret_host_name,
                 char *errbuf, size_t errsize) {
        _cleanup_(json_tokener_freep) json_tokener *tok = tokener_new();
        if (!tok)
                return -ENOMEM;
        return parse_with(tok, line, len, true, ret, ret_host_id, ret_host_name, errbuf, errsize);
}

int record_parse_full(const char *line, size_t len, IngestRecord *ret, char *ret_host_id, char **ret_host_name,
                      char *errbuf, size_t errsize) {
        _cleanup_(json_tokener_freep) json_tokener *tok = tokener_new();
        if (!tok)
                return -ENOMEM;
        return parse_with(tok, line, len, false, ret, ret_host_id, ret_host_name, errbuf, errsize);
}

void batch_done(IngestBatch *b) {
        for (size_t i = 0; i < b->n; i++)
                record_done(&b->records[i]);
        free(b->records);
        free(b->host_name);
        *b = (IngestBatch) {};
}

static int cmp_sequence(const void *a, const void *b) {
        const IngestRecord *x = a, *y = b;
        return x->sequence < y->sequence ? -1 : x->sequence > y->sequence;
}

_printf_(4, 5) static int batch_fail(BatchError *err, int status, unsigned line, const char *fmt, ...) {
        va_list ap;
        int n = 0;
        err->status = status;
        err->line = line;
        if (line > 0)
                n = snprintf(err->message, sizeof(err->message), "line %u: ", line);
        if (n < 0 || (size_t) n >= sizeof(err->message))
                n = 0;
        va_start(ap, fmt);
        vsnprintf(err->message + n, sizeof(err->message) - (size_t) n, fmt, ap);
        va_end(ap);
        return status == 403 ? -EPERM : -EBADMSG;
}

/* 413 at line, the first record past BATCH_EVENTS_MAX. */
static int fail_too_many(BatchError *err, unsigned line) {
        (void) batch_fail(err, 413, line, "more than %u records in one batch", BATCH_EVENTS_MAX);
        return -E2BIG;
}

int batch_chunk_parse(Chunk *c) {
        _cleanup_(json_tokener_freep) json_tokener *tok = tokener_new();
        unsigned line = c->first_line - 1;
        const char *p = c->p;
        BatchError *err = &c->err;

        if (!tok)
                return -ENOMEM;
        while (p < c->end) {
                const char *nl = memchr(p, '\n', (size_t) (c->end - p));
                size_t n = nl ? (size_t) (nl - p) : (size_t) (c->end - p);
                const char *start = p;
                p = nl ? nl + 1 : c->end;
                line++;
                if (n > 0 && start[n - 1] == '\r')
                        n--;
                if (n == 0)
                        continue;       /* blank lines (a final newline) carry nothing */
                if (c->b.n >= BATCH_EVENTS_MAX)
                        return fail_too_many(err, line);
                if (c->b.n == c->cap) {
                        size_t ncap = c->cap ? c->cap * 2 : 64;
                        if (ncap > BATCH_EVENTS_MAX)
                                ncap = BATCH_EVENTS_MAX;
                        IngestRecord *nr = realloc(c->b.records, ncap * sizeof(*nr));
                        if (!nr)
                                return -ENOMEM;
                        c->b.records = nr;
                        c->cap = ncap;
                }
                char why[BATCH_ERROR_MAX - 32] = "";
                char hid[HOST_ID_LEN + 1] = "";
                _cleanup_free_ char *hname = NULL;
                IngestRecord rec = {};
                int r = parse_with(tok, start, n, true, &rec, hid, &hname, why, sizeof(why));
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return batch_fail(err, 400, line, "%s", why);
                rec.line = line;
                c->b.records[c->b.n++] = rec;
                if (!streq(hid, c->host_id))
                        return batch_fail(err, 403, line, "host.id %s is not the host of this client certificate", hid);
                if (hname) {
                        free(c->b.host_name);
                        c->b.host_name = TAKE_PTR(hname);
                }
        }
        return 0;
}

static void *chunk_thread(void *userdata) {
        Chunk *c = userdata;
        c->r = batch_chunk_parse(c);
        return NULL;
}

static unsigned count_lines(const char *p, const char *end) {
        unsigned n = 0;
        while ((p = memchr(p, '\n', (size_t) (end - p)))) {
                n++;
                p++;
        }
        return n;
}

int batch_chunks_merge(Chunk *chunks, unsigned n_chunks, IngestBatch *ret, BatchError *err) {
        _cleanup_(batch_done) IngestBatch b = {};
        int r = 0;

        /* As one pass would answer: the first, in line order, of a refused line and the record past
         * BATCH_EVENTS_MAX (a chunk's records all come before its refused line, if any). */
        size_t total = 0;
        for (unsigned k = 0; k < n_chunks && r == 0; k++) {
                const Chunk *c = &chunks[k];
                if (total + c->b.n > BATCH_EVENTS_MAX)
                        r = fail_too_many(err, c->b.records[BATCH_EVENTS_MAX - total].line);
                else if (c->r < 0 && c->r != -ENOMEM && total + c->b.n == BATCH_EVENTS_MAX && c->err.line > 0)
                        /* the refused line is the one past the limit: the limit is what one pass sees first */
                        r = fail_too_many(err, c->err.line);
                else if (c->r < 0) {
                        r = c->r;
                        *err = c->err;
                }
                total += c->b.n;
        }
        if (r == 0 && total > 0) {
                b.records = malloc(total * sizeof(IngestRecord));
                if (!b.records)
                        r = -ENOMEM;
        }
        for (unsigned k = 0; k < n_chunks; k++) {
                if (r == 0) {
                        if (chunks[k].b.n > 0)
                                memcpy(b.records + b.n, chunks[k].b.records, chunks[k].b.n * sizeof(IngestRecord));
                        b.n += chunks[k].b.n;
                        free(chunks[k].b.records);
                        chunks[k].b.records = NULL;
                        chunks[k].b.n = 0;
                        if (chunks[k].b.host_name) {
                                free(b.host_name);
                                b.host_name = TAKE_PTR(chunks[k].b.host_name);
                        }
                }
                batch_done(&chunks[k].b);
        }
        if (r < 0)
                return r;
        if (b.n > 1) {
                qsort(b.records, b.n, sizeof(*b.records), cmp_sequence);
                for (size_t i = 1; i < b.n; i++)
                        if (b.records[i].sequence == b.records[i - 1].sequence) {
                                unsigned l1 = b.records[i].line, l2 = b.records[i - 1].line;
                                return batch_fail(err, 400, l1 > l2 ? l1 : l2,
                                                  "sequence %llu appears twice in the batch (lines %u and %u)",
                                                  (unsigned long long) b.records[i].sequence, l1 < l2 ? l1 : l2,
                                                  l1 > l2 ? l1 : l2);
                        }
        }
        *ret = b;
        b = (IngestBatch) {};
        return 0;
}

void batch_chunks_split(const char *body, size_t len, const char *host_id, Chunk *chunks, unsigned n_chunks) {
        const char *p = body, *end = body + len;
        unsigned line = 1;
        for (unsigned k = 0; k < n_chunks; k++) {
                const char *stop = k + 1 == n_chunks ? end : body + len / n_chunks * (k + 1);
                if (stop < p)
                        stop = p;
                if (stop < end) {
                        const char *nl = memchr(stop, '\n', (size_t) (end - stop));
                        stop = nl ? nl + 1 : end;
                }
                chunks[k] = (Chunk) { .p = p, .end = stop, .first_line = line, .host_id = host_id };
                line += count_lines(p, stop);
                p = stop;
        }
}

int batch_parse(const char *body, size_t len, const char *host_id, IngestBatch *ret, BatchError *err) {
        Chunk chunks[BATCH_PARSE_THREADS_MAX] = {};
        pthread_t threads[BATCH_PARSE_THREADS_MAX];
        bool started[BATCH_PARSE_THREADS_MAX] = {};
        unsigned n_chunks = 1;

        *err = (BatchError) {};
        if (len > BATCH_BODY_MAX)
                return batch_fail(err, 413, 0, "body larger than %u bytes", BATCH_BODY_MAX);

        /* Big batches are split at line boundaries and parsed on several threads (a backlog drains at the
         * speed of one request after another); the first error by line number wins, as in one pass. */
        if (len >= BATCH_PARALLEL_MIN_BYTES) {
                long cpus = sysconf(_SC_NPROCESSORS_ONLN);
                n_chunks = cpus < 2 ? 1 : cpus > BATCH_PARSE_THREADS_MAX ? BATCH_PARSE_THREADS_MAX : (unsigned) cpus;
        }
        batch_chunks_split(body, len, host_id, chunks, n_chunks);
        for (unsigned k = 1; k < n_chunks; k++)
                started[k] = pthread_create(&threads[k], NULL, chunk_thread, &chunks[k]) == 0;
        chunks[0].r = batch_chunk_parse(&chunks[0]);
        for (unsigned k = 1; k < n_chunks; k++) {
                if (started[k])
                        pthread_join(threads[k], NULL);
                else
                        chunks[k].r = batch_chunk_parse(&chunks[k]);
        }
        return batch_chunks_merge(chunks, n_chunks, ret, err);
}
