/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguardctl for responders: status, events, verify, export, note. Each asks the daemon over the
 * control socket, or with --journal FILE reads a journal file (or an exported NDJSON file) directly,
 * read-only. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl-client.h"
#include "ctl.h"
#include "journal.h"
#include "json-util.h"
#include "macro.h"
#include "strutil.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CtlClient *, ctl_client_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* "now", relative "7d" / "12h" / "30m" / "45s" (ago), a local date "2026-11-26" (midnight, local
 * time), or ISO 8601 with a time ("2026-11-26T09:00:00+09:00", "…Z"). */
int ctl_parse_time(const char *s, uint64_t *ret) {
        size_t n = strlen(s);
        if (streq(s, "now")) {
                *ret = now_usec();
                return 0;
        }
        if (n >= 2 && n <= 12 && strchr("smhdw", s[n - 1])) {
                uint64_t v = 0;
                for (size_t i = 0; i + 1 < n; i++) {
                        if (s[i] < '0' || s[i] > '9')
                                return -EINVAL;
                        v = v * 10 + (uint64_t) (s[i] - '0');
                }
                static const char units[] = "smhdw";
                static const uint64_t mult[] = { 1, 60, 3600, 86400, 7 * 86400 };
                uint64_t secs = v * mult[strchr(units, s[n - 1]) - units];
                uint64_t now = now_usec();
                *ret = secs * 1000000u > now ? 0 : now - secs * 1000000u;
                return 0;
        }
        if (n == 10 && s[4] == '-' && s[7] == '-') {
                struct tm tm = {};
                int64_t days;
                int y = 0, m = 0, d = 0;
                for (int i = 0; i < 10; i++) {
                        if (i == 4 || i == 7)
                                continue;
                        if (s[i] < '0' || s[i] > '9')
                                return -EINVAL;
                }
                y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
                m = (s[5] - '0') * 10 + (s[6] - '0');
                d = (s[8] - '0') * 10 + (s[9] - '0');
                if (civil_to_days(y, m, d, &days) < 0)
                        return -EINVAL;
                tm.tm_year = y - 1900;
                tm.tm_mon = m - 1;
                tm.tm_mday = d;
                tm.tm_isdst = -1;
                time_t t = mktime(&tm);
                if (t < 0)
                        return -EINVAL;
                *ret = (uint64_t) t * 1000000u;
                return 0;
        }
        return journal_timestamp_parse(s, n, ret);
}

#define CTL_HINT_READ_JOURNAL \
        "To read a journal file without the daemon, use 'mnguardctl --journal FILE events' or " \
        "'mnguardctl --journal FILE verify'."

/* --journal names a file to read instead of asking the daemon: a verb only the daemon can answer says so
 * rather than ignoring it. */
static bool daemon_only(const CtlGlobals *g, const char *verb, const char *hint) {
        if (!g->journal)
                return false;
        fprintf(stderr, "mnguardctl %s: --journal does not apply: %s needs the running daemon.%s%s\n", verb, verb,
                hint ? " " : "", hint ?: "");
        return true;
}

/* verb: a verb only the daemon can answer (status, note), hint what to do instead (may be NULL); verb NULL
 * for one that can read a journal file instead (events, verify, export: called only without --journal). */
static int connect_or_explain(const CtlGlobals *g, const char *verb, const char *hint, CtlClient **ret) {
        int r = ctl_client_connect(g->runtime_dir, ret);
        if ((r == -ENOENT || r == -ECONNREFUSED) && verb)
                fprintf(stderr, "mnguardctl %s: the daemon is not running (no socket in %s); %s needs it.%s%s\n", verb,
                        g->runtime_dir, verb, hint ? " " : "", hint ?: "");
        else if (r == -ENOENT || r == -ECONNREFUSED)
                fprintf(stderr, "mnguardctl: the daemon is not running (no socket in %s); use --journal FILE to read "
                                "a journal directly\n", g->runtime_dir);
        else if (r == -EACCES)
                fprintf(stderr, "mnguardctl: cannot connect to %s/control.sock: permission denied\n", g->runtime_dir);
        else if (r < 0)
                fprintf(stderr, "mnguardctl: cannot connect to %s/control.sock: %s\n", g->runtime_dir, strerror(-r));
        return r;
}

