/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Administration verbs: init-ca, enroll-token, operator-cert, revoke. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "collector-verbs.h"
#include "fileio.h"
#include "journal.h"
#include "json-util.h"
#include "strutil.h"
#include "token.h"

#define OPERATOR_CERT_DAYS_DEFAULT 365u

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static const char *conf_dir(const CollectorConf *c) {
        return c->dir ?: COLLECTOR_DIR_DEFAULT;
}

int verb_init_ca(int argc, char *argv[]) {
        enum { OPT_NAME = OPT_VERB_FIRST, OPT_CA_NAME, OPT_FORCE };
        static const struct option options[] = {
                COMMON_OPTIONS,
                { "server-name", required_argument, NULL, OPT_NAME },
                { "ca-name", required_argument, NULL, OPT_CA_NAME },
                { "force", no_argument, NULL, OPT_FORCE },
                {} };
        Settings s = {};
        const char *names[CA_SERVER_NAMES_MAX];
        size_t n_names = 0;
        const char *ca_name = "mnguard collector CA";
        bool force = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if ((r = settings_option(&s, c, optarg)) != 0) {
                        if (r < 0)
                                return EXIT_USAGE;
                        continue;
                }
                switch (c) {
                case OPT_NAME:
                        if (n_names >= CA_SERVER_NAMES_MAX || strlen(optarg) == 0 || strlen(optarg) > CA_SERVER_NAME_MAX) {
                                fprintf(stderr, "mnguard-collector init-ca: at most %d --server-name of 1-%d bytes\n",
                                        CA_SERVER_NAMES_MAX, CA_SERVER_NAME_MAX);
                                return EXIT_USAGE;
                        }
                        names[n_names++] = optarg;
                        break;
                case OPT_CA_NAME:
                        if (strlen(optarg) == 0 || strlen(optarg) > 64) {
                                fprintf(stderr, "mnguard-collector init-ca: --ca-name takes 1-64 bytes\n");
                                return EXIT_USAGE;
                        }
                        ca_name = optarg;
                        break;
                case OPT_FORCE: force = true; break;
                case 'h':
                        printf("Usage: mnguard-collector init-ca [--dir DIR] [--server-name NAME]... [--force]\n\n"
                               "Creates DIR/ca.key (0600) and DIR/ca.crt, the CA that signs terminals' certificates at\n"
                               "enrollment, and DIR/server.key and DIR/server.crt for the HTTPS listener. Terminals pin\n"
                               "ca.crt. Keys are ECDSA P-256.\n\n"
                               COMMON_HELP
                               "  --server-name NAME    DNS name or IP address terminals use to reach the collector\n"
                               "                        (repeatable; default: this host's name, localhost, 127.0.0.1, ::1)\n"
                               "  --ca-name NAME        the CA's common name (default \"mnguard collector CA\")\n"
                               "  --force               replace an existing CA (every enrolled terminal must enroll again)\n");
                        return 0;
                default: return EXIT_USAGE;
                }
        }
        CollectorConf conf;
        if (settings_resolve(&s, "init-ca", &conf) < 0)
                return EXIT_USAGE;
        char hostname[256] = "";
        if (n_names == 0) {
                if (gethostname(hostname, sizeof(hostname) - 1) == 0 && hostname[0])
                        names[n_names++] = hostname;
                names[n_names++] = "localhost";
                names[n_names++] = "127.0.0.1";
                names[n_names++] = "::1";
        }
        r = ca_init_dir(conf_dir(&conf), names, n_names, ca_name, force);
        if (r == -EEXIST)
                fprintf(stderr, "mnguard-collector init-ca: %s already holds a CA; --force replaces it (terminals must "
                                "then enroll again)\n", conf_dir(&conf));
        else if (r < 0)
                fprintf(stderr, "mnguard-collector init-ca: cannot create the CA in %s: %s\n", conf_dir(&conf), strerror(-r));
        else
                printf("CA and server certificate written to %s (ca.crt is what terminals pin).\n", conf_dir(&conf));
        collector_conf_clear(&conf);
        return r == -EEXIST ? EXIT_USAGE : r < 0 ? EXIT_RUNTIME : 0;
}

