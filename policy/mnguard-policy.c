/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguard-policy: the policy author's tool: check, show, keygen, sign, verify, ticket. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "policy-json.h"
#include "policy-load.h"
#include "sign-io.h"
#include "ticket.h"

/* Each verb's own usage: what "mnguard-policy VERB --help" prints. */
static const char usage_check[] =
        "Usage: mnguard-policy check [-q] FILE...\n"
        "\n"
        "Validates policies. Prints FILE: ok (serial, rules, mode) for each valid file, and\n"
        "FILE:LINE:COLUMN: error: ... on stderr for each problem found.\n"
        "\n"
        "  -q --quiet   print nothing for valid files\n"
        "\n"
        "Exit status: 0 all valid, 1 a policy is invalid, 2 a file cannot be read.\n";
static const char usage_show[] =
        "Usage: mnguard-policy show FILE\n"
        "\n"
        "Prints, as JSON, exactly what an agent enforces from the policy in FILE, every default explicit.\n"
        "\n"
        "Exit status: 0 shown, 1 invalid policy, 2 the file cannot be read.\n";
static const char usage_keygen[] =
        "Usage: mnguard-policy keygen PREFIX\n"
        "\n"
        "Makes an Ed25519 signing key pair: PREFIX.key (secret, mode 0600: keep it off the terminals) and\n"
        "PREFIX.pub (one line; terminals trust the keys listed in /etc/mnguard/policy-signing.pub).\n"
        "Never overwrites an existing PREFIX.key.\n"
        "\n"
        "Exit status: 0 made, 2 error.\n";
static const char usage_sign[] =
        "Usage: mnguard-policy sign FILE --key KEY [-o SIG]\n"
        "\n"
        "Signs the exact bytes of the policy in FILE with the secret key KEY (from keygen). Refuses a\n"
        "policy that does not validate.\n"
        "\n"
        "  -k --key KEY      the secret key file (PREFIX.key)\n"
        "  -o --output SIG   where to write the signature (default FILE.sig)\n"
        "\n"
        "Exit status: 0 signed, 1 invalid policy, 2 usage or I/O error.\n";
static const char usage_verify[] =
        "Usage: mnguard-policy verify FILE SIG --key PUB\n"
        "\n"
        "Checks that SIG is a good signature of the policy in FILE by one of the trusted public keys in\n"
        "PUB (one key per line, like /etc/mnguard/policy-signing.pub), and that the policy validates.\n"
        "\n"
        "  -k --key PUB   the trusted public keys\n"
        "\n"
        "Exit status: 0 good, 1 bad or untrusted signature or invalid policy, 2 usage or I/O error.\n";
static const char usage_ticket[] =
        "Usage: mnguard-policy ticket --key KEY --host HOSTID --device VVVV:PPPP:SERIAL\n"
        "                             --access read-only|read-write --from TIME --until TIME\n"
        "                             [--reason TEXT] [-o FILE]\n"
        "\n"
        "Issues a signed exception ticket (持ち出し申請) for one device on one host, for a time window.\n"
        "Grant it on the terminal with 'mnguardctl exception import FILE', or queue it at the collector.\n"
        "\n"
        "  -k --key KEY        the secret key file (PREFIX.key); terminals must trust its public key\n"
        "  -H --host HOSTID    the terminal's 32-digit host id (mnguardctl status)\n"
        "  -d --device V:P:S   USB vendor and product (4 hex digits each) and the device's serial\n"
        "  -a --access ACCESS  read-only or read-write\n"
        "  -f --from TIME      start of the window, RFC 3339 (2026-11-26T09:00:00+09:00)\n"
        "  -u --until TIME     end of the window, RFC 3339\n"
        "  -r --reason TEXT    the 申請 number or reason, recorded with the ticket\n"
        "  -o --output FILE    where to write it (default ticket-ID.mnguard)\n"
        "\n"
        "Exit status: 0 issued, 2 usage or I/O error.\n";

static int verb_check(int argc, char **argv, bool quiet) {
        int ret = 0;
        if (argc < 1) {
                fprintf(stderr, "mnguard-policy check: expected at least one FILE\n");
                return 2;
        }
        for (int i = 0; i < argc; i++) {
                Policy *p = NULL;
                int r = policy_load_file(argv[i], stderr, &p);
                if (r == -EINVAL)
                        ret = ret ?: 1;
                else if (r < 0)
                        ret = 2;
                else {
                        if (!quiet)
                                printf("%s: ok (serial %llu, %zu media rules, %zu print rules, mode %s)\n", argv[i],
                                       (unsigned long long) p->serial, p->n_media, p->n_print,
                                       policy_mode_to_string(p->mode));
                        policy_free(p);
                }
        }
        return ret;
}

