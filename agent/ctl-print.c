/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguardctl print: puts CUPS queues behind the mnguard backend and finds those that are not
 * (docs/print.md). Talks to cupsd over IPP (libcups, print/print-queues.h) and, to record unguarded
 * queues, to the daemon. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-client.h"
#include "agent-conf.h"
#include "ctl.h"
#include "fileio.h"
#include "json-util.h"
#include "macro.h"
#include "print-queues.h"
#include "print-uri.h"
#include "strutil.h"

#define CTL_PRINT_EXIT_UNGUARDED 3 /* check: queues are left unguarded */
#define SHOW_MAX 512               /* bytes of a name or URI shown on a terminal */
#define NOTE_PREFIX "print-queue-unguarded"

DEFINE_TRIVIAL_CLEANUP_FUNC(CtlClient *, ctl_client_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(http_t *, httpClose);

typedef struct PrintArgs {
        const char *server;     /* -h host[:port] */
        const char *device_uri; /* --device-uri: the full inner URI, password included */
        const char *printers_conf; /* --printers-conf: cupsd's printers.conf, for full device URIs */
        bool all, json, wrap, auto_wrap;
        const char *config_dir; /* --config-dir: agent.conf for --auto */
        char **queues;
        int n_queues;
} PrintArgs;

typedef struct Queues {
        PrintQueue *q;
        size_t n;
} Queues;

static void queues_done(Queues *qs) {
        print_queues_free(qs->q, qs->n);
}

static void help(void) {
        printf("Usage: mnguardctl print wrap [-h SERVER] QUEUE...|--all [--device-uri URI]\n"
               "       mnguardctl print unwrap [-h SERVER] QUEUE...|--all [--device-uri URI]\n"
               "       mnguardctl print status [-h SERVER] [--json]\n"
               "       mnguardctl print check [-h SERVER] [--wrap | --auto [--config-dir DIR]] [--json]\n"
               "\n"
               "Puts CUPS queues behind the mnguard backend, so that every job is decided by the policy and\n"
               "recorded. 'check' lists queues that are not (recording each as print-queue-unguarded) and\n"
               "with --wrap wraps them (print.auto-wrap). Exit status of check: 0 nothing left unguarded,\n"
               "%d some queues unguarded.\n"
               "\n"
               "  -h, --host SERVER   cupsd to talk to (host[:port] or socket path; default: CUPS_SERVER)\n"
               "      --all           every queue\n"
               "      --printers-conf FILE  cupsd's printers.conf, read for device URIs with user info,\n"
               "                      which cupsd never shows (default %s without -h)\n"
               "      --device-uri URI  the real URI with its user info, when printers.conf cannot be read\n"
               "      --auto          check: wrap when agent.conf says print: {auto-wrap: true}\n"
               "                      (what mnguard-print-check.timer runs)\n"
               "      --config-dir DIR  where agent.conf is (default /etc/mnguard)\n"
               "      --json          JSON output\n",
               CTL_PRINT_EXIT_UNGUARDED, PRINT_PRINTERS_CONF_DEFAULT);
}

static int parse_args(int argc, char *argv[], PrintArgs *a) {
        enum { ARG_ALL = 0x100, ARG_JSON, ARG_WRAP, ARG_DEVICE_URI, ARG_PRINTERS_CONF, ARG_HELP, ARG_AUTO, ARG_CONFIG };
        static const struct option options[] = {
                { "host",       required_argument, NULL, 'h'            },
                { "all",        no_argument,       NULL, ARG_ALL        },
                { "json",       no_argument,       NULL, ARG_JSON       },
                { "wrap",       no_argument,       NULL, ARG_WRAP       },
                { "device-uri", required_argument, NULL, ARG_DEVICE_URI },
                { "printers-conf", required_argument, NULL, ARG_PRINTERS_CONF },
                { "help",       no_argument,       NULL, ARG_HELP       },
                { "auto",       no_argument,       NULL, ARG_AUTO       },
                { "config-dir", required_argument, NULL, ARG_CONFIG     },
                {}
        };
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, "h:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        if (isempty(optarg) || strlen(optarg) > PRINT_SERVER_MAX) {
                                fprintf(stderr, "mnguardctl print: -h needs host[:port]\n");
                                return -EINVAL;
                        }
                        a->server = optarg;
                        break;
                case ARG_ALL: a->all = true; break;
                case ARG_JSON: a->json = true; break;
                case ARG_WRAP: a->wrap = true; break;
                case ARG_DEVICE_URI: a->device_uri = optarg; break;
                case ARG_PRINTERS_CONF: a->printers_conf = optarg; break;
                case ARG_HELP: help(); return 1;
                case ARG_AUTO: a->auto_wrap = true; break;
                case ARG_CONFIG: a->config_dir = optarg; break;
                default: return -EINVAL;
                }
        a->queues = argv + optind;
        a->n_queues = argc - optind;
        return 0;
}