int verb_enroll_token(int argc, char *argv[]) {
        enum { OPT_TTL = OPT_VERB_FIRST, OPT_USES, OPT_GROUP, OPT_JSON };
        static const struct option options[] = {
                COMMON_OPTIONS,
                { "ttl", required_argument, NULL, OPT_TTL },
                { "uses", required_argument, NULL, OPT_USES },
                { "group", required_argument, NULL, OPT_GROUP },
                { "json", no_argument, NULL, OPT_JSON },
                {} };
        Settings s = {};
        uint64_t ttl = TOKEN_TTL_DEFAULT_USEC, uses = 1;
        const char *group = "default";
        bool json = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if ((r = settings_option(&s, c, optarg)) != 0) {
                        if (r < 0)
                                return EXIT_USAGE;
                        continue;
                }
                switch (c) {
                case OPT_TTL:
                        if (parse_duration_usec(optarg, &ttl) < 0 || ttl == 0 || ttl > TOKEN_TTL_MAX_USEC) {
                                fprintf(stderr, "mnguard-collector enroll-token: --ttl takes a duration such as 30m, 24h, "
                                                "7d (at most 366d)\n");
                                return EXIT_USAGE;
                        }
                        break;
                case OPT_USES:
                        if (parse_u64(optarg, &uses) < 0 || uses == 0 || uses > TOKEN_USES_MAX) {
                                fprintf(stderr, "mnguard-collector enroll-token: --uses takes 1-%u\n", TOKEN_USES_MAX);
                                return EXIT_USAGE;
                        }
                        break;
                case OPT_GROUP:
                        if (!group_name_is_valid(optarg)) {
                                fprintf(stderr, "mnguard-collector enroll-token: a group name is 1-%d of A-Z a-z 0-9 _ . -\n",
                                        GROUP_NAME_MAX);
                                return EXIT_USAGE;
                        }
                        group = optarg;
                        break;
                case OPT_JSON: json = true; break;
                case 'h':
                        printf("Usage: mnguard-collector enroll-token [--ttl DURATION] [--uses N] [--group G] [--json]\n\n"
                               "Creates an enrollment token and prints it once; only its hash is stored. Put it into the\n"
                               "terminals' agent.conf (enrollment-token).\n\n"
                               COMMON_HELP
                               "  --ttl DURATION        valid for this long: 30m, 24h, 7d (default 24h)\n"
                               "  --uses N              terminals that may enroll with it (default 1: one-time)\n"
                               "  --group G             policy group of the terminals (default \"default\")\n"
                               "  --json                print {\"token\":…,\"expires\":…,\"uses\":…,\"group\":…}\n");
                        return 0;
                default: return EXIT_USAGE;
                }
        }
        CollectorConf conf;
        _cleanup_(storage_closep) Storage *st = NULL;
        if (settings_resolve(&s, "enroll-token", &conf) < 0)
                return EXIT_USAGE;
        r = open_storage(&conf, "enroll-token", 1, &st);
        collector_conf_clear(&conf);
        if (r < 0)
                return EXIT_RUNTIME;

        char token[TOKEN_LEN + 1], expires[JOURNAL_TIMESTAMP_MAX];
        TokenRecord t = { .created_usec = now_usec(), .uses = (uint32_t) uses };
        t.expires_usec = t.created_usec + ttl;
        snprintf(t.group, sizeof(t.group), "%s", group);
        if (token_generate(token, t.hash) < 0 || (r = storage_token_add(st, &t)) < 0) {
                fprintf(stderr, "mnguard-collector enroll-token: cannot store the token: %s\n", strerror(r < 0 ? -r : EIO));
                return EXIT_RUNTIME;
        }
        journal_timestamp_format(t.expires_usec, expires);
        if (json) {
                json_object *o = json_object_new_object();
                _cleanup_free_ char *out = NULL;
                json_object_object_add(o, "token", json_object_new_string(token));
                json_object_object_add(o, "expires", json_object_new_string(expires));
                json_object_object_add(o, "uses", json_object_new_uint64(uses));
                json_object_object_add(o, "group", json_object_new_string(group));
                if (mn_json_to_string(o, JSON_C_TO_STRING_PLAIN, &out) >= 0)
                        puts(out);
                json_object_put(o);
        } else {
                puts(token);
                fprintf(stderr, "Valid until %s for %llu enrollment%s in group %s.\n", expires, (unsigned long long) uses,
                        uses == 1 ? "" : "s", group);
        }
        explicit_bzero(token, sizeof(token));
        return 0;
}

