/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguard-collector operator add|list|remove: the console's operator accounts (docs/console.md). A password
 * is read from a file or from standard input, never from the command line (argv is visible to every user
 * in /proc), and only its argon2id hash is stored. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "collector-verbs.h"
#include "console.h"
#include "journal.h"
#include "json-util.h"
#include "storage-console.h"
#include "strutil.h"

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* One line from fd into buf (at most CONSOLE_PASSWORD_MAX bytes; the newline and a CR before it dropped). */
static int read_line_fd(int fd, char *buf, size_t size, size_t *ret_len) {
        size_t n = 0;
        for (;;) {
                char ch;
                ssize_t k = read(fd, &ch, 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0 || ch == '\n')
                        break;
                if (n + 1 >= size)
                        return -E2BIG;
                buf[n++] = ch;
        }
        if (n > 0 && buf[n - 1] == '\r')
                n--;
        buf[n] = 0;
        *ret_len = n;
        return 0;
}

static int read_tty_line(const char *prompt, char *buf, size_t size, size_t *ret_len) {
        struct termios old, quiet;
        fputs(prompt, stderr);
        fflush(stderr);
        bool echo_off = tcgetattr(STDIN_FILENO, &old) == 0;
        if (echo_off) {
                quiet = old;
                quiet.c_lflag &= ~(tcflag_t) ECHO;
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        int r = read_line_fd(STDIN_FILENO, buf, size, ret_len);
        if (echo_off)
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
        return r;
}

/* The password: the first line of file ("-" or NULL: standard input; asked twice on a terminal). */
static int read_password(const char *file, char *buf, size_t size, size_t *ret_len) {
        int r;
        if (!file || streq(file, "-")) {
                if (!isatty(STDIN_FILENO))
                        return read_line_fd(STDIN_FILENO, buf, size, ret_len);
                char again[CONSOLE_PASSWORD_MAX + 2];
                size_t n2 = 0;
                r = read_tty_line("Password: ", buf, size, ret_len);
                if (r >= 0)
                        r = read_tty_line("Password again: ", again, sizeof(again), &n2);
                if (r >= 0 && (n2 != *ret_len || sodium_memcmp(again, buf, n2) != 0))
                        r = -EBADMSG;
                sodium_memzero(again, sizeof(again));
                return r;
        }
        _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_line_fd(fd, buf, size, ret_len);
}

static int operator_add(int argc, char *argv[]) {
        enum { OPT_ROLE = OPT_VERB_FIRST, OPT_FILE, OPT_REPLACE };
        static const struct option options[] = {
                COMMON_OPTIONS,
                { "role", required_argument, NULL, OPT_ROLE },
                { "password-file", required_argument, NULL, OPT_FILE },
                { "replace", no_argument, NULL, OPT_REPLACE },
                {} };
        Settings s = {};
        OperatorRole role = ROLE_AUDITOR;
        const char *file = NULL;
        bool replace = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if ((r = settings_option(&s, c, optarg)) != 0) {
                        if (r < 0)
                                return EXIT_USAGE;
                        continue;
                }
                switch (c) {
                case OPT_ROLE:
                        if (operator_role_from_string(optarg, &role) < 0) {
                                fprintf(stderr, "mnguard-collector operator add: --role is auditor or admin\n");
                                return EXIT_USAGE;
                        }
                        break;
                case OPT_FILE: file = optarg; break;
                case OPT_REPLACE: replace = true; break;
                case 'h':
                        printf("Usage: mnguard-collector operator add NAME [--role auditor|admin] [--password-file FILE]\n"
                               "                                         [--replace]\n\n"
                               "Creates a console account. The password (%u-%u bytes) is the first line of FILE, or of\n"
                               "standard input (asked twice on a terminal); it is never taken from the command line.\n"
                               "Only its argon2id hash is stored.\n\n"
                               COMMON_HELP
                               "  --role ROLE           auditor (reads, the default) or admin (reads and publishes)\n"
                               "  --password-file FILE  read the password from FILE ('-': standard input)\n"
                               "  --replace             set a new password and role for an existing account\n",
                               CONSOLE_PASSWORD_MIN, CONSOLE_PASSWORD_MAX);
                        return 0;
                default: return EXIT_USAGE;
                }
        }
        if (optind + 1 != argc || !console_operator_name_ok(argv[optind])) {
                fprintf(stderr, "mnguard-collector operator add: give one NAME (A-Z a-z 0-9 _ . - @, at most %d bytes, "
                                "not a host id)\n", OPERATOR_NAME_MAX);
                return EXIT_USAGE;
        }
        OperatorAccount a = { .role = role, .created_usec = now_usec() };
        snprintf(a.name, sizeof(a.name), "%s", argv[optind]);

        char pw[CONSOLE_PASSWORD_MAX + 2];
        size_t len = 0;
        r = read_password(file, pw, sizeof(pw), &len);
        if (r >= 0 && console_password_check(pw, len) < 0)
                r = -EINVAL;
        if (r >= 0)
                r = console_password_hash(pw, len, a.pwhash);
        sodium_memzero(pw, sizeof(pw));
        if (r < 0) {
                if (r == -EINVAL || r == -E2BIG)
                        fprintf(stderr, "mnguard-collector operator add: the password must be %u-%u bytes of UTF-8 on one line\n",
                                CONSOLE_PASSWORD_MIN, CONSOLE_PASSWORD_MAX);
                else if (r == -EBADMSG)
                        fprintf(stderr, "mnguard-collector operator add: the two passwords differ\n");
                else
                        fprintf(stderr, "mnguard-collector operator add: cannot read the password: %s\n", strerror(-r));
                return r == -EINVAL || r == -E2BIG || r == -EBADMSG ? EXIT_USAGE : EXIT_RUNTIME;
        }

        CollectorConf conf;
        _cleanup_(storage_closep) Storage *st = NULL;
        if (settings_resolve(&s, "operator add", &conf) < 0)
                return EXIT_USAGE;
        r = open_storage(&conf, "operator add", 1, &st);
        collector_conf_clear(&conf);
        if (r < 0)
                return EXIT_RUNTIME;
        r = storage_console(st)->operator_put(st, &a, replace);
        sodium_memzero(a.pwhash, sizeof(a.pwhash));
        if (r == -EEXIST) {
                fprintf(stderr, "mnguard-collector operator add: %s exists (--replace sets a new password and role)\n", a.name);
                return EXIT_USAGE;
        }
        if (r < 0) {
                fprintf(stderr, "mnguard-collector operator add: %s\n", strerror(-r));
                return EXIT_RUNTIME;
        }
        printf("Operator %s (%s) %s.\n", a.name, operator_role_to_string(role), replace ? "set" : "added");
        return 0;
}

