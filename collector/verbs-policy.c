/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Publishing verbs (issue 7): policy publish|list, ticket queue, assign-group. They write the database
 * directly; a running `serve` notices within SERVER_WATCH_INTERVAL_USEC and answers the waiting terminals. */
#include <errno.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector-verbs.h"
#include "exception.h"
#include "fileio.h"
#include "journal.h"
#include "json-util.h"
#include "output.h"
#include "policy.h"
#include "publish.h"
#include "strutil.h"

static const char *conf_dir(const CollectorConf *c) {
        return c->dir ?: COLLECTOR_DIR_DEFAULT;
}

/* "cli:USER" for the record of who published. */
static void cli_user(char *buf, size_t size) {
        struct passwd *pw = getpwuid(getuid());
        snprintf(buf, size, "cli:%s", pw && pw->pw_name ? pw->pw_name : "?");
}

static void print_json(json_object *o) {
        _cleanup_free_ char *out = NULL;
        if (o && mn_json_to_string(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &out) >= 0)
                puts(out);
        json_object_put(o);
}

/* Parses the common options and the verb's own (--group, --json), leaving the positional arguments. */
typedef struct Args {
        Settings settings;
        const char *group;
        bool json;
        unsigned limit;
} Args;

/* verb_only: stop at the first non-option (the sub-verb of "policy" and "ticket"; the common options may
 * come before it). */
static int parse_args(int argc, char *argv[], const char *verb, const char *help, bool takes_group, bool verb_only, Args *a) {
        enum { OPT_GROUP = OPT_VERB_FIRST, OPT_JSON, OPT_LIMIT };
        static const struct option options[] = {
                COMMON_OPTIONS,
                { "group", required_argument, NULL, OPT_GROUP },
                { "json", no_argument, NULL, OPT_JSON },
                { "limit", required_argument, NULL, OPT_LIMIT },
                {} };
        int c, r;
        uint64_t v;
        optind = 0;     /* a fresh scan (GNU getopt) */
        while ((c = getopt_long(argc, argv, verb_only ? "+h" : "h", options, NULL)) >= 0) {
                if ((r = settings_option(&a->settings, c, optarg)) != 0) {
                        if (r < 0)
                                return -EINVAL;
                        continue;
                }
                switch (c) {
                case OPT_GROUP:
                        if (!takes_group) {
                                fprintf(stderr, "mnguard-collector %s: no --group here\n", verb);
                                return -EINVAL;
                        }
                        if (!group_name_is_valid(optarg)) {
                                fprintf(stderr, "mnguard-collector %s: a group name is 1-%d of A-Z a-z 0-9 _ . -\n", verb,
                                        GROUP_NAME_MAX);
                                return -EINVAL;
                        }
                        a->group = optarg;
                        break;
                case OPT_JSON: a->json = true; break;
                case OPT_LIMIT:
                        if (parse_u64(optarg, &v) < 0 || v == 0 || v > 100000) {
                                fprintf(stderr, "mnguard-collector %s: --limit takes 1-100000\n", verb);
                                return -EINVAL;
                        }
                        a->limit = (unsigned) v;
                        break;
                case 'h':
                        fputs(help, stdout);
                        return 1;
                default: return -EINVAL;
                }
        }
        return 0;
}

static int open_for(const Args *a, const char *verb, CollectorConf *conf, Storage **st) {
        if (settings_resolve(&a->settings, verb, conf) < 0)
                return EXIT_USAGE;
        if (open_storage(conf, verb, 1, st) < 0) {
                collector_conf_clear(conf);
                return EXIT_RUNTIME;
        }
        return 0;
}

static int load_keys(const CollectorConf *conf, const char *verb, SignPublicKey **keys, size_t *n) {
        int r = publish_load_trusted(conf_dir(conf), keys, n);
        if (r == -ENOENT)
                fprintf(stderr, "mnguard-collector %s: %s/%s is missing: the collector checks signatures with the same "
                                "public keys as the terminals (mnguard-policy keygen writes them)\n",
                        verb, conf_dir(conf), COLLECTOR_TRUST_FILE);
        else if (r < 0)
                fprintf(stderr, "mnguard-collector %s: cannot read %s/%s: %s\n", verb, conf_dir(conf), COLLECTOR_TRUST_FILE,
                        strerror(-r));
        return r;
}

