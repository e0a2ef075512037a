/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GET /v1/console/export: one host's events as an evidence file in the format of `mnguardctl export` (the
 * records as received, in sequence order, then a manifest line), verifiable anywhere with
 * `mnguardctl --journal FILE verify`.
 *
 * The verifier checks an unbroken run of the chain: every sequence from the first record to the last, each
 * linking to the one before. So the file holds every stored record from the first one that matches the
 * filters to the last one (by @timestamp, as `mnguardctl export --since --until` picks its range); with
 * only a time range that is exactly the agent's export of that range. Filters on action, user or device
 * choose where the run starts and ends; the records between that do not match are in the file too (the
 * chain needs them), and the manifest names the filters and how many records match. docs/console.md. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console-internal.h"
#include "journal.h"
#include "log.h"
#include "output.h"
#include "strutil.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

typedef struct Edge {
        bool found;
        uint64_t sequence;
} Edge;

static int edge_take(const StoredEvent *e, void *userdata) {
        Edge *x = userdata;
        x->found = true;
        x->sequence = e->sequence;
        return 1;
}

static int count_one(const StoredEvent *e, void *userdata) {
        (*(uint64_t *) userdata)++;
        return 0;
}

typedef struct ExportBuf {
        char *data;
        size_t len, cap;
        uint64_t count, flagged, first_seq, last_seq;
        size_t first_off, first_len, last_off, last_len;
        bool too_big;
} ExportBuf;

static int export_add(const StoredEvent *e, void *userdata) {
        ExportBuf *b = userdata;
        if (b->count >= CONSOLE_EXPORT_RECORDS_MAX || b->len + e->json_len + 1 > CONSOLE_EXPORT_BYTES_MAX) {
                b->too_big = true;
                return 1;
        }
        if (b->len + e->json_len + 1 > b->cap) {
                size_t ncap = b->cap ? b->cap : 256 * 1024;
                while (ncap < b->len + e->json_len + 1)
                        ncap *= 2;
                char *d = realloc(b->data, ncap);
                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->cap = ncap;
        }
        if (b->count == 0) {
                b->first_off = b->len;
                b->first_len = e->json_len;
                b->first_seq = e->sequence;
        }
        b->last_off = b->len;
        b->last_len = e->json_len;
        b->last_seq = e->sequence;
        memcpy(b->data + b->len, e->json, e->json_len);
        b->len += e->json_len;
        b->data[b->len++] = '\n';
        b->count++;
        if (e->flags)
                b->flagged++;
        return 0;
}