typedef struct ListCtx {
        bool json;
} ListCtx;

static int print_operator(const OperatorAccount *a, void *userdata) {
        ListCtx *l = userdata;
        char created[JOURNAL_TIMESTAMP_MAX], login[JOURNAL_TIMESTAMP_MAX];
        journal_timestamp_format(a->created_usec, created);
        if (a->last_login_usec)
                journal_timestamp_format(a->last_login_usec, login);
        else
                snprintf(login, sizeof(login), "-");
        if (l->json) {
                json_object *o = json_object_new_object();
                _cleanup_free_ char *s = NULL;
                json_object_object_add(o, "name", json_object_new_string(a->name));
                json_object_object_add(o, "role", json_object_new_string(operator_role_to_string(a->role)));
                json_object_object_add(o, "created", json_object_new_string(created));
                json_object_object_add(o, "last_login", a->last_login_usec ? json_object_new_string(login) : NULL);
                json_object_object_add(o, "failures", json_object_new_uint64(a->failures));
                json_object_object_add(o, "locked", json_object_new_boolean(a->locked_until_usec > now_usec()));
                if (mn_json_to_string(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &s) >= 0)
                        puts(s);
                json_object_put(o);
        } else {
                _cleanup_free_ char *name = terminal_escape(a->name, OPERATOR_NAME_MAX);
                printf("%-24s %-8s %-27s %-27s %u%s\n", name ?: "?", operator_role_to_string(a->role), created, login,
                       a->failures, a->locked_until_usec > now_usec() ? " (locked)" : "");
        }
        return 0;
}

