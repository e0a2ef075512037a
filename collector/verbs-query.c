/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading verbs on the storage directly: hosts, query, alerts. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector-verbs.h"
#include "journal.h"
#include "json-util.h"
#include "output.h"
#include "strutil.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static void print_json(json_object *o, int flags) {
        _cleanup_free_ char *s = NULL;
        if (mn_json_to_string(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE, &s) >= 0)
                puts(s);
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* Parses the common options and the verb's own; returns -1 to go on, or an exit status. */
typedef int (*VerbOption)(int c, const char *arg, void *userdata);

static int parse_and_open(int argc, char *argv[], const char *verb, const struct option *options, VerbOption f,
                          void *userdata, const char *help, Storage **ret) {
        Settings s = {};
        CollectorConf conf;
        int c, r;
        while ((c = getopt_long(argc, argv, "hr", options, NULL)) >= 0) {
                if ((r = settings_option(&s, c, optarg)) != 0) {
                        if (r < 0)
                                return EXIT_USAGE;
                        continue;
                }
                if (c == 'h') {
                        fputs(help, stdout);
                        return 0;
                }
                if (c == '?')
                        return EXIT_USAGE;
                r = f(c, optarg, userdata);
                if (r >= 0)
                        return r;
        }
        if (optind < argc) {
                fprintf(stderr, "mnguard-collector %s: unexpected argument\n", verb);
                return EXIT_USAGE;
        }
        if (settings_resolve(&s, verb, &conf) < 0)
                return EXIT_USAGE;
        r = open_storage(&conf, verb, 1, ret);
        collector_conf_clear(&conf);
        return r < 0 ? EXIT_RUNTIME : -1;
}

/* ---- hosts ---- */

typedef struct HostsArgs {
        bool json;
        json_object *array;
} HostsArgs;

static int hosts_option(int c, const char *arg, void *userdata) {
        HostsArgs *a = userdata;
        if (c == OPT_VERB_FIRST) {
                a->json = true;
                return -1;
        }
        return EXIT_USAGE;
}

static int host_row(const HostState *h, void *userdata) {
        HostsArgs *a = userdata;
        if (a->json) {
                json_object *o = host_to_json(h);
                if (!o)
                        return -ENOMEM;
                json_object_array_add(a->array, o);
                return 0;
        }
        char seen[JOURNAL_TIMESTAMP_MAX] = "-";
        if (h->last_seen_usec) {
                journal_timestamp_format(h->last_seen_usec, seen);
                seen[19] = 'Z';         /* whole seconds are enough in a table */
                seen[20] = 0;
        }
        _cleanup_free_ char *name = terminal_escape(h->host_name ?: "-", 24);
        _cleanup_free_ char *group = terminal_escape(h->group ?: "default", 16);
        _cleanup_free_ char *name_p = display_pad(name ?: "?", 24);
        printf("%-32s  %s %-12s %-20s %10llu %10llu %10llu  %s\n", h->host_id, name_p ?: "?", group ?: "?", seen,
               (unsigned long long) h->contiguous_sequence, (unsigned long long) h->last_sequence,
               (unsigned long long) h->n_events, chain_state_to_string(host_chain_state(h)));
        return 0;
}