static bool operator_name_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > OPERATOR_NAME_MAX || host_id_is_valid(s))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                      *p == '.' || *p == '-' || *p == '@'))
                        return false;
        return true;
}

static int issue_and_write(const Settings *s, const char *verb, CertRecord *rec, const char *host_name, unsigned days,
                           const char *out);

int verb_operator_cert(int argc, char *argv[]) {
        enum { OPT_NAME = OPT_VERB_FIRST, OPT_ROLE, OPT_OUT, OPT_DAYS };
        static const struct option options[] = {
                COMMON_OPTIONS,
                { "name", required_argument, NULL, OPT_NAME },
                { "role", required_argument, NULL, OPT_ROLE },
                { "out", required_argument, NULL, OPT_OUT },
                { "days", required_argument, NULL, OPT_DAYS },
                {} };
        Settings s = {};
        const char *name = NULL, *out = NULL;
        OperatorRole role = ROLE_AUDITOR;
        uint64_t days = OPERATOR_CERT_DAYS_DEFAULT;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if ((r = settings_option(&s, c, optarg)) != 0) {
                        if (r < 0)
                                return EXIT_USAGE;
                        continue;
                }
                switch (c) {
                case OPT_NAME: name = optarg; break;
                case OPT_OUT: out = optarg; break;
                case OPT_ROLE:
                        if (operator_role_from_string(optarg, &role) < 0) {
                                fprintf(stderr, "mnguard-collector operator-cert: --role is auditor or admin\n");
                                return EXIT_USAGE;
                        }
                        break;
                case OPT_DAYS:
                        if (parse_u64(optarg, &days) < 0 || days == 0 || days > CERT_VALIDITY_DAYS_MAX) {
                                fprintf(stderr, "mnguard-collector operator-cert: --days takes 1-%u\n", CERT_VALIDITY_DAYS_MAX);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h':
                        printf("Usage: mnguard-collector operator-cert --name NAME [--role auditor|admin] --out PREFIX\n\n"
                               "Issues a client certificate for an operator: PREFIX.crt and PREFIX.key (0600). Operators\n"
                               "read hosts, events and alerts over HTTPS; admins also publish policies and queue\n"
                               "exception tickets (POST /v1/policy, POST /v1/tickets).\n\n"
                               COMMON_HELP
                               "  --name NAME           the operator (A-Z a-z 0-9 _ . - @, at most %d bytes)\n"
                               "  --role ROLE           auditor (read, the default) or admin\n"
                               "  --out PREFIX          where to write PREFIX.crt and PREFIX.key\n"
                               "  --days N              validity (default %u)\n", OPERATOR_NAME_MAX, OPERATOR_CERT_DAYS_DEFAULT);
                        return 0;
                default: return EXIT_USAGE;
                }
        }
        if (!name || !operator_name_ok(name) || !out) {
                fprintf(stderr, "mnguard-collector operator-cert: --name (A-Z a-z 0-9 _ . - @, not a host id) and --out are "
                                "required\n");
                return EXIT_USAGE;
        }
        CertRecord rec = { .kind = CERT_OPERATOR, .role = role };
        snprintf(rec.subject, sizeof(rec.subject), "%s", name);
        snprintf(rec.group, sizeof(rec.group), "operators");
        return issue_and_write(&s, "operator-cert", &rec, NULL, (unsigned) days, out);
}