/* mnguard.<key> of a stored record (a string), copied into out. */
static int record_mnguard_string(const char *line, size_t len, const char *key, char *out, size_t outsize) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_tokener *tok = json_tokener_new_ex(JOURNAL_DEPTH_MAX + 2);
        json_object *m, *v;
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, line, (int) len);
        json_tokener_free(tok);
        if (!o || !json_object_object_get_ex(o, "mnguard", &m) || !json_object_object_get_ex(m, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        snprintf(out, outsize, "%s", json_object_get_string(v));
        return 0;
}

static void add_string(json_object *o, const char *key, const char *value) {
        if (value)
                json_object_object_add(o, key, json_object_new_string(value));
}

int api_console_export(Server *srv, const Request *req, Reply *reply) {
        struct MHD_Connection *c = req->connection;
        const char *host, *since, *until, *action, *user, *device;
        EventQuery q = {};
        uint64_t now = now_realtime_usec();
        Storage *st = server_storage(srv);
        char ts[JOURNAL_TIMESTAMP_MAX];
        int r;

        if (console_arg_bad(c, reply, "host", &host) || console_arg_bad(c, reply, "since", &since) ||
            console_arg_bad(c, reply, "until", &until) || console_arg_bad(c, reply, "action", &action) ||
            console_arg_bad(c, reply, "user", &user) || console_arg_bad(c, reply, "device", &device))
                return 0;
        if (!host || !host_id_is_valid(host)) {
                reply_error(reply, 400, "bad-argument", 0, "host must be a host id (32 lowercase hex digits)");
                return 0;
        }
        if ((since && time_arg_parse(since, now, &q.since_usec) < 0) || (until && time_arg_parse(until, now, &q.until_usec) < 0)) {
                reply_error(reply, 400, "bad-argument", 0, "since/until must be RFC 3339 times, dates or relative (7d, 12h)");
                return 0;
        }
        q.host_id = host;
        q.action = action;
        q.user = user;
        q.device = device;
        q.limit = 1;

        /* where the run starts and ends: the first and the last matching record */
        Edge first = {}, last = {};
        q.order = EVENT_ORDER_ASCENDING;
        r = storage_events(st, &q, edge_take, &first, NULL);
        if (r < 0)
                return r;
        q.order = EVENT_ORDER_DESCENDING;
        r = storage_events(st, &q, edge_take, &last, NULL);
        if (r < 0)
                return r;
        uint64_t from = first.sequence < last.sequence ? first.sequence : last.sequence;
        uint64_t to = first.sequence < last.sequence ? last.sequence : first.sequence;
        if (first.found && to - from >= CONSOLE_EXPORT_RECORDS_MAX) {
                reply_error(reply, 413, "export-too-large", 0, "the export would hold %llu records (at most %u): "
                            "narrow the time range", (unsigned long long) (to - from + 1), CONSOLE_EXPORT_RECORDS_MAX);
                return 0;
        }

        ExportBuf b = {};
        if (first.found) {
                r = storage_console(st)->events_span(st, host, from, to, export_add, &b);
                if (r < 0) {
                        free(b.data);
                        return r;
                }
                if (b.too_big) {
                        free(b.data);
                        reply_error(reply, 413, "export-too-large", 0, "the export is larger than %u MiB: narrow the time range",
                                    CONSOLE_EXPORT_BYTES_MAX / (1024u * 1024u));
                        return 0;
                }
        }
        /* how many of them match every filter (the time range alone: all of them) */
        uint64_t matching = b.count;
        if (b.count > 0 && (action || user || device)) {
                matching = 0;
                q.limit = CONSOLE_EXPORT_RECORDS_MAX;
                q.order = EVENT_ORDER_ASCENDING;
                r = storage_events(st, &q, count_one, &matching, NULL);
                if (r < 0) {
                        free(b.data);
                        return r;
                }
        }

        /* the manifest, as journal_export() writes it, and what the collector adds */
        _cleanup_(json_object_putp) json_object *top = json_object_new_object();
        json_object *m = json_object_new_object();
        if (!top || !m) {
                json_object_put(m);
                free(b.data);
                return -ENOMEM;
        }
        json_object_object_add(top, "mnguard_manifest", m);
        json_object_object_add(m, "format", json_object_new_int(JOURNAL_EXPORT_FORMAT));
        json_object_object_add(m, "count", json_object_new_uint64(b.count));
        json_object_object_add(m, "exported_at", json_object_new_string(journal_timestamp_format(now, ts)));
        json_object_object_add(m, "host_id", json_object_new_string(host));
        if (q.since_usec)
                json_object_object_add(m, "since", json_object_new_string(journal_timestamp_format(q.since_usec, ts)));
        if (q.until_usec)
                json_object_object_add(m, "until", json_object_new_string(journal_timestamp_format(q.until_usec, ts)));
        if (b.count > 0) {
                char hash[65];
                json_object_object_add(m, "first_sequence", json_object_new_uint64(b.first_seq));
                json_object_object_add(m, "last_sequence", json_object_new_uint64(b.last_seq));
                r = record_mnguard_string(b.data + b.first_off, b.first_len, "prev_hash", hash, sizeof(hash));
                if (r >= 0)
                        json_object_object_add(m, "first_prev_hash", json_object_new_string(hash));
                if (r >= 0)
                        r = record_mnguard_string(b.data + b.last_off, b.last_len, "hash", hash, sizeof(hash));
                if (r >= 0)
                        json_object_object_add(m, "last_hash", json_object_new_string(hash));
                if (r < 0) {
                        free(b.data);
                        return r == -ENOMEM ? r : -EIO;
                }
        }
        json_object *src = json_object_new_object();
        json_object_object_add(m, "collector", src);
        json_object_object_add(src, "exported_by", json_object_new_string(req->peer->subject));
        json_object_object_add(src, "flagged", json_object_new_uint64(b.flagged));
        json_object_object_add(src, "matching", json_object_new_uint64(matching));
        json_object_object_add(src, "version", json_object_new_string(MNGUARD_VERSION));
        if (action || user || device) {
                json_object *f = json_object_new_object();
                add_string(f, "action", action);
                add_string(f, "user", user);
                add_string(f, "device", device);
                json_object_object_add(src, "filter", f);
        }
        _cleanup_free_ char *line = NULL;
        size_t line_len = 0;
        r = journal_canonical_json(top, &line, &line_len);
        if (r < 0) {
                free(b.data);
                return r == -ENOMEM ? r : -EIO;
        }
        char *d = realloc(b.data, b.len + line_len + 2);
        if (!d) {
                free(b.data);
                return -ENOMEM;
        }
        memcpy(d + b.len, line, line_len);
        d[b.len + line_len] = '\n';
        d[b.len + line_len + 1] = 0;

        reply->status = 200;
        reply->content_type = "application/x-ndjson";
        reply->body = d;
        reply->body_len = b.len + line_len + 1;
        reply->records = b.count;
        /* the file name from the host id and the time only: nothing untrusted in a header */
        char stamp[JOURNAL_TIMESTAMP_MAX], compact[32];
        journal_timestamp_format(now, stamp);
        size_t k = 0;
        for (const char *p = stamp; *p && *p != '.' && k + 1 < sizeof(compact); p++)
                if (*p != '-' && *p != ':')
                        compact[k++] = *p;
        compact[k] = 0;
        snprintf(reply->disposition, sizeof(reply->disposition), "attachment; filename=\"mnguard-%s-%sZ.ndjson\"", host,
                 compact);
        log_info("Operator %s exported %llu records of host %s.", req->peer->subject, (unsigned long long) b.count, host);
        return 0;
}