static int explain_reply_error(int r, const char *error) {
        _cleanup_free_ char *e = terminal_escape(error ?: strerror(-r), 512);
        fprintf(stderr, "mnguardctl: %s\n", e ?: "error");
        return r == -EACCES ? CTL_EXIT_USAGE : CTL_EXIT_RUNTIME;
}

static void print_json(json_object *o, int flags) {
        _cleanup_free_ char *s = NULL;
        if (mn_json_to_string(o, flags | JSON_C_TO_STRING_NOSLASHESCAPE, &s) >= 0)
                puts(s);
}

/* ---- status ---- */

int verb_status(int argc, char *argv[], const CtlGlobals *g) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, {} };
        bool json = false;
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'j': json = true; break;
                case 'h':
                        printf("Usage: mnguardctl status [--json]\n\nThe daemon: version, host id, policy in force, journal.\n");
                        return CTL_EXIT_OK;
                default: return CTL_EXIT_USAGE;
                }
        if (daemon_only(g, "status", CTL_HINT_READ_JOURNAL))
                return CTL_EXIT_USAGE;
        _cleanup_(ctl_client_freep) CtlClient *cl = NULL;
        if (connect_or_explain(g, "status", CTL_HINT_READ_JOURNAL, &cl) < 0)
                return CTL_EXIT_RUNTIME;
        _cleanup_(json_object_putp) json_object *req = json_object_new_object(), *rep = NULL;
        json_object_object_add(req, "verb", json_object_new_string("status"));
        const char *err = NULL;
        int r = ctl_client_call(cl, req, &rep, &err);
        if (r < 0)
                return explain_reply_error(r, err);
        if (json) {
                print_json(rep, JSON_C_TO_STRING_PRETTY);
                return CTL_EXIT_OK;
        }
        json_object *p = json_object_object_get(rep, "policy"), *j = json_object_object_get(rep, "journal");
        _cleanup_free_ char *name = terminal_escape(json_object_get_string(json_object_object_get(p, "name")), 512);
        _cleanup_free_ char *host = terminal_escape(json_object_get_string(json_object_object_get(rep, "host_name")), 256);
        printf("mnguardd:  running (pid %d), version %s\n", json_object_get_int(json_object_object_get(rep, "pid")),
               json_object_get_string(json_object_object_get(rep, "version")));
        printf("host:      %s (%s)\n", json_object_get_string(json_object_object_get(rep, "host_id")), host ?: "?");
        printf("policy:    %s \"%s\", %s (%s)\n", json_object_get_string(json_object_object_get(p, "serial")), name ?: "?",
               json_object_get_string(json_object_object_get(p, "mode")),
               json_object_get_string(json_object_object_get(p, "origin")));
        printf("journal:   sequences %s-%s, %s bytes, %s pending, %s lost since start\n",
               json_object_get_string(json_object_object_get(j, "first_sequence")),
               json_object_get_string(json_object_object_get(j, "last_sequence")),
               json_object_get_string(json_object_object_get(j, "size_bytes")),
               json_object_get_string(json_object_object_get(j, "pending")),
               json_object_get_string(json_object_object_get(j, "lost_total")));
        return CTL_EXIT_OK;
}

/* ---- events ---- */

typedef struct EventsArgs {
        uint64_t since, until, limit;
        const char *action, *user, *device;
        bool json, reverse;
} EventsArgs;

static const char *field(json_object *o, const char *a, const char *b) {
        json_object *x, *y;
        if (!json_object_object_get_ex(o, a, &x))
                return NULL;
        if (!b)
                return json_object_get_string(x);
        return json_object_object_get_ex(x, b, &y) ? json_object_get_string(y) : NULL;
}