static int connect_cups(const PrintArgs *a, http_t **ret_http, Queues *ret) {
        const char *err = NULL;
        int r = print_queues_connect(a->server, ret_http);
        if (r < 0) {
                _cleanup_free_ char *s = terminal_escape(a->server ?: cupsServer(), SHOW_MAX);
                fprintf(stderr, "mnguardctl print: cannot connect to cupsd at %s\n", s ?: "?");
                return r;
        }
        r = print_queues_list(*ret_http, &ret->q, &ret->n, &err);
        if (r < 0) {
                _cleanup_free_ char *s = terminal_escape(err ?: strerror(-r), SHOW_MAX);
                fprintf(stderr, "mnguardctl print: cannot list queues: %s\n", s ?: "?");
                return r;
        }

        /* cupsd never shows user info: the local printers.conf has it (root only). */
        const char *conf_path = a->printers_conf ?: (a->server ? NULL : PRINT_PRINTERS_CONF_DEFAULT);
        _cleanup_free_ char *conf = NULL;
        size_t size;
        if (!conf_path)
                return 0;
        r = read_full_file(conf_path, PRINT_PRINTERS_CONF_MAX, &conf, &size);
        if (r < 0) {
                if (a->printers_conf)
                        fprintf(stderr, "mnguardctl print: cannot read %s: %s\n", conf_path, strerror(-r));
                return a->printers_conf ? r : 0;
        }
        return print_queues_apply_conf(ret->q, ret->n, conf);
}

static PrintQueue *find_queue(const Queues *qs, const char *name) {
        for (size_t i = 0; i < qs->n; i++)
                if (streq(qs->q[i].name, name))
                        return &qs->q[i];
        return NULL;
}

/* Prints "QUEUE: message" with the queue name escaped. */
_printf_(3, 4) static void say(FILE *f, const char *queue, const char *fmt, ...) {
        _cleanup_free_ char *q = terminal_escape(queue, SHOW_MAX);
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        fprintf(f, "%s: %s\n", q ?: "?", buf);
}