/* Issues a key pair and certificate for rec (subject, kind, role, group), writes PREFIX.crt/.key and records
 * the certificate. */
static int issue_and_write(const Settings *s, const char *verb, CertRecord *rec, const char *host_name, unsigned days,
                           const char *out) {
        CollectorConf conf;
        _cleanup_(storage_closep) Storage *st = NULL;
        _cleanup_(ca_freep) Ca *ca = NULL;
        _cleanup_free_ char *crt_path = NULL, *key_path = NULL;
        IssuedCert cert = {};
        int r;
        if (settings_resolve(s, verb, &conf) < 0)
                return EXIT_USAGE;
        r = ca_load(conf_dir(&conf), true, &ca);
        if (r < 0) {
                fprintf(stderr, "mnguard-collector %s: cannot load the CA from %s: %s\n", verb, conf_dir(&conf), strerror(-r));
                collector_conf_clear(&conf);
                return EXIT_RUNTIME;
        }
        r = open_storage(&conf, verb, 1, &st);
        collector_conf_clear(&conf);
        if (r < 0)
                return EXIT_RUNTIME;
        r = ca_issue_keypair(ca, rec->subject, rec->kind == CERT_HOST ? OU_HOST : OU_OPERATOR, days, now_usec(), &cert);
        if (r >= 0) {
                rec->issued_usec = now_usec();
                rec->not_after_usec = cert.not_after_usec;
                memcpy(rec->serial, cert.serial, sizeof(rec->serial));
                if (asprintf(&crt_path, "%s.crt", out) < 0 || asprintf(&key_path, "%s.key", out) < 0)
                        r = -ENOMEM;
                if (r >= 0)
                        r = write_file_atomic(key_path, cert.key_pem, strlen(cert.key_pem), 0600);
                if (r >= 0)
                        r = write_file_atomic(crt_path, cert.pem, strlen(cert.pem), 0644);
                if (r >= 0)
                        r = storage_cert_add(st, rec, host_name);
        }
        if (r < 0)
                fprintf(stderr, "mnguard-collector %s: %s\n", verb, strerror(-r));
        else
                printf("Certificate %s for %s written to %s and %s.\n", cert.serial, rec->subject, crt_path, key_path);
        issued_cert_done(&cert);
        return r < 0 ? EXIT_RUNTIME : 0;
}