static void print_refusal(const char *verb, const char *what, const PublishError *err) {
        _cleanup_free_ char *m = terminal_escape(err->message, sizeof(err->message));
        if (err->line > 0) {
                _cleanup_free_ char *d = terminal_escape(err->detail, sizeof(err->detail));
                fprintf(stderr, "%s:%u:%u: error: %s\n", what, err->line, err->column, d ?: err->code);
        }
        else
                fprintf(stderr, "mnguard-collector %s: %s: %s (%s)\n", verb, what, m ?: err->code, err->code);
}

static const char publish_help[] =
        "Usage: mnguard-collector policy publish [--group G] [--json] POLICY SIG\n\n"
        "Publishes a signed policy to a group of terminals. The collector checks that POLICY is valid, that SIG\n"
        "(mnguard-policy sign) verifies with a key in DIR/policy-signing.pub, and that its serial is greater than\n"
        "the newest one published for the group; terminals long-polling the collector get it within seconds and\n"
        "check it again with their own keys.\n\n"
        COMMON_HELP
        "  --group G             the terminals' group (default \"default\"; enroll-token --group, assign-group)\n"
        "  --json                print the published policy as JSON\n";

static int policy_publish(int argc, char *argv[], Args *a) {
        int r = parse_args(argc, argv, "policy publish", publish_help, true, false, a);
        if (r != 0)
                return r > 0 ? 0 : EXIT_USAGE;
        if (argc - optind != 2) {
                fprintf(stderr, "mnguard-collector policy publish: expected POLICY and SIG (see --help)\n");
                return EXIT_USAGE;
        }
        const char *policy_path = argv[optind], *sig_path = argv[optind + 1];
        _cleanup_free_ char *data = NULL, *sig = NULL;
        size_t size = 0, sig_size = 0;
        r = read_full_file(policy_path, POLICY_MAX_FILE_SIZE, &data, &size);
        if (r < 0) {
                fprintf(stderr, "mnguard-collector policy publish: cannot read %s: %s\n", policy_path,
                        r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
                return EXIT_USAGE;
        }
        r = read_full_file(sig_path, SIGN_MAX_TEXT, &sig, &sig_size);
        if (r < 0) {
                fprintf(stderr, "mnguard-collector policy publish: cannot read %s: %s\n", sig_path, strerror(-r));
                return EXIT_USAGE;
        }
        CollectorConf conf;
        _cleanup_(storage_closep) Storage *st = NULL;
        r = open_for(a, "policy publish", &conf, &st);
        if (r != 0)
                return r;
        _cleanup_free_ SignPublicKey *keys = NULL;
        size_t n_keys = 0;
        r = load_keys(&conf, "policy publish", &keys, &n_keys);
        collector_conf_clear(&conf);
        if (r < 0)
                return EXIT_USAGE;

        char by[OPERATOR_NAME_MAX + 1];
        cli_user(by, sizeof(by));
        PolicyRecord rec;
        PublishError err;
        r = publish_policy(st, keys, n_keys, a->group, data, size, sig, sig_size, by, &rec, &err);
        if (r < 0) {
                print_refusal("policy publish", err.code && streq(err.code, "bad-signature") ? sig_path : policy_path, &err);
                return err.status == 503 || err.status == 500 ? EXIT_RUNTIME : EXIT_USAGE;
        }
        if (a->json)
                print_json(policy_record_to_json(&rec));
        else {
                _cleanup_free_ char *name = terminal_escape(rec.name, sizeof(rec.name));
                printf("Published policy %llu \"%s\" (key %s) to group %s.\n", (unsigned long long) rec.serial,
                       name ?: "?", rec.key_id, rec.group);
        }
        return 0;
}

typedef struct ListCtx {
        bool json;
        json_object *array;
} ListCtx;

static int list_one(const PolicyRecord *p, void *userdata) {
        ListCtx *c = userdata;
        if (c->json) {
                json_object *o = policy_record_to_json(p);
                if (!o)
                        return -ENOMEM;
                json_object_array_add(c->array, o);
                return 0;
        }
        char ts[JOURNAL_TIMESTAMP_MAX];
        _cleanup_free_ char *name = terminal_escape(p->name, 40), *by = terminal_escape(p->published_by, 24);
        printf("%-16s %12llu  %-40s %-16s %s  %s\n", p->group, (unsigned long long) p->serial, name ?: "?", p->key_id,
               journal_timestamp_format(p->published_usec, ts), by ?: "?");
        return 0;
}

static const char list_help[] =
        "Usage: mnguard-collector policy list [--group G] [--limit N] [--json]\n\n"
        "Lists published policies, newest first.\n\n"
        COMMON_HELP
        "  --group G             only this group\n"
        "  --limit N             at most N (default 100)\n"
        "  --json                a JSON array\n";

static int policy_list(int argc, char *argv[], Args *a) {
        int r = parse_args(argc, argv, "policy list", list_help, true, false, a);
        if (r != 0)
                return r > 0 ? 0 : EXIT_USAGE;
        if (optind != argc) {
                fprintf(stderr, "mnguard-collector policy list: unexpected argument (see --help)\n");
                return EXIT_USAGE;
        }
        CollectorConf conf;
        _cleanup_(storage_closep) Storage *st = NULL;
        r = open_for(a, "policy list", &conf, &st);
        if (r != 0)
                return r;
        collector_conf_clear(&conf);
        ListCtx c = { .json = a->json, .array = a->json ? json_object_new_array() : NULL };
        if (a->json && !c.array)
                return EXIT_RUNTIME;
        if (!a->json)
                printf("%-16s %12s  %-40s %-16s %-27s  %s\n", "GROUP", "SERIAL", "NAME", "KEY", "PUBLISHED", "BY");
        r = storage_policies(st, a->group, a->limit, list_one, &c);
        if (r < 0) {
                json_object_put(c.array);
                fprintf(stderr, "mnguard-collector policy list: %s\n", strerror(-r));
                return EXIT_RUNTIME;
        }
        if (a->json)
                print_json(c.array);
        return 0;
}

static const char policy_help[] =
        "Usage: mnguard-collector policy publish|list ...\n\n"
        "  publish [--group G] POLICY SIG   publish a signed policy to a group of terminals\n"
        "  list [--group G]                 published policies, newest first\n\n"
        "'mnguard-collector policy VERB --help' describes a verb's options.\n";

int verb_policy(int argc, char *argv[]) {
        Args a = { .group = NULL, .limit = 100 };
        int r = parse_args(argc, argv, "policy", policy_help, false, true, &a);
        if (r != 0)
                return r > 0 ? 0 : EXIT_USAGE;
        const char *sub = optind < argc ? argv[optind] : "";
        int skip = optind;
        if (streq(sub, "publish")) {
                a.group = GROUP_DEFAULT;
                return policy_publish(argc - skip, argv + skip, &a);
        }
        if (streq(sub, "list"))
                return policy_list(argc - skip, argv + skip, &a);
        fprintf(stderr, "mnguard-collector policy: expected publish or list (see --help)\n");
        return EXIT_USAGE;
}

static const char ticket_help[] =
        "Usage: mnguard-collector ticket queue [--json] TICKET\n\n"
        "Queues a signed exception ticket (mnguard-policy ticket) for the terminal it names; the terminal gets it\n"
        "with its next policy poll, within seconds when it is connected. The signature is checked with\n"
        "DIR/policy-signing.pub; the terminal checks it again, and that the ticket is for its host id.\n\n"
        COMMON_HELP
        "  --json                print {\"id\":…,\"ticket_id\":…,\"host_id\":…}\n";

int verb_ticket(int argc, char *argv[]) {
        Args a = {};
        int r = parse_args(argc, argv, "ticket", ticket_help, false, true, &a);
        if (r != 0)
                return r > 0 ? 0 : EXIT_USAGE;
        if (optind >= argc || !streq(argv[optind], "queue")) {
                fprintf(stderr, "mnguard-collector ticket: expected queue (see --help)\n");
                return EXIT_USAGE;
        }
        int skip = optind;
        argc -= skip;
        argv += skip;
        r = parse_args(argc, argv, "ticket queue", ticket_help, false, false, &a);
        if (r != 0)
                return r > 0 ? 0 : EXIT_USAGE;
        if (argc - optind != 1) {
                fprintf(stderr, "mnguard-collector ticket queue: expected one TICKET file (see --help)\n");
                return EXIT_USAGE;
        }
        const char *path = argv[optind];
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        r = read_full_file(path, EXCEPTION_MAX_FILE, &data, &size);
        if (r < 0) {
                fprintf(stderr, "mnguard-collector ticket queue: cannot read %s: %s\n", path, strerror(-r));
                return EXIT_USAGE;
        }
        CollectorConf conf;
        _cleanup_(storage_closep) Storage *st = NULL;
        r = open_for(&a, "ticket queue", &conf, &st);
        if (r != 0)
                return r;
        _cleanup_free_ SignPublicKey *keys = NULL;
        size_t n_keys = 0;
        r = load_keys(&conf, "ticket queue", &keys, &n_keys);
        collector_conf_clear(&conf);
        if (r < 0)
                return EXIT_USAGE;
        char by[OPERATOR_NAME_MAX + 1];
        cli_user(by, sizeof(by));
        TicketRecord t;
        PublishError err;
        r = publish_ticket(st, keys, n_keys, data, size, by, &t, &err);
        if (r < 0) {
                print_refusal("ticket queue", path, &err);
                return err.status == 503 || err.status == 500 ? EXIT_RUNTIME : EXIT_USAGE;
        }
        if (a.json) {
                json_object *o = json_object_new_object();
                if (o) {
                        json_object_object_add(o, "id", json_object_new_int64(t.id));
                        json_object_object_add(o, "ticket_id", json_object_new_string(t.ticket_id));
                        json_object_object_add(o, "host_id", json_object_new_string(t.host_id));
                }
                print_json(o);
        } else
                printf("Queued ticket %s for host %s.\n", t.ticket_id, t.host_id);
        return 0;
}

static const char assign_help[] =
        "Usage: mnguard-collector assign-group --group G HOST_ID...\n\n"
        "Moves terminals to a policy group: they long-poll that group's policy from their next request on.\n"
        "(A terminal's first group comes from its enrollment token.)\n\n"
        COMMON_HELP
        "  --group G             the group\n";

int verb_assign_group(int argc, char *argv[]) {
        Args a = {};
        int r = parse_args(argc, argv, "assign-group", assign_help, true, false, &a);
        if (r != 0)
                return r > 0 ? 0 : EXIT_USAGE;
        if (!a.group || optind >= argc) {
                fprintf(stderr, "mnguard-collector assign-group: expected --group G and at least one HOST_ID (see --help)\n");
                return EXIT_USAGE;
        }
        for (int i = optind; i < argc; i++)
                if (!host_id_is_valid(argv[i])) {
                        _cleanup_free_ char *e = terminal_escape(argv[i], 64);
                        fprintf(stderr, "mnguard-collector assign-group: '%s' is not a host id (32 lowercase hex digits)\n", e ?: "?");
                        return EXIT_USAGE;
                }
        CollectorConf conf;
        _cleanup_(storage_closep) Storage *st = NULL;
        r = open_for(&a, "assign-group", &conf, &st);
        if (r != 0)
                return r;
        collector_conf_clear(&conf);
        int ret = 0;
        for (int i = optind; i < argc; i++) {
                r = storage_host_set_group(st, argv[i], a.group);
                if (r == -ENOENT) {
                        fprintf(stderr, "mnguard-collector assign-group: unknown host %s\n", argv[i]);
                        ret = EXIT_USAGE;
                } else if (r < 0) {
                        fprintf(stderr, "mnguard-collector assign-group: %s: %s\n", argv[i], strerror(-r));
                        return EXIT_RUNTIME;
                } else
                        printf("Host %s is in group %s.\n", argv[i], a.group);
        }
        return ret;
}