/* Wraps one queue. Returns 0 (wrapped or already), or a negative errno having said why. */
static int wrap_one(http_t *http, const PrintQueue *q, const char *full_uri, FILE *out) {
        _cleanup_free_ char *wrapped = NULL;
        const char *inner = full_uri ?: q->device_uri, *err = NULL;
        int r;

        switch (print_queue_status(q->device_uri)) {
        case PRINT_QUEUE_WRAPPED:
                say(out, q->name, "already guarded");
                return 0;
        case PRINT_QUEUE_BROKEN:
                say(stderr, q->name, "has a broken mnguard device URI; set it with --device-uri");
                if (!full_uri)
                        return -EINVAL;
                break;
        case PRINT_QUEUE_DISCARD:
        case PRINT_QUEUE_UNGUARDED:
                break;
        }
        r = full_uri ? print_uri_check_inner(full_uri) : print_queue_can_wrap(inner);
        if (r == 0 && full_uri && strncmp(full_uri, "file:", 5) == 0)
                r = -EOPNOTSUPP;
        if (r == -EOPNOTSUPP) {
                say(stderr, q->name, "file: devices are written by cupsd itself and cannot be wrapped "
                                     "(keep FileDevice off; point the queue at a backend instead)");
                return r;
        }
        if (r < 0) {
                say(stderr, q->name, "device URI cannot be wrapped: %s", strerror(-r));
                return r;
        }
        r = print_uri_wrap(inner, &wrapped);
        if (r < 0) {
                say(stderr, q->name, "device URI cannot be wrapped: %s", strerror(-r));
                return r;
        }
        r = print_queue_set_device_uri(http, q->name, wrapped, &err);
        if (r < 0) {
                _cleanup_free_ char *e = terminal_escape(err ?: strerror(-r), SHOW_MAX);
                say(stderr, q->name, "cupsd refused the new device URI: %s", e ?: "?");
                return r;
        }
        say(out, q->name, "guarded");
        return 0;
}

static int unwrap_one(http_t *http, const PrintQueue *q, const char *full_uri) {
        _cleanup_free_ char *inner = NULL;
        const char *err = NULL;
        int r;

        if (print_queue_status(q->device_uri) == PRINT_QUEUE_UNGUARDED && !full_uri) {
                say(stdout, q->name, "not guarded");
                return 0;
        }
        if (full_uri) {
                r = print_uri_check_inner(full_uri);
                if (r < 0) {
                        say(stderr, q->name, "--device-uri is not a device URI");
                        return r;
                }
                inner = strdup(full_uri);
                if (!inner)
                        return -ENOMEM;
        } else {
                if (!q->full && strncmp(q->device_uri, PRINT_URI_SCHEME "://", strlen(PRINT_URI_SCHEME) + 3) == 0) {
                        say(stderr, q->name, "its real device URI has user info, which cupsd does not show: "
                                             "give --printers-conf FILE or the full URI with --device-uri");
                        return -EACCES;
                }
                r = print_uri_unwrap(q->device_uri, &inner);
                if (r < 0) {
                        say(stderr, q->name, "has a broken mnguard device URI; give the real one with --device-uri");
                        return r;
                }
        }
        r = print_queue_set_device_uri(http, q->name, inner, &err);
        if (r < 0) {
                _cleanup_free_ char *e = terminal_escape(err ?: strerror(-r), SHOW_MAX);
                say(stderr, q->name, "cupsd refused the device URI: %s", e ?: "?");
                return r;
        }
        say(stdout, q->name, "unguarded (jobs now bypass mnguard)");
        return 0;
}

static int wrap_or_unwrap(const PrintArgs *a, bool wrap) {
        _cleanup_(httpClosep) http_t *http = NULL;
        _cleanup_(queues_done) Queues qs = {};
        int failed = 0;

        if (a->all == (a->n_queues > 0) || (a->device_uri && a->n_queues != 1)) {
                fprintf(stderr, "mnguardctl print %s: name queues or give --all (--device-uri: one queue)\n",
                        wrap ? "wrap" : "unwrap");
                return CTL_EXIT_USAGE;
        }
        if (connect_cups(a, &http, &qs) < 0)
                return CTL_EXIT_RUNTIME;
        if (a->all) {
                for (size_t i = 0; i < qs.n; i++) {
                        if (wrap && print_queue_status(qs.q[i].device_uri) == PRINT_QUEUE_DISCARD) {
                                say(stdout, qs.q[i].name, "discards its output (file:/dev/null), left as it is");
                                continue;
                        }
                        if ((wrap ? wrap_one(http, &qs.q[i], NULL, stdout) : unwrap_one(http, &qs.q[i], NULL)) < 0)
                                failed++;
                }
        } else
                for (int i = 0; i < a->n_queues; i++) {
                        const PrintQueue *q = find_queue(&qs, a->queues[i]);
                        if (!q) {
                                say(stderr, a->queues[i], "no such queue");
                                failed++;
                        } else if ((wrap ? wrap_one(http, q, a->device_uri, stdout) : unwrap_one(http, q, a->device_uri)) < 0)
                                failed++;
                }
        return failed ? CTL_EXIT_RUNTIME : CTL_EXIT_OK;
}

