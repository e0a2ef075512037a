/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The read side for operators: GET /v1/events (paged NDJSON), /v1/hosts, /v1/alerts; and /v1/health. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "log.h"
#include "output.h"
#include "server.h"
#include "strutil.h"

#define ALERTS_DEFAULT 100u
#define ALERTS_MAX 10000u
#define HOSTS_RESPONSE_MAX (64u * 1024u * 1024u)

/* A query-string argument: at most SERVER_QUERY_ARG_MAX bytes of valid UTF-8 without control bytes. */
static int arg(const Request *req, const char *name, const char **ret) {
        const char *v = MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
        *ret = NULL;
        if (!v)
                return 0;
        size_t n = strlen(v);
        if (n == 0 || n > SERVER_QUERY_ARG_MAX || !utf8_is_valid(v, n, NULL))
                return -EINVAL;
        for (const char *p = v; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return -EINVAL;
        *ret = v;
        return 1;
}

static bool arg_bad(const Request *req, Reply *reply, const char *name, const char **ret) {
        if (arg(req, name, ret) >= 0)
                return false;
        reply_error(reply, 400, "bad-argument", 0, "argument '%s' must be 1-%d bytes of text", name, SERVER_QUERY_ARG_MAX);
        return true;
}

typedef struct Page {
        char *data;
        size_t len, cap;
        uint64_t n, max;
        char next[CURSOR_MAX];
        bool full;
} Page;

static int page_add(const StoredEvent *e, void *userdata) {
        Page *p = userdata;
        if (p->n == p->max || p->len + e->json_len + 1 > RESPONSE_PAGE_BYTES_MAX) {
                p->full = true;
                return 1;
        }
        if (p->len + e->json_len + 1 > p->cap) {
                size_t ncap = p->cap ? p->cap : 64 * 1024;
                while (ncap < p->len + e->json_len + 1)
                        ncap *= 2;
                char *d = realloc(p->data, ncap);
                if (!d)
                        return -ENOMEM;
                p->data = d;
                p->cap = ncap;
        }
        memcpy(p->data + p->len, e->json, e->json_len);
        p->len += e->json_len;
        p->data[p->len++] = '\n';
        p->n++;
        cursor_format(e->timestamp_usec, e->host_id, e->sequence, p->next);
        return 0;
}

int api_events(Server *srv, const Request *req, Reply *reply) {
        const char *host, *since, *until, *action, *user, *device, *limit, *order, *after;
        EventQuery q = {};
        uint64_t now = now_realtime_usec(), page = QUERY_PAGE_DEFAULT;

        if (arg_bad(req, reply, "host", &host) || arg_bad(req, reply, "since", &since) ||
            arg_bad(req, reply, "until", &until) || arg_bad(req, reply, "action", &action) ||
            arg_bad(req, reply, "user", &user) || arg_bad(req, reply, "device", &device) ||
            arg_bad(req, reply, "limit", &limit) || arg_bad(req, reply, "order", &order) ||
            arg_bad(req, reply, "after", &after))
                return 0;
        if (host && !host_id_is_valid(host)) {
                reply_error(reply, 400, "bad-argument", 0, "host must be a host id (32 lowercase hex digits)");
                return 0;
        }
        if ((since && time_arg_parse(since, now, &q.since_usec) < 0) || (until && time_arg_parse(until, now, &q.until_usec) < 0)) {
                reply_error(reply, 400, "bad-argument", 0, "since/until must be RFC 3339 times (2026-11-26T09:00:00+09:00), "
                                                           "dates (2026-11-26) or relative (7d, 12h)");
                return 0;
        }
        if (limit && (parse_u64(limit, &page) < 0 || page == 0 || page > QUERY_PAGE_MAX)) {
                reply_error(reply, 400, "bad-argument", 0, "limit must be 1-%u", QUERY_PAGE_MAX);
                return 0;
        }
        if (order && !streq(order, "asc") && !streq(order, "desc")) {
                reply_error(reply, 400, "bad-argument", 0, "order must be asc or desc");
                return 0;
        }
        if (after && cursor_parse(after, &q) < 0) {
                reply_error(reply, 400, "bad-argument", 0, "after must be a Mnguard-Next-After value from a previous page");
                return 0;
        }
        q.host_id = host;
        q.action = action;
        q.user = user;
        q.device = device;
        q.order = order && streq(order, "desc") ? EVENT_ORDER_DESCENDING : EVENT_ORDER_ASCENDING;
        q.limit = page + 1;     /* one more tells whether there is a next page */

        Page p = { .max = page };
        int r = storage_events(server_storage(srv), &q, page_add, &p, NULL);
        if (r < 0) {
                free(p.data);
                return r;
        }
        log_info("Operator %s queried events (host %s, %llu records).", req->peer->subject, host ?: "any",
                 (unsigned long long) p.n);
        reply->status = 200;
        reply->content_type = "application/x-ndjson";
        reply->body = p.data ?: strdup("");
        reply->body_len = p.len;
        if (!reply->body)
                return -ENOMEM;
        if (p.full)
                memcpy(reply->next, p.next, sizeof(p.next));
        return 0;
}

typedef struct HostsCtx {
        json_object *array;
} HostsCtx;

static int host_add(const HostState *h, void *userdata) {
        HostsCtx *c = userdata;
        json_object *o = host_to_json(h);
        if (!o)
                return -ENOMEM;
        json_object_array_add(c->array, o);
        return 0;
}

int api_hosts(Server *srv, const Request *req, Reply *reply) {
        HostsCtx c = { .array = json_object_new_array() };
        if (!c.array)
                return -ENOMEM;
        int r = storage_hosts(server_storage(srv), host_add, &c);
        if (r < 0) {
                json_object_put(c.array);
                return r;
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "hosts", c.array);
        reply_json(reply, 200, o);
        return 0;
}

typedef struct AlertsCtx {
        char *data;
        size_t len;
        int error;
} AlertsCtx;

static int alert_add(const AlertRecord *a, void *userdata) {
        AlertsCtx *c = userdata;
        json_object *o = alert_to_json(a);
        char *s = NULL;
        if (!o || mn_json_to_string(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &s) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        json_object_put(o);
        size_t n = strlen(s);
        char *d = realloc(c->data, c->len + n + 2);
        if (!d) {
                free(s);
                return -ENOMEM;
        }
        memcpy(d + c->len, s, n);
        d[c->len + n] = '\n';
        d[c->len + n + 1] = 0;
        c->data = d;
        c->len += n + 1;
        free(s);
        return 0;
}

int api_alerts(Server *srv, const Request *req, Reply *reply) {
        const char *host, *limit;
        uint64_t n = ALERTS_DEFAULT;
        if (arg_bad(req, reply, "host", &host) || arg_bad(req, reply, "limit", &limit))
                return 0;
        if ((host && !host_id_is_valid(host)) || (limit && (parse_u64(limit, &n) < 0 || n == 0 || n > ALERTS_MAX))) {
                reply_error(reply, 400, "bad-argument", 0, "host must be a host id, limit 1-%u", ALERTS_MAX);
                return 0;
        }
        AlertsCtx c = {};
        int r = storage_alerts(server_storage(srv), host, n, alert_add, &c);
        if (r < 0) {
                free(c.data);
                return r;
        }
        reply->status = 200;
        reply->content_type = "application/x-ndjson";
        reply->body = c.data ?: strdup("");
        reply->body_len = c.len;
        return reply->body ? 0 : -ENOMEM;
}

int api_health(Server *srv, const Request *req, Reply *reply) {
        int r = storage_ping(server_storage(srv));
        json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string(r < 0 ? "unavailable" : "ok"));
        json_object_object_add(o, "storage", json_object_new_string(server_storage(srv)->ops->scheme));
        json_object_object_add(o, "version", json_object_new_string(MNGUARD_VERSION));
        if (r < 0)
                reply->retry_after = true;
        reply_json(reply, r < 0 ? 503 : 200, o);
        return 0;
}
