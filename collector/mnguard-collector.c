/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguard-collector: the central collector (docs/collector.md). Parses the verb and hands over. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "collector-verbs.h"
#include "log.h"
#include "strutil.h"

typedef struct Verb {
        const char *name;
        int (*run)(int argc, char *argv[]);
        const char *summary;
} Verb;

static const Verb verbs[] = {
        { "serve", verb_serve, "run the HTTPS collector (mutual TLS)" },
        { "init-ca", verb_init_ca, "create the enrollment CA and the server certificate" },
        { "enroll-token", verb_enroll_token, "create an enrollment token for terminals" },
        { "operator-cert", verb_operator_cert, "issue a certificate for an operator (auditor/admin)" },
        { "issue-host-cert", verb_issue_host_cert, "offline enrollment: a key pair and certificate for a terminal" },
        { "revoke", verb_revoke, "revoke a host's or operator's certificate" },
        { "hosts", verb_hosts, "list hosts: last seen, last sequence, chain state" },
        { "query", verb_query, "event history (filters as mnguardctl events)" },
        { "alerts", verb_alerts, "chain alerts: gaps, broken links, forged hashes" },
        { "operator", verb_operator, "accounts of the responder console: add, list, remove" },
        { "policy", verb_policy, "publish a signed policy to a group of terminals; list published ones" },
        { "ticket", verb_ticket, "queue a signed exception ticket for a terminal" },
        { "assign-group", verb_assign_group, "move terminals to a policy group" },
};

static void usage(FILE *f) {
        fprintf(f, "Usage: mnguard-collector VERB [OPTIONS]\n\n"
                   "The central collector of mnguard: terminal enrollment, event ingest, history queries.\n\n"
                   "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %-14s %s\n", verbs[i].name, verbs[i].summary);
        fprintf(f, "\n'mnguard-collector VERB --help' describes a verb's options.\n");
}

int settings_add(Settings *s, const char *key, const char *value) {
        if (s->n >= SETTINGS_FLAGS_MAX)
                return -E2BIG;
        s->keys[s->n] = key;
        s->values[s->n++] = value;
        return 0;
}

int settings_option(Settings *s, int opt, const char *arg) {
        switch (opt) {
        case OPT_CONFIG:
                s->config = arg;
                return 1;
        case OPT_DIR:
                return settings_add(s, "dir", arg) < 0 ? -E2BIG : 1;
        case OPT_STORAGE:
                return settings_add(s, "storage", arg) < 0 ? -E2BIG : 1;
        default:
                return 0;
        }
}

int settings_resolve(const Settings *s, const char *verb, CollectorConf *ret) {
        CollectorConf c;
        struct stat st;
        collector_conf_defaults(&c);
        const char *path = s->config ?: (stat(COLLECTOR_CONF_DEFAULT, &st) == 0 ? COLLECTOR_CONF_DEFAULT : NULL);
        if (path && collector_conf_load(path, &c) < 0) {
                collector_conf_clear(&c);
                return -EINVAL;
        }
        for (size_t i = 0; i < s->n; i++) {
                int r = collector_conf_set(&c, s->keys[i], s->values[i]);
                if (r < 0) {
                        _cleanup_free_ char *e = terminal_escape(s->values[i], 128);
                        fprintf(stderr, "mnguard-collector %s: bad value for --%s: '%s'\n", verb, s->keys[i], e ?: "?");
                        collector_conf_clear(&c);
                        return -EINVAL;
                }
        }
        *ret = c;
        return 0;
}

int open_storage(const CollectorConf *c, const char *verb, unsigned n_connections, Storage **ret) {
        _cleanup_free_ char *spec = NULL;
        int r = collector_conf_storage(c, &spec);
        if (r < 0)
                return log_oom();
        r = storage_open(spec, n_connections, ret);
        if (r < 0) {
                /* never print a PostgreSQL conninfo: it may hold a password */
                const char *what = strncmp(spec, "sqlite:", 7) == 0 ? spec : "the PostgreSQL database";
                _cleanup_free_ char *e = terminal_escape(what, 1024);
                if (r == -EPROTONOSUPPORT || r == -EINVAL)
                        fprintf(stderr, "mnguard-collector %s: storage must be sqlite:PATH or postgresql:CONNINFO\n", verb);
                else
                        fprintf(stderr, "mnguard-collector %s: cannot open %s: %s\n", verb, e ?: "?",
                                r == -ECONNREFUSED ? "cannot connect"
                                : r == -EPROTO ? "its storage format is newer than this collector's (downgrade not supported)"
                                : strerror(-r));
        }
        return r;
}

int parse_duration_usec(const char *s, uint64_t *ret) {
        static const char units[] = "smhdw";
        static const uint64_t mult[] = { 1, 60, 3600, 86400, 7 * 86400 };
        size_t n = strlen(s);
        uint64_t v = 0;
        if (n < 2 || n > 10 || !strchr(units, s[n - 1]))
                return -EINVAL;
        for (size_t i = 0; i + 1 < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v * mult[strchr(units, s[n - 1]) - units] * 1000000u;
        return 0;
}

int main(int argc, char *argv[]) {
        log_setup("mnguard-collector");
        umask(0077);        /* the database, keys and tokens are for the collector alone */
        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                usage(stdout);
                return 0;
        }
        if (streq(argv[1], "--version")) {
                printf("mnguard-collector %s\n", MNGUARD_VERSION);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, argv[1]))
                        return verbs[i].run(argc - 1, argv + 1);
        _cleanup_free_ char *e = terminal_escape(argv[1], 64);
        fprintf(stderr, "mnguard-collector: unknown verb '%s'\n\n", e ?: "?");
        usage(stderr);
        return EXIT_USAGE;
}