int verb_issue_host_cert(int argc, char *argv[]) {
        enum { OPT_HOST = OPT_VERB_FIRST, OPT_GROUP, OPT_NAME, OPT_OUT, OPT_DAYS };
        static const struct option options[] = {
                COMMON_OPTIONS,
                { "host", required_argument, NULL, OPT_HOST },
                { "group", required_argument, NULL, OPT_GROUP },
                { "name", required_argument, NULL, OPT_NAME },
                { "out", required_argument, NULL, OPT_OUT },
                { "days", required_argument, NULL, OPT_DAYS },
                {} };
        Settings s = {};
        const char *host = NULL, *group = "default", *name = NULL, *out = NULL;
        uint64_t days = HOST_CERT_VALIDITY_DAYS_DEFAULT;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if ((r = settings_option(&s, c, optarg)) != 0) {
                        if (r < 0)
                                return EXIT_USAGE;
                        continue;
                }
                switch (c) {
                case OPT_HOST: host = optarg; break;
                case OPT_GROUP: group = optarg; break;
                case OPT_NAME: name = optarg; break;
                case OPT_OUT: out = optarg; break;
                case OPT_DAYS:
                        if (parse_u64(optarg, &days) < 0 || days == 0 || days > CERT_VALIDITY_DAYS_MAX) {
                                fprintf(stderr, "mnguard-collector issue-host-cert: --days takes 1-%u\n", CERT_VALIDITY_DAYS_MAX);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h':
                        printf("Usage: mnguard-collector issue-host-cert --host ID --out PREFIX [--group G] [--name NAME]\n\n"
                               "Offline enrollment: makes a key pair and a host certificate for a terminal that cannot\n"
                               "enroll over the network (PREFIX.crt, PREFIX.key 0600). Carry them to the terminal.\n\n"
                               COMMON_HELP
                               "  --host ID             the terminal's host id (32 lowercase hex digits)\n"
                               "  --group G             policy group (default \"default\")\n"
                               "  --name NAME           host name to record\n"
                               "  --days N              validity (default %u)\n", HOST_CERT_VALIDITY_DAYS_DEFAULT);
                        return 0;
                default: return EXIT_USAGE;
                }
        }
        if (!host || !host_id_is_valid(host) || !out || !group_name_is_valid(group) ||
            (name && (strlen(name) == 0 || strlen(name) > HOST_NAME_MAX_BYTES))) {
                fprintf(stderr, "mnguard-collector issue-host-cert: --host (32 lowercase hex digits) and --out are required\n");
                return EXIT_USAGE;
        }
        CertRecord rec = { .kind = CERT_HOST };
        snprintf(rec.subject, sizeof(rec.subject), "%s", host);
        snprintf(rec.group, sizeof(rec.group), "%s", group);
        _cleanup_free_ char *clean = name ? untrusted_sanitize(name, strlen(name), HOST_NAME_MAX_BYTES) : NULL;
        return issue_and_write(&s, "issue-host-cert", &rec, clean, (unsigned) days, out);
}

int verb_revoke(int argc, char *argv[]) {
        enum { OPT_HOST = OPT_VERB_FIRST, OPT_SERIAL, OPT_OPERATOR };
        static const struct option options[] = {
                COMMON_OPTIONS,
                { "host", required_argument, NULL, OPT_HOST },
                { "serial", required_argument, NULL, OPT_SERIAL },
                { "operator", required_argument, NULL, OPT_OPERATOR },
                {} };
        Settings s = {};
        const char *subject = NULL, *serial = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if ((r = settings_option(&s, c, optarg)) != 0) {
                        if (r < 0)
                                return EXIT_USAGE;
                        continue;
                }
                switch (c) {
                case OPT_HOST:
                case OPT_OPERATOR: subject = optarg; break;
                case OPT_SERIAL: serial = optarg; break;
                case 'h':
                        printf("Usage: mnguard-collector revoke (--host ID | --operator NAME | --serial HEX)\n\n"
                               "Revokes certificates: the collector refuses them from the next request on.\n\n"
                               COMMON_HELP);
                        return 0;
                default: return EXIT_USAGE;
                }
        }
        if (!!subject == !!serial || (serial && strlen(serial) >= CERT_SERIAL_HEX_MAX) ||
            (subject && strlen(subject) > OPERATOR_NAME_MAX)) {
                fprintf(stderr, "mnguard-collector revoke: give one of --host, --operator or --serial\n");
                return EXIT_USAGE;
        }
        CollectorConf conf;
        _cleanup_(storage_closep) Storage *st = NULL;
        if (settings_resolve(&s, "revoke", &conf) < 0)
                return EXIT_USAGE;
        r = open_storage(&conf, "revoke", 1, &st);
        collector_conf_clear(&conf);
        if (r < 0)
                return EXIT_RUNTIME;
        r = storage_cert_revoke(st, serial, subject);
        if (r < 0) {
                fprintf(stderr, "mnguard-collector revoke: %s\n", strerror(-r));
                return EXIT_RUNTIME;
        }
        printf("%d certificate%s revoked.\n", r, r == 1 ? "" : "s");
        return r == 0 ? EXIT_USAGE : 0;
}