static int operator_list(int argc, char *argv[]) {
        enum { OPT_JSON = OPT_VERB_FIRST };
        static const struct option options[] = { COMMON_OPTIONS, { "json", no_argument, NULL, OPT_JSON }, {} };
        Settings s = {};
        ListCtx l = {};
        int c, r;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if ((r = settings_option(&s, c, optarg)) != 0) {
                        if (r < 0)
                                return EXIT_USAGE;
                        continue;
                }
                if (c == OPT_JSON)
                        l.json = true;
                else if (c == 'h') {
                        printf("Usage: mnguard-collector operator list [--json]\n\nThe console's accounts: name, role, "
                               "created, last login, failed logins since.\n\n" COMMON_HELP);
                        return 0;
                } else
                        return EXIT_USAGE;
        }
        CollectorConf conf;
        _cleanup_(storage_closep) Storage *st = NULL;
        if (settings_resolve(&s, "operator list", &conf) < 0)
                return EXIT_USAGE;
        r = open_storage(&conf, "operator list", 1, &st);
        collector_conf_clear(&conf);
        if (r < 0)
                return EXIT_RUNTIME;
        if (!l.json)
                printf("%-24s %-8s %-27s %-27s %s\n", "NAME", "ROLE", "CREATED", "LAST LOGIN", "FAILURES");
        r = storage_console(st)->operators(st, print_operator, &l);
        if (r < 0) {
                fprintf(stderr, "mnguard-collector operator list: %s\n", strerror(-r));
                return EXIT_RUNTIME;
        }
        return 0;
}

static int operator_remove(int argc, char *argv[]) {
        static const struct option options[] = { COMMON_OPTIONS, {} };
        Settings s = {};
        int c, r;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if ((r = settings_option(&s, c, optarg)) != 0) {
                        if (r < 0)
                                return EXIT_USAGE;
                        continue;
                }
                if (c == 'h') {
                        printf("Usage: mnguard-collector operator remove NAME\n\nDeletes a console account and ends its "
                               "sessions at once.\n\n" COMMON_HELP);
                        return 0;
                }
                return EXIT_USAGE;
        }
        if (optind + 1 != argc || !console_operator_name_ok(argv[optind])) {
                fprintf(stderr, "mnguard-collector operator remove: give one NAME\n");
                return EXIT_USAGE;
        }
        CollectorConf conf;
        _cleanup_(storage_closep) Storage *st = NULL;
        if (settings_resolve(&s, "operator remove", &conf) < 0)
                return EXIT_USAGE;
        r = open_storage(&conf, "operator remove", 1, &st);
        collector_conf_clear(&conf);
        if (r < 0)
                return EXIT_RUNTIME;
        r = storage_console(st)->operator_remove(st, argv[optind]);
        if (r < 0) {
                fprintf(stderr, "mnguard-collector operator remove: %s\n", strerror(-r));
                return EXIT_RUNTIME;
        }
        if (r == 0) {
                fprintf(stderr, "mnguard-collector operator remove: no account %s\n", argv[optind]);
                return EXIT_USAGE;
        }
        printf("Operator %s removed; their sessions have ended.\n", argv[optind]);
        return 0;
}

int verb_operator(int argc, char *argv[]) {
        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                printf("Usage: mnguard-collector operator add NAME [--role auditor|admin] [--password-file FILE]\n"
                       "       mnguard-collector operator list [--json]\n"
                       "       mnguard-collector operator remove NAME\n\n"
                       "Accounts of the responder console (https://COLLECTOR/console/). 'VERB --help' for more.\n");
                return argc < 2 ? EXIT_USAGE : 0;
        }
        if (streq(argv[1], "add"))
                return operator_add(argc - 1, argv + 1);
        if (streq(argv[1], "list"))
                return operator_list(argc - 1, argv + 1);
        if (streq(argv[1], "remove"))
                return operator_remove(argc - 1, argv + 1);
        _cleanup_free_ char *e = terminal_escape(argv[1], 64);
        fprintf(stderr, "mnguard-collector operator: unknown verb '%s' (add, list, remove)\n", e ?: "?");
        return EXIT_USAGE;
}