static int verb_show(int argc, char **argv) {
        Policy *p = NULL;
        if (argc != 1) {
                fprintf(stderr, "mnguard-policy show: expected exactly one FILE\n");
                return 2;
        }
        int r = policy_load_file(argv[0], stderr, &p);
        if (r < 0)
                return r == -EINVAL ? 1 : 2;
        json_object *o = policy_to_json(p);
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        policy_free(p);
        return 0;
}

static int run_check(int argc, char **argv, bool quiet) {
        return verb_check(argc, argv, quiet);
}
static int run_show(int argc, char **argv, _unused_ bool quiet) {
        return verb_show(argc, argv);
}
static int run_keygen(int argc, char **argv, _unused_ bool quiet) {
        return verb_keygen(argc, argv);
}
static int run_sign(int argc, char **argv, _unused_ bool quiet) {
        return verb_sign(argc, argv, SIGN_CONTEXT_POLICY, true);
}
static int run_verify(int argc, char **argv, _unused_ bool quiet) {
        return verb_verify(argc, argv, SIGN_CONTEXT_POLICY, true);
}
static int run_ticket(int argc, char **argv, _unused_ bool quiet) {
        return verb_ticket(argc, argv);
}

typedef struct Verb {
        const char *name;
        const char *synopsis; /* for the general help */
        const char *usage;    /* for VERB --help */
        int (*run)(int argc, char **argv, bool quiet); /* returns the exit status */
} Verb;

static const Verb verbs[] = {
        { "check", "check FILE...      Validate policies; print FILE:LINE:COLUMN: error: ... for each problem\n",
          usage_check, run_check },
        { "show", "show FILE          Print the normalized policy the agent will enforce, as JSON\n",
          usage_show, run_show },
        { "keygen", "keygen PREFIX      Make a signing key pair: PREFIX.key (secret, 0600) and PREFIX.pub\n",
          usage_keygen, run_keygen },
        { "sign", "sign FILE --key KEY [-o SIG]\n"
                  "                     Sign a policy (its exact bytes); SIG defaults to FILE.sig\n",
          usage_sign, run_sign },
        { "ticket", "ticket --key KEY --host HOSTID --device VVVV:PPPP:SERIAL --access read-only|read-write\n"
                    "         --from TIME --until TIME [--reason TEXT] [-o FILE]\n"
                    "                     Issue a signed exception ticket for one device on one host\n",
          usage_ticket, run_ticket },
        { "verify", "verify FILE SIG --key PUB\n"
                    "                     Check a policy's signature against trusted public keys (PUB may hold "
                    "several)\n",
          usage_verify, run_verify },
};

static void help(FILE *f) {
        fprintf(f,
                "Usage: mnguard-policy [OPTIONS] VERB [ARGS]\n"
                "\n"
                "The policy author's tool for mnguard.\n"
                "\n"
                "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %s", verbs[i].synopsis);
        fprintf(f,
                "\n"
                "Options:\n"
                "  -q --quiet         check: print nothing for valid files\n"
                "  -h --help          Show this help\n"
                "     --version       Show the version\n"
                "\n"
                "See 'mnguard-policy VERB --help' for a verb's arguments.\n"
                "Exit status: 0 valid, 1 invalid policy, 2 usage or I/O error.\n");
}

/* -h/--help anywhere among a verb's arguments (up to "--") asks for its usage: never a file name. */
static bool wants_help(int argc, char **argv) {
        for (int i = 0; i < argc && !streq(argv[i], "--"); i++)
                if (streq(argv[i], "-h") || streq(argv[i], "--help"))
                        return true;
        return false;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "quiet", no_argument, NULL, 'q' },
                {},
        };
        bool quiet = false;
        int c;

        while ((c = getopt_long(argc, argv, "+hq", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return 0;
                case 'V':
                        printf("mnguard-policy %s\n", MNGUARD_VERSION);
                        return 0;
                case 'q':
                        quiet = true;
                        break;
                default:
                        return 2;
                }
        if (optind >= argc) {
                help(stderr);
                return 2;
        }
        const char *verb = argv[optind];
        int vargc = argc - optind - 1;
        char **vargv = argv + optind + 1;

        if (streq(verb, "help")) {
                help(stdout);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].name, verb))
                        continue;
                if (wants_help(vargc, vargv)) {
                        fputs(verbs[i].usage, stdout);
                        return 0;
                }
                /* Verb options (e.g. "check -q FILE") */
                if (vargc > 0 && (streq(vargv[0], "-q") || streq(vargv[0], "--quiet"))) {
                        quiet = true;
                        vargc--;
                        vargv++;
                }
                return verbs[i].run(vargc, vargv, quiet);
        }
        fprintf(stderr, "mnguard-policy: unknown verb '%s' (see --help)\n", verb);
        return 2;
}