static json_object *queue_json(const PrintQueue *q) {
        _cleanup_free_ char *inner = NULL, *shown = NULL;
        PrintQueueStatus st = print_queue_status(q->device_uri);
        char scheme[PRINT_SCHEME_MAX + 1] = "";
        json_object *o = json_object_new_object();

        if (st == PRINT_QUEUE_WRAPPED)
                (void) print_uri_unwrap(q->device_uri, &inner);
        const char *dev = inner ?: q->device_uri;
        (void) print_uri_scheme(dev, scheme, sizeof(scheme));
        _cleanup_free_ char *nopw = NULL;
        if (print_uri_sanitize(dev, &nopw) >= 0)
                shown = untrusted_sanitize(nopw, strlen(nopw), SHOW_MAX);
        json_object_object_add(o, "queue", json_object_new_string(q->name));
        json_object_object_add(o, "status", json_object_new_string(print_queue_status_to_string(st)));
        json_object_object_add(o, "device_uri", json_object_new_string(shown ?: ""));
        json_object_object_add(o, "scheme", json_object_new_string(scheme));
        json_object_object_add(o, "export", json_object_new_boolean(print_uri_is_export(dev)));
        return o;
}

static void print_json(json_object *o) {
        _cleanup_free_ char *s = NULL;
        if (mn_json_to_string(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &s) >= 0)
                puts(s);
}

static int status(const PrintArgs *a) {
        _cleanup_(httpClosep) http_t *http = NULL;
        _cleanup_(queues_done) Queues qs = {};
        _cleanup_(json_object_putp) json_object *arr = json_object_new_array();

        if (a->n_queues > 0 || a->all || a->wrap || a->device_uri) {
                fprintf(stderr, "mnguardctl print status: takes -h and --json only\n");
                return CTL_EXIT_USAGE;
        }
        if (connect_cups(a, &http, &qs) < 0)
                return CTL_EXIT_RUNTIME;
        if (!a->json)
                printf("%-24s %-10s %-6s %s\n", "QUEUE", "STATUS", "EXPORT", "DEVICE");
        for (size_t i = 0; i < qs.n; i++) {
                json_object *o = queue_json(&qs.q[i]), *v;
                if (a->json) {
                        json_object_array_add(arr, o);
                        continue;
                }
                _cleanup_free_ char *name = terminal_escape(qs.q[i].name, SHOW_MAX), *dev = NULL;
                json_object_object_get_ex(o, "device_uri", &v);
                dev = terminal_escape(json_object_get_string(v), SHOW_MAX);
                json_object_object_get_ex(o, "status", &v);
                printf("%-24s %-10s %-6s %s\n", name ?: "?", json_object_get_string(v),
                       json_object_get_boolean(json_object_object_get(o, "export")) ? "yes" : "no", dev ?: "?");
                json_object_put(o);
        }
        if (a->json)
                print_json(arr);
        return CTL_EXIT_OK;
}

/* Records an unguarded queue in the journal (daemon verb print-queue-unguarded). Returns 0 or a negative
 * errno. */
static int record_unguarded(CtlClient *cl, const PrintQueue *q, bool wrapped) {
        _cleanup_(json_object_putp) json_object *req = json_object_new_object(), *rep = NULL;
        _cleanup_free_ char *nopw = NULL, *shown = NULL;
        char scheme[PRINT_SCHEME_MAX + 1] = "";

        if (print_uri_sanitize(q->device_uri, &nopw) < 0)
                return -ENOMEM;
        shown = untrusted_sanitize(nopw, strlen(nopw), SHOW_MAX);

        (void) print_uri_scheme(q->device_uri, scheme, sizeof(scheme));
        json_object_object_add(req, "verb", json_object_new_string(NOTE_PREFIX));
        json_object_object_add(req, "queue", json_object_new_string(q->name));
        json_object_object_add(req, "device_uri", json_object_new_string(shown ?: ""));
        json_object_object_add(req, "device_uri_scheme", json_object_new_string(scheme));
        json_object_object_add(req, "wrapped", json_object_new_boolean(wrapped));
        return ctl_client_call(cl, req, &rep, NULL);
}

