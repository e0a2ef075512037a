/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The console's read endpoints: GET /v1/console/hosts (a page of the host list: sorted, filtered, with
 * events of the last 24 hours and silent hosts marked), /v1/console/serials (which hosts run which policy
 * serial) and /v1/console/access (the access log). docs/collector-api.md "Console". */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "console-internal.h"
#include "journal.h"
#include "output.h"
#include "strutil.h"

#define SILENT_AFTER_MIN_SEC 60u
#define SILENT_AFTER_MAX_SEC (366u * 86400u)
#define CONSOLE_HOSTS_PAGE_DEFAULT 100u

static json_object *time_or_null(uint64_t usec) {
        char buf[JOURNAL_TIMESTAMP_MAX];
        return usec ? json_object_new_string(journal_timestamp_format(usec, buf)) : NULL;
}

static bool chain_name_ok(const char *s) {
        for (ChainState k = 0; k < _CHAIN_STATE_MAX; k++)
                if (streq(chain_state_to_string(k), s))
                        return true;
        return false;
}

typedef struct HostsPage {
        json_object *array;
        uint64_t silent_before, n;
} HostsPage;

static int host_add(const ConsoleHost *c, void *userdata) {
        HostsPage *p = userdata;
        json_object *o = host_to_json(&c->state);
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "events_24h", json_object_new_uint64(c->events_recent));
        json_object_object_add(o, "silent", json_object_new_boolean(c->state.last_seen_usec < p->silent_before));
        json_object_array_add(p->array, o);
        p->n++;
        return 0;
}

int api_console_hosts(Server *srv, const Request *req, Reply *reply) {
        struct MHD_Connection *c = req->connection;
        const char *host, *text, *group, *chain, *version, *serial, *silent, *silent_after, *sort, *order, *offset, *limit;
        ConsoleHostQuery q = { .limit = CONSOLE_HOSTS_PAGE_DEFAULT };
        uint64_t now = now_realtime_usec(), after_sec = CONSOLE_SILENT_DEFAULT_SEC, total = 0;

        if (console_arg_bad(c, reply, "host", &host) || console_arg_bad(c, reply, "q", &text) ||
            console_arg_bad(c, reply, "group", &group) || console_arg_bad(c, reply, "chain", &chain) ||
            console_arg_bad(c, reply, "version", &version) || console_arg_bad(c, reply, "serial", &serial) ||
            console_arg_bad(c, reply, "silent", &silent) || console_arg_bad(c, reply, "silent_after", &silent_after) ||
            console_arg_bad(c, reply, "sort", &sort) || console_arg_bad(c, reply, "order", &order) ||
            console_arg_bad(c, reply, "offset", &offset) || console_arg_bad(c, reply, "limit", &limit))
                return 0;
        if ((host && !host_id_is_valid(host)) || (group && !group_name_is_valid(group)) ||
            (chain && !chain_name_ok(chain)) || (version && strlen(version) > AGENT_VERSION_MAX) ||
            (serial && parse_u64(serial, &q.serial) < 0) || (silent && !streq(silent, "1") && !streq(silent, "0")) ||
            (silent_after && (parse_u64(silent_after, &after_sec) < 0 || after_sec < SILENT_AFTER_MIN_SEC ||
                              after_sec > SILENT_AFTER_MAX_SEC)) ||
            (sort && console_host_sort_from_string(sort, &q.sort) < 0) ||
            (order && !streq(order, "asc") && !streq(order, "desc")) || (offset && parse_u64(offset, &q.offset) < 0) ||
            (limit && (parse_u64(limit, &q.limit) < 0 || q.limit == 0 || q.limit > CONSOLE_HOSTS_PAGE_MAX))) {
                reply_error(reply, 400, "bad-argument", 0,
                            "host: a host id; chain: empty|intact|gap|broken; serial: a number; silent: 0|1; "
                            "silent_after: %u-%u seconds; sort: name|id|last_seen|version|serial|chain|events|events_24h; "
                            "order: asc|desc; offset: a number; limit: 1-%u",
                            SILENT_AFTER_MIN_SEC, SILENT_AFTER_MAX_SEC, CONSOLE_HOSTS_PAGE_MAX);
                return 0;
        }
        HostsPage p = { .array = json_object_new_array(), .silent_before = now - after_sec * 1000000u };
        if (!p.array)
                return -ENOMEM;
        q.host_id = host;
        q.text = text;
        q.group = group;
        q.chain = chain;
        q.version = version;
        q.has_serial = serial != NULL;
        q.silent_before_usec = silent && streq(silent, "1") ? p.silent_before : 0;
        q.recent_since_usec = now - CONSOLE_RECENT_USEC;
        q.descending = order ? streq(order, "desc") : (q.sort == CONSOLE_SORT_LAST_SEEN || q.sort == CONSOLE_SORT_RECENT ||
                                                       q.sort == CONSOLE_SORT_EVENTS || q.sort == CONSOLE_SORT_SERIAL);
        Storage *st = server_storage(srv);
        int r = storage_console(st)->hosts(st, &q, host_add, &p, &total);
        if (r < 0) {
                json_object_put(p.array);
                return r;
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "total", json_object_new_uint64(total));
        json_object_object_add(o, "offset", json_object_new_uint64(q.offset));
        json_object_object_add(o, "limit", json_object_new_uint64(q.limit));
        json_object_object_add(o, "now", time_or_null(now));
        json_object_object_add(o, "silent_after", json_object_new_uint64(after_sec));
        json_object_object_add(o, "hosts", p.array);
        reply->records = p.n;
        reply_json(reply, 200, o);
        return 0;
}