static void print_event_row(const char *line, size_t len, bool json) {
        if (json) {
                /* records are canonical JSON already; escape DEL/C1 for terminals */
                _cleanup_(json_object_putp) json_object *o = json_tokener_parse(line);
                if (o)
                        print_json(o, JSON_C_TO_STRING_PLAIN);
                return;
        }
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(line);
        if (!o)
                return;
        const char *dev = field(o, "device", "serial");
        char ids[16] = "";
        if (!dev && field(o, "device", "vendor"))
                snprintf(ids, sizeof(ids), "%.4s:%.4s", field(o, "device", "vendor"), field(o, "device", "product") ?: "????");
        _cleanup_free_ char *user = terminal_escape(field(o, "user", "name") ?: "-", 32);
        _cleanup_free_ char *d = terminal_escape(dev ?: (ids[0] ? ids : "-"), 40);
        _cleanup_free_ char *rule = terminal_escape(field(o, "mnguard", "rule") ?: "-", 40);
        _cleanup_free_ char *reason = terminal_escape(field(o, "event", "reason") ?: "", 80);
        const char *would = field(o, "mnguard", "would");
        /* padded by display width: Japanese names take two columns a character */
        _cleanup_free_ char *user_p = display_pad(user ?: "-", 12), *d_p = display_pad(d ?: "-", 22),
                            *rule_p = display_pad(rule ?: "-", 16);
        printf("%-27s %8s  %-18s %-8s %s %s %s %s%s\n", field(o, "@timestamp", NULL) ?: "?",
               field(o, "event", "sequence") ?: "?", field(o, "event", "action") ?: "?",
               field(o, "event", "outcome") ?: "-", user_p ?: "-", d_p ?: "-", rule_p ?: "-", would ? "(audit) " : "",
               reason ?: "");
}

static int events_local(const CtlGlobals *g, const EventsArgs *a);

/* A streamed reply ends with a line that has a top-level "ok" (records never do). Returns 0 for a
 * record line, 1 for a successful end, or the negative errno of a failed end (and says why). */
static int stream_end(const char *line, size_t len) {
        if (!memmem(line, len, "\"ok\":", 5))
                return 0;
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(line);
        json_object *ok, *e;
        if (!o || !json_object_object_get_ex(o, "ok", &ok))
                return 0;
        if (json_object_get_boolean(ok))
                return 1;
        int err = json_object_object_get_ex(o, "errno", &e) ? json_object_get_int(e) : EIO;
        explain_reply_error(-err, json_object_object_get_ex(o, "error", &e) ? json_object_get_string(e) : NULL);
        return -(err > 0 ? err : EIO);
}

int verb_events(int argc, char *argv[], const CtlGlobals *g) {
        enum { ARG_SINCE = 0x100, ARG_UNTIL, ARG_ACTION, ARG_USER, ARG_DEVICE, ARG_LIMIT, ARG_JSON, ARG_REVERSE };
        static const struct option options[] = {
                { "since", required_argument, NULL, ARG_SINCE }, { "until", required_argument, NULL, ARG_UNTIL },
                { "action", required_argument, NULL, ARG_ACTION }, { "user", required_argument, NULL, ARG_USER },
                { "device", required_argument, NULL, ARG_DEVICE }, { "limit", required_argument, NULL, ARG_LIMIT },
                { "json", no_argument, NULL, ARG_JSON }, { "reverse", no_argument, NULL, ARG_REVERSE },
                { "help", no_argument, NULL, 'h' }, {} };
        EventsArgs a = {};
        int c;
        while ((c = getopt_long(argc, argv, "hr", options, NULL)) >= 0)
                switch (c) {
                case ARG_SINCE:
                case ARG_UNTIL:
                        if (ctl_parse_time(optarg, c == ARG_SINCE ? &a.since : &a.until) < 0) {
                                _cleanup_free_ char *e = terminal_escape(optarg, 64);
                                fprintf(stderr, "mnguardctl events: cannot read the time '%s' (expected now, 7d, 12h, "
                                                "30m, 2026-11-26 or 2026-11-26T09:00:00+09:00)\n", e ?: "?");
                                return CTL_EXIT_USAGE;
                        }
                        break;
                case ARG_ACTION: a.action = optarg; break;
                case ARG_USER: a.user = optarg; break;
                case ARG_DEVICE: a.device = optarg; break;
                case ARG_LIMIT:
                        if (parse_u64(optarg, &a.limit) < 0) {
                                fprintf(stderr, "mnguardctl events: --limit takes a whole number\n");
                                return CTL_EXIT_USAGE;
                        }
                        break;
                case ARG_JSON: a.json = true; break;
                case 'r':
                case ARG_REVERSE: a.reverse = true; break;
                case 'h':
                        printf("Usage: mnguardctl [--journal FILE] events [OPTIONS]\n\n"
                               "The terminal's event history, oldest first.\n\n"
                               "  --since T, --until T  time range; T: now, 7d, 12h, 30m, 2026-11-26 (local),\n"
                               "                        2026-11-26T09:00:00+09:00\n"
                               "  --action GLOB         e.g. 'device-*'\n"
                               "  --user NAME           events of this user\n"
                               "  --device ID           serial number, or vendor:product (0781:5581)\n"
                               "  --limit N             at most N events\n"
                               "  -r, --reverse         newest first\n"
                               "  --json                one JSON object per line (NDJSON)\n");
                        return CTL_EXIT_OK;
                default: return CTL_EXIT_USAGE;
                }
        if (!a.json)
                printf("%-27s %8s  %-18s %-8s %-12s %-22s %-16s %s\n", "TIME (UTC)", "SEQ", "ACTION", "OUTCOME", "USER",
                       "DEVICE", "RULE", "REASON");
        if (g->journal)
                return events_local(g, &a);

        _cleanup_(ctl_client_freep) CtlClient *cl = NULL;
        if (connect_or_explain(g, NULL, NULL, &cl) < 0)
                return CTL_EXIT_RUNTIME;
        _cleanup_(json_object_putp) json_object *req = json_object_new_object();
        json_object_object_add(req, "verb", json_object_new_string("events"));
        if (a.since) json_object_object_add(req, "since", json_object_new_uint64(a.since));
        if (a.until) json_object_object_add(req, "until", json_object_new_uint64(a.until));
        if (a.limit) json_object_object_add(req, "limit", json_object_new_uint64(a.limit));
        if (a.action) json_object_object_add(req, "action", json_object_new_string(a.action));
        if (a.user) json_object_object_add(req, "user", json_object_new_string(a.user));
        if (a.device) json_object_object_add(req, "device", json_object_new_string(a.device));
        if (a.reverse) json_object_object_add(req, "order", json_object_new_string("desc"));
        int r = ctl_client_send(cl, req);
        if (r < 0)
                return explain_reply_error(r, NULL);
        for (;;) {
                const char *line;
                size_t len;
                r = ctl_client_read_line(cl, &line, &len);
                if (r <= 0)
                        return explain_reply_error(r ?: -EPIPE, "the daemon closed the connection early");
                int end = stream_end(line, len);
                if (end != 0)
                        return end > 0 ? CTL_EXIT_OK : end == -EACCES ? CTL_EXIT_USAGE : CTL_EXIT_RUNTIME;
                print_event_row(line, len, a.json);
        }
}