static int check(const PrintArgs *a, const CtlGlobals *g) {
        _cleanup_(httpClosep) http_t *http = NULL;
        _cleanup_(queues_done) Queues qs = {};
        _cleanup_(ctl_client_freep) CtlClient *cl = NULL;
        _cleanup_(json_object_putp) json_object *arr = json_object_new_array();
        size_t left = 0;

        if (a->n_queues > 0 || a->all || a->device_uri) {
                fprintf(stderr, "mnguardctl print check: takes -h, --wrap, --auto, --config-dir and --json only\n");
                return CTL_EXIT_USAGE;
        }
        PrintArgs eff = *a;
        if (a->auto_wrap) {
                AgentConf conf;
                if (agent_conf_load(a->config_dir ?: "/etc/mnguard", stderr, &conf) < 0)
                        return CTL_EXIT_USAGE;
                eff.wrap = a->wrap || conf.print_auto_wrap;
                agent_conf_clear(&conf);
        }
        a = &eff;
        if (connect_cups(a, &http, &qs) < 0)
                return CTL_EXIT_RUNTIME;
        int rc = ctl_client_connect(g->runtime_dir, &cl);
        if (rc < 0)
                fprintf(stderr, "mnguardctl print check: the daemon is not reachable (%s): not recorded\n",
                        strerror(-rc));

        for (size_t i = 0; i < qs.n; i++) {
                const PrintQueue *q = &qs.q[i];
                if (print_queue_status(q->device_uri) != PRINT_QUEUE_UNGUARDED)
                        continue;
                bool wrapped = false;
                if (a->wrap) {
                        /* stdout stays JSON-only with --json */
                        wrapped = wrap_one(http, q, NULL, a->json ? stderr : stdout) >= 0;
                } else if (!a->json)
                        say(stdout, q->name, "unguarded");
                if (!wrapped)
                        left++;
                int r = cl ? record_unguarded(cl, q, wrapped) : -ENOTCONN;
                if (r < 0 && cl)
                        say(stderr, q->name, "not recorded: %s", strerror(-r));
                if (a->json) {
                        json_object *o = queue_json(q);
                        json_object_object_add(o, "wrapped", json_object_new_boolean(wrapped));
                        json_object_object_add(o, "recorded", json_object_new_boolean(r >= 0));
                        json_object_array_add(arr, o);
                }
        }
        if (a->json)
                print_json(arr);
        return left ? CTL_PRINT_EXIT_UNGUARDED : CTL_EXIT_OK;
}

int verb_print(int argc, char *argv[], const CtlGlobals *g) {
        PrintArgs a = {};
        static char name[64];

        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "help")) {
                help();
                return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
        }
        const char *sub = argv[1];
        snprintf(name, sizeof(name), "mnguardctl print %s", strlen(sub) < 16 ? sub : "");
        argv[1] = name;
        int r = parse_args(argc - 1, argv + 1, &a);
        if (r != 0)
                return r > 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;

        if (streq(sub, "wrap"))
                return wrap_or_unwrap(&a, true);
        if (streq(sub, "unwrap"))
                return wrap_or_unwrap(&a, false);
        if (streq(sub, "status"))
                return status(&a);
        if (streq(sub, "check"))
                return check(&a, g);
        _cleanup_free_ char *e = terminal_escape(sub, SHOW_MAX);
        fprintf(stderr, "mnguardctl print: unknown command '%s' (wrap, unwrap, status, check)\n", e ?: "?");
        return CTL_EXIT_USAGE;
}