static int serial_add(const SerialCount *s, void *userdata) {
        json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "group", json_object_new_string(s->group));
        json_object_object_add(o, "policy_serial", json_object_new_uint64(s->serial));
        json_object_object_add(o, "hosts", json_object_new_uint64(s->hosts));
        json_object_object_add(o, "last_seen", time_or_null(s->last_seen_usec));
        json_object_array_add(userdata, o);
        return 0;
}

int api_console_serials(Server *srv, const Request *req, Reply *reply) {
        json_object *a = json_object_new_array();
        if (!a)
                return -ENOMEM;
        Storage *st = server_storage(srv);
        int r = storage_console(st)->serials(st, serial_add, a);
        if (r < 0) {
                json_object_put(a);
                return r;
        }
        reply->records = json_object_array_length(a);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "serials", a);
        reply_json(reply, 200, o);
        return 0;
}

typedef struct AccessPage {
        json_object *array;
        int64_t last_id;
        uint64_t n;
} AccessPage;

static int access_add(const AccessEntry *e, void *userdata) {
        AccessPage *p = userdata;
        json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "id", json_object_new_int64(e->id));
        json_object_object_add(o, "time", time_or_null(e->time_usec));
        json_object_object_add(o, "operator", json_object_new_string(e->operator_name));
        json_object_object_add(o, "auth", json_object_new_string(e->auth));
        json_object_object_add(o, "remote", json_object_new_string(e->remote));
        json_object_object_add(o, "method", json_object_new_string(e->method));
        json_object_object_add(o, "path", json_object_new_string(e->path));
        json_object_object_add(o, "host_id", e->host_id[0] ? json_object_new_string(e->host_id) : NULL);
        json_object_object_add(o, "query", json_object_new_string(e->query));
        json_object_object_add(o, "status", json_object_new_int((int) e->status));
        json_object_object_add(o, "records", json_object_new_uint64(e->records));
        json_object_array_add(p->array, o);
        p->last_id = e->id;
        p->n++;
        return 0;
}

int api_console_access(Server *srv, const Request *req, Reply *reply) {
        struct MHD_Connection *c = req->connection;
        const char *op, *host, *before, *limit;
        AccessQuery q = { .limit = 100 };
        uint64_t b = 0;
        if (console_arg_bad(c, reply, "operator", &op) || console_arg_bad(c, reply, "host", &host) ||
            console_arg_bad(c, reply, "before", &before) || console_arg_bad(c, reply, "limit", &limit))
                return 0;
        if ((op && !console_operator_name_ok(op)) || (host && !host_id_is_valid(host)) ||
            (before && (parse_u64(before, &b) < 0 || b > (uint64_t) INT64_MAX)) ||
            (limit && (parse_u64(limit, &q.limit) < 0 || q.limit == 0 || q.limit > ACCESS_LIST_MAX))) {
                reply_error(reply, 400, "bad-argument", 0, "operator: a name; host: a host id; before: an entry id; "
                                                           "limit: 1-%u", ACCESS_LIST_MAX);
                return 0;
        }
        q.operator_name = op;
        q.host_id = host;
        q.before_id = (int64_t) b;
        AccessPage p = { .array = json_object_new_array() };
        if (!p.array)
                return -ENOMEM;
        Storage *st = server_storage(srv);
        int r = storage_console(st)->access_list(st, &q, access_add, &p);
        if (r < 0) {
                json_object_put(p.array);
                return r;
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "entries", p.array);
        json_object_object_add(o, "next_before", p.n == q.limit && p.last_id > 1 ? json_object_new_int64(p.last_id) : NULL);
        reply->records = p.n;
        reply_json(reply, 200, o);
        return 0;
}