static int local_row(const JournalRecord *r, void *userdata) {
        print_event_row(r->json, r->json_len, *(bool *) userdata);
        return 0;
}

static int open_local(const CtlGlobals *g, Journal **ret) {
        int r = journal_open_readonly(g->journal, ret);
        if (r < 0) {
                _cleanup_free_ char *e = terminal_escape(g->journal, 1024);
                fprintf(stderr, "mnguardctl: cannot open the journal %s: %s\n", e ?: "?", strerror(-r));
        }
        return r;
}

static int events_local(const CtlGlobals *g, const EventsArgs *a) {
        _cleanup_(journal_closep) Journal *j = NULL;
        if (open_local(g, &j) < 0)
                return CTL_EXIT_RUNTIME;
        JournalQuery q = { .since_usec = a->since, .until_usec = a->until, .action = a->action, .user = a->user,
                           .device = a->device, .limit = a->limit,
                           .order = a->reverse ? JOURNAL_ORDER_DESCENDING : JOURNAL_ORDER_ASCENDING };
        bool json = a->json;
        int r = journal_query(j, &q, local_row, &json, NULL);
        if (r < 0) {
                fprintf(stderr, "mnguardctl: query failed: %s\n", strerror(-r));
                return CTL_EXIT_RUNTIME;
        }
        return CTL_EXIT_OK;
}

/* ---- verify ---- */

static bool looks_like_sqlite(const char *path) {
        char head[16] = {};
        FILE *f = fopen(path, "re");
        if (!f)
                return true; /* let the journal code report the error */
        size_t n = fread(head, 1, sizeof(head), f);
        fclose(f);
        return n == sizeof(head) && memcmp(head, "SQLite format 3", 16) == 0;
}