int verb_hosts(int argc, char *argv[]) {
        static const struct option options[] = { COMMON_OPTIONS, { "json", no_argument, NULL, OPT_VERB_FIRST }, {} };
        _cleanup_(storage_closep) Storage *st = NULL;
        HostsArgs a = {};
        int r = parse_and_open(argc, argv, "hosts", options, hosts_option, &a,
                               "Usage: mnguard-collector hosts [--json]\n\n"
                               "Every enrolled or reporting terminal: last seen, the acknowledged (contiguous) and last\n"
                               "sequence, events stored, and the chain state (intact, gap, broken, empty).\n\n"
                               COMMON_HELP
                               "  --json                one JSON document {\"hosts\":[…]}\n", &st);
        if (r >= 0)
                return r;
        if (a.json)
                a.array = json_object_new_array();
        else
                printf("%-32s  %-24s %-12s %-20s %10s %10s %10s  %s\n", "HOST ID", "NAME", "GROUP", "LAST SEEN (UTC)",
                       "ACKED", "LAST", "EVENTS", "CHAIN");
        r = storage_hosts(st, host_row, &a);
        if (r < 0) {
                json_object_put(a.array);
                fprintf(stderr, "mnguard-collector hosts: %s\n", strerror(-r));
                return EXIT_RUNTIME;
        }
        if (a.json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();
                json_object_object_add(o, "hosts", a.array);
                print_json(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        }
        return 0;
}

/* ---- query ---- */

typedef struct QueryArgs {
        EventQuery q;
        bool json;
} QueryArgs;

enum { OPT_HOST = OPT_VERB_FIRST + 1, OPT_SINCE, OPT_UNTIL, OPT_ACTION, OPT_USER, OPT_DEVICE, OPT_LIMIT, OPT_JSON, OPT_REVERSE };

static int query_option(int c, const char *arg, void *userdata) {
        QueryArgs *a = userdata;
        switch (c) {
        case OPT_HOST:
                if (!host_id_is_valid(arg)) {
                        fprintf(stderr, "mnguard-collector query: --host takes a host id (32 lowercase hex digits)\n");
                        return EXIT_USAGE;
                }
                a->q.host_id = arg;
                return -1;
        case OPT_SINCE:
        case OPT_UNTIL:
                if (time_arg_parse(arg, now_usec(), c == OPT_SINCE ? &a->q.since_usec : &a->q.until_usec) < 0) {
                        _cleanup_free_ char *e = terminal_escape(arg, 64);
                        fprintf(stderr, "mnguard-collector query: cannot read the time '%s' (expected now, 7d, 12h, 30m, "
                                        "2026-11-26 or 2026-11-26T09:00:00+09:00)\n", e ?: "?");
                        return EXIT_USAGE;
                }
                return -1;
        case OPT_ACTION: a->q.action = arg; return -1;
        case OPT_USER: a->q.user = arg; return -1;
        case OPT_DEVICE: a->q.device = arg; return -1;
        case OPT_LIMIT:
                if (parse_u64(arg, &a->q.limit) < 0) {
                        fprintf(stderr, "mnguard-collector query: --limit takes a whole number\n");
                        return EXIT_USAGE;
                }
                return -1;
        case OPT_JSON: a->json = true; return -1;
        case 'r':
        case OPT_REVERSE: a->q.order = EVENT_ORDER_DESCENDING; return -1;
        default: return EXIT_USAGE;
        }
}

static const char *field(json_object *o, const char *a, const char *b) {
        json_object *x, *y;
        if (!json_object_object_get_ex(o, a, &x))
                return NULL;
        if (!b)
                return json_object_get_string(x);
        return json_object_object_get_ex(x, b, &y) ? json_object_get_string(y) : NULL;
}

static int event_row(const StoredEvent *e, void *userdata) {
        QueryArgs *a = userdata;
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(e->json);
        if (!o)
                return 0;
        if (a->json) {
                /* stored records are canonical JSON; this escapes DEL/C1 for terminals */
                print_json(o, JSON_C_TO_STRING_PLAIN);
                return 0;
        }
        const char *dev = field(o, "device", "serial");
        char ids[16] = "";
        if (!dev && field(o, "device", "vendor"))
                snprintf(ids, sizeof(ids), "%.4s:%.4s", field(o, "device", "vendor"), field(o, "device", "product") ?: "????");
        _cleanup_free_ char *host = terminal_escape(field(o, "host", "name") ?: e->host_id, 16);
        _cleanup_free_ char *user = terminal_escape(field(o, "user", "name") ?: "-", 32);
        _cleanup_free_ char *d = terminal_escape(dev ?: (ids[0] ? ids : "-"), 40);
        _cleanup_free_ char *rule = terminal_escape(field(o, "mnguard", "rule") ?: "-", 40);
        _cleanup_free_ char *reason = terminal_escape(field(o, "event", "reason") ?: "", 80);
        _cleanup_free_ char *action = terminal_escape(field(o, "event", "action") ?: "?", 40);
        const char *would = field(o, "mnguard", "would");
        /* padded by display width: Japanese names take two columns a character */
        _cleanup_free_ char *host_p = display_pad(host ?: "?", 16), *user_p = display_pad(user ?: "-", 12),
                            *d_p = display_pad(d ?: "-", 22), *rule_p = display_pad(rule ?: "-", 16);
        printf("%-27s %s %8llu  %-18s %-8s %s %s %s %s%s%s\n", field(o, "@timestamp", NULL) ?: "?", host_p ?: "?",
               (unsigned long long) e->sequence, action ?: "?", field(o, "event", "outcome") ?: "-", user_p ?: "-",
               d_p ?: "-", rule_p ?: "-", e->flags ? "[FLAGGED] " : "", would ? "(audit) " : "", reason ?: "");
        return 0;
}

int verb_query(int argc, char *argv[]) {
        static const struct option options[] = {
                COMMON_OPTIONS,
                { "host", required_argument, NULL, OPT_HOST }, { "since", required_argument, NULL, OPT_SINCE },
                { "until", required_argument, NULL, OPT_UNTIL }, { "action", required_argument, NULL, OPT_ACTION },
                { "user", required_argument, NULL, OPT_USER }, { "device", required_argument, NULL, OPT_DEVICE },
                { "limit", required_argument, NULL, OPT_LIMIT }, { "json", no_argument, NULL, OPT_JSON },
                { "reverse", no_argument, NULL, OPT_REVERSE }, {} };
        _cleanup_(storage_closep) Storage *st = NULL;
        QueryArgs a = {};
        int r = parse_and_open(argc, argv, "query", options, query_option, &a,
                               "Usage: mnguard-collector query [OPTIONS]\n\n"
                               "Event history of all terminals, oldest first (the filters of mnguardctl events).\n\n"
                               COMMON_HELP
                               "  --host ID             one terminal (host id)\n"
                               "  --since T, --until T  time range; T: now, 7d, 12h, 30m, 2026-11-26 (local),\n"
                               "                        2026-11-26T09:00:00+09:00\n"
                               "  --action GLOB         e.g. 'device-*'\n"
                               "  --user NAME           events of this user\n"
                               "  --device ID           serial number, or vendor:product (0781:5581)\n"
                               "  --limit N             at most N events\n"
                               "  -r, --reverse         newest first\n"
                               "  --json                one JSON object per line (NDJSON), the records as received\n", &st);
        if (r >= 0)
                return r;
        if (!a.json)
                printf("%-27s %-16s %8s  %-18s %-8s %-12s %-22s %-16s %s\n", "TIME (UTC)", "HOST", "SEQ", "ACTION",
                       "OUTCOME", "USER", "DEVICE", "RULE", "REASON");
        r = storage_events(st, &a.q, event_row, &a, NULL);
        if (r < 0) {
                fprintf(stderr, "mnguard-collector query: %s\n", strerror(-r));
                return EXIT_RUNTIME;
        }
        return 0;
}

/* ---- alerts ---- */

typedef struct AlertsArgs {
        const char *host;
        uint64_t limit;
        bool json;
} AlertsArgs;

static int alerts_option(int c, const char *arg, void *userdata) {
        AlertsArgs *a = userdata;
        switch (c) {
        case OPT_HOST:
                if (!host_id_is_valid(arg)) {
                        fprintf(stderr, "mnguard-collector alerts: --host takes a host id\n");
                        return EXIT_USAGE;
                }
                a->host = arg;
                return -1;
        case OPT_LIMIT:
                if (parse_u64(arg, &a->limit) < 0) {
                        fprintf(stderr, "mnguard-collector alerts: --limit takes a whole number\n");
                        return EXIT_USAGE;
                }
                return -1;
        case OPT_JSON: a->json = true; return -1;
        default: return EXIT_USAGE;
        }
}

static int alert_row(const AlertRecord *al, void *userdata) {
        AlertsArgs *a = userdata;
        if (a->json) {
                _cleanup_(json_object_putp) json_object *o = alert_to_json(al);
                if (o)
                        print_json(o, JSON_C_TO_STRING_PLAIN);
                return 0;
        }
        char when[JOURNAL_TIMESTAMP_MAX];
        _cleanup_free_ char *detail = terminal_escape(al->detail, 200);
        printf("%-27s %-32s %-9s %10llu  %s\n", journal_timestamp_format(al->created_usec, when), al->host_id,
               alert_kind_to_string(al->kind), (unsigned long long) al->sequence, detail ?: "");
        return 0;
}

int verb_alerts(int argc, char *argv[]) {
        static const struct option options[] = {
                COMMON_OPTIONS, { "host", required_argument, NULL, OPT_HOST },
                { "limit", required_argument, NULL, OPT_LIMIT }, { "json", no_argument, NULL, OPT_JSON }, {} };
        _cleanup_(storage_closep) Storage *st = NULL;
        AlertsArgs a = { .limit = 100 };
        int r = parse_and_open(argc, argv, "alerts", options, alerts_option, &a,
                               "Usage: mnguard-collector alerts [--host ID] [--limit N] [--json]\n\n"
                               "The collector's own records, newest first: gaps in a host's sequences (gap), records that\n"
                               "do not link to their predecessor (link) or do not hash to their hash (hash), different\n"
                               "records for a stored sequence (conflict), first contact (start), enrollments (enrolled).\n\n"
                               COMMON_HELP
                               "  --host ID             one terminal\n"
                               "  --limit N             at most N (default 100, 0 for all)\n"
                               "  --json                NDJSON\n", &st);
        if (r >= 0)
                return r;
        if (!a.json)
                printf("%-27s %-32s %-9s %10s  %s\n", "TIME (UTC)", "HOST ID", "KIND", "SEQ", "DETAIL");
        r = storage_alerts(st, a.host, a.limit, alert_row, &a);
        if (r < 0) {
                fprintf(stderr, "mnguard-collector alerts: %s\n", strerror(-r));
                return EXIT_RUNTIME;
        }
        return 0;
}
