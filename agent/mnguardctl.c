/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguardctl: global options and verb dispatch; the verbs live in ctl-*.c. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "macro.h"
#include "strutil.h"

typedef struct Verb {
        const char *name;
        int (*run)(int argc, char *argv[], const CtlGlobals *g);
        const char *summary;
} Verb;

static const Verb verbs[] = {
        { "status", verb_status, "The daemon: version, host id, policy in force, journal" },
        { "devices", verb_devices, "List plugged-in devices and what the policy decides for each" },
        { "events", verb_events, "The event history, with filters (time, action, user, device)" },
        { "verify", verb_verify, "Walk the journal's hash chain; name the first broken record" },
        { "export", verb_export, "Evidence export: NDJSON records and a manifest" },
        { "note", verb_note, "Record an admin note in the journal (root)" },
        { "print", verb_print, "CUPS queues behind mnguard: wrap, unwrap, status, check" },
        { "exception", verb_exception, "Grant a signed exception ticket (root)" },
        { "policy", verb_policy, "Import a signed policy (offline terminals); dry-run a policy" },
};

static void help(FILE *f) {
        fprintf(f,
                "Usage: mnguardctl [OPTIONS] VERB [VERB OPTIONS]\n"
                "\n"
                "Inspect mnguard on this terminal.\n"
                "\n"
                "Options:\n"
                "  --runtime-dir DIR  Daemon runtime directory (default %s)\n"
                "  --journal FILE     Read this journal file instead of asking the daemon\n"
                "  -h, --help         Show this help\n"
                "      --version      Show the version\n"
                "\n"
                "Verbs:\n",
                CTL_RUNTIME_DIR_DEFAULT);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %-17s  %s\n", verbs[i].name, verbs[i].summary);
        fprintf(f, "\nSee 'mnguardctl VERB --help' for a verb's options.\n");
}

int main(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_RUNTIME_DIR,
                ARG_JOURNAL,
        };
        static const struct option options[] = {
                { "help",        no_argument,       NULL, 'h'             },
                { "version",     no_argument,       NULL, ARG_VERSION     },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "journal",     required_argument, NULL, ARG_JOURNAL     },
                {}
        };
        CtlGlobals g = { .runtime_dir = CTL_RUNTIME_DIR_DEFAULT };
        int c;

        /* "+": stop at the verb, whose options are its own. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return CTL_EXIT_OK;
                case ARG_VERSION:
                        printf("mnguardctl %s\n", MNGUARD_VERSION);
                        return CTL_EXIT_OK;
                case ARG_RUNTIME_DIR:
                        if (isempty(optarg)) {
                                fprintf(stderr, "mnguardctl: --runtime-dir needs a directory\n");
                                return CTL_EXIT_USAGE;
                        }
                        g.runtime_dir = optarg;
                        break;
                case ARG_JOURNAL:
                        if (isempty(optarg)) {
                                fprintf(stderr, "mnguardctl: --journal needs a file\n");
                                return CTL_EXIT_USAGE;
                        }
                        g.journal = optarg;
                        break;
                default: /* getopt_long() has said what is wrong */
                        fprintf(stderr, "Try 'mnguardctl --help'.\n");
                        return CTL_EXIT_USAGE;
                }

        if (optind >= argc) {
                fprintf(stderr, "mnguardctl: missing verb\n");
                help(stderr);
                return CTL_EXIT_USAGE;
        }
        const char *verb = argv[optind];
        if (streq(verb, "help")) {
                help(stdout);
                return CTL_EXIT_OK;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, verb)) {
                        /* The verb parses argv[1..] of its own argument vector; getopt_long()
                         * names argv[0] in its messages. */
                        static char name[64];
                        int vargc = argc - optind;
                        char **vargv = argv + optind;
                        snprintf(name, sizeof(name), "mnguardctl %s", verbs[i].name);
                        vargv[0] = name;
                        optind = 0; /* glibc: reinitialize getopt */
                        return verbs[i].run(vargc, vargv, &g);
                }

        _cleanup_free_ char *e = terminal_escape(verb, 256);
        fprintf(stderr, "mnguardctl: unknown verb '%s'\n", e ?: "?");
        fprintf(stderr, "Try 'mnguardctl --help'.\n");
        return CTL_EXIT_USAGE;
}