static int print_verify(const JournalVerifyResult *v, bool json) {
        if (json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();
                json_object_object_add(o, "intact", json_object_new_boolean(v->intact));
                json_object_object_add(o, "records", json_object_new_uint64(v->n_records));
                json_object_object_add(o, "first_sequence", json_object_new_uint64(v->first_sequence));
                json_object_object_add(o, "last_sequence", json_object_new_uint64(v->last_sequence));
                json_object_object_add(o, "last_hash", json_object_new_string(v->last_hash));
                if (!v->intact) {
                        json_object_object_add(o, "fault", json_object_new_string(journal_fault_to_string(v->fault)));
                        json_object_object_add(o, "fault_sequence", json_object_new_uint64(v->fault_sequence));
                        json_object_object_add(o, "detail", json_object_new_string(v->detail));
                }
                print_json(o, JSON_C_TO_STRING_PLAIN);
        } else if (v->intact)
                printf("intact: %llu records, sequences %llu-%llu, last hash %s\n", (unsigned long long) v->n_records,
                       (unsigned long long) v->first_sequence, (unsigned long long) v->last_sequence, v->last_hash);
        else {
                _cleanup_free_ char *d = terminal_escape(v->detail, 512);
                printf("BROKEN at sequence %llu: %s (%s)\n", (unsigned long long) v->fault_sequence,
                       journal_fault_to_string(v->fault), d ?: "");
        }
        return v->intact ? CTL_EXIT_OK : CTL_EXIT_USAGE;
}

int verb_verify(int argc, char *argv[], const CtlGlobals *g) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, {} };
        bool json = false;
        int c;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'j': json = true; break;
                case 'h':
                        printf("Usage: mnguardctl [--journal FILE] verify [--json]\n\n"
                               "Walks the journal's hash chain. FILE may be a journal database or an exported NDJSON\n"
                               "evidence file. Exit status 0 when intact, 1 naming the first broken sequence.\n");
                        return CTL_EXIT_OK;
                default: return CTL_EXIT_USAGE;
                }
        JournalVerifyResult v = {};
        int r;
        if (g->journal && !looks_like_sqlite(g->journal)) {
                FILE *f = fopen(g->journal, "re");
                if (!f) {
                        fprintf(stderr, "mnguardctl: cannot open %s: %m\n", g->journal);
                        return CTL_EXIT_RUNTIME;
                }
                r = journal_verify_export(f, &v);
                fclose(f);
        } else if (g->journal) {
                _cleanup_(journal_closep) Journal *j = NULL;
                if (open_local(g, &j) < 0)
                        return CTL_EXIT_RUNTIME;
                r = journal_verify(j, &v);
        } else {
                _cleanup_(ctl_client_freep) CtlClient *cl = NULL;
                if (connect_or_explain(g, NULL, NULL, &cl) < 0)
                        return CTL_EXIT_RUNTIME;
                _cleanup_(json_object_putp) json_object *req = json_object_new_object(), *rep = NULL;
                json_object_object_add(req, "verb", json_object_new_string("verify"));
                const char *err = NULL;
                r = ctl_client_call(cl, req, &rep, &err);
                if (r < 0)
                        return explain_reply_error(r, err);
                v.intact = json_object_get_boolean(json_object_object_get(rep, "intact"));
                v.n_records = json_object_get_uint64(json_object_object_get(rep, "records"));
                v.first_sequence = json_object_get_uint64(json_object_object_get(rep, "first_sequence"));
                v.last_sequence = json_object_get_uint64(json_object_object_get(rep, "last_sequence"));
                snprintf(v.last_hash, sizeof(v.last_hash), "%s", field(rep, "last_hash", NULL) ?: "");
                if (!v.intact) {
                        const char *f = field(rep, "fault", NULL) ?: "";
                        for (int k = 0; k < _JOURNAL_FAULT_MAX; k++)
                                if (streq(journal_fault_to_string(k), f))
                                        v.fault = k;
                        v.fault_sequence = json_object_get_uint64(json_object_object_get(rep, "fault_sequence"));
                        snprintf(v.detail, sizeof(v.detail), "%s", field(rep, "detail", NULL) ?: "");
                }
        }
        if (r < 0) {
                fprintf(stderr, "mnguardctl: verification could not be done: %s\n", strerror(-r));
                return CTL_EXIT_RUNTIME;
        }
        return print_verify(&v, json);
}

/* ---- export ---- */

int verb_export(int argc, char *argv[], const CtlGlobals *g) {
        enum { ARG_SINCE = 0x100, ARG_UNTIL };
        static const struct option options[] = {
                { "since", required_argument, NULL, ARG_SINCE }, { "until", required_argument, NULL, ARG_UNTIL },
                { "output", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' }, {} };
        JournalExportRange range = {};
        const char *output = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "ho:", options, NULL)) >= 0)
                switch (c) {
                case ARG_SINCE:
                case ARG_UNTIL:
                        if (ctl_parse_time(optarg, c == ARG_SINCE ? &range.since_usec : &range.until_usec) < 0) {
                                fprintf(stderr, "mnguardctl export: cannot read the time (see events --help)\n");
                                return CTL_EXIT_USAGE;
                        }
                        break;
                case 'o': output = optarg; break;
                case 'h':
                        printf("Usage: mnguardctl [--journal FILE] export [--since T] [--until T] [-o FILE]\n\n"
                               "Evidence export: the records of the range as NDJSON, then a manifest line (count,\n"
                               "first/last sequence, last hash, host id). Check it anywhere with\n"
                               "'mnguardctl --journal FILE verify'.\n");
                        return CTL_EXIT_OK;
                default: return CTL_EXIT_USAGE;
                }
        FILE *out = stdout;
        if (output) {
                out = fopen(output, "wxe");
                if (!out) {
                        fprintf(stderr, "mnguardctl: cannot create %s: %m\n", output);
                        return CTL_EXIT_RUNTIME;
                }
        }
        int ret = CTL_EXIT_OK;
        if (g->journal) {
                _cleanup_(journal_closep) Journal *j = NULL;
                uint64_t n = 0;
                if (open_local(g, &j) < 0)
                        ret = CTL_EXIT_RUNTIME;
                else if (journal_export(j, &range, out, &n) < 0) {
                        fprintf(stderr, "mnguardctl: export failed\n");
                        ret = CTL_EXIT_RUNTIME;
                }
        } else {
                _cleanup_(ctl_client_freep) CtlClient *cl = NULL;
                if (connect_or_explain(g, NULL, NULL, &cl) < 0)
                        ret = CTL_EXIT_RUNTIME;
                else {
                        _cleanup_(json_object_putp) json_object *req = json_object_new_object();
                        json_object_object_add(req, "verb", json_object_new_string("export"));
                        if (range.since_usec) json_object_object_add(req, "since", json_object_new_uint64(range.since_usec));
                        if (range.until_usec) json_object_object_add(req, "until", json_object_new_uint64(range.until_usec));
                        int r = ctl_client_send(cl, req);
                        for (;;) {
                                const char *line;
                                size_t len;
                                if (r >= 0)
                                        r = ctl_client_read_line(cl, &line, &len);
                                if (r <= 0) {
                                        ret = explain_reply_error(r ?: -EPIPE, r ? NULL : "the daemon closed the connection early");
                                        break;
                                }
                                int end = stream_end(line, len);
                                if (end != 0) {
                                        if (end < 0)
                                                ret = end == -EACCES ? CTL_EXIT_USAGE : CTL_EXIT_RUNTIME;
                                        break;
                                }
                                fwrite(line, 1, len, out);
                                fputc('\n', out);
                        }
                }
        }
        if (fflush(out) != 0 || (output && fclose(out) != 0)) {
                fprintf(stderr, "mnguardctl: cannot write the export: %m\n");
                return CTL_EXIT_RUNTIME;
        }
        return ret;
}

/* ---- note ---- */

int verb_note(int argc, char *argv[], const CtlGlobals *g) {
        if (argc != 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                printf("Usage: mnguardctl note TEXT\n\nRecords an admin-note event in the journal (root only); prints its "
                       "sequence once it is on disk.\n");
                return argc == 2 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
        }
        if (daemon_only(g, "note", NULL))
                return CTL_EXIT_USAGE;
        _cleanup_(ctl_client_freep) CtlClient *cl = NULL;
        if (connect_or_explain(g, "note", NULL, &cl) < 0)
                return CTL_EXIT_RUNTIME;
        _cleanup_(json_object_putp) json_object *req = json_object_new_object(), *rep = NULL;
        json_object_object_add(req, "verb", json_object_new_string("note"));
        json_object_object_add(req, "text", json_object_new_string(argv[1]));
        const char *err = NULL;
        int r = ctl_client_call(cl, req, &rep, &err);
        if (r < 0)
                return explain_reply_error(r, err);
        printf("%s\n", field(rep, "sequence", NULL) ?: "?");
        return CTL_EXIT_OK;
}
