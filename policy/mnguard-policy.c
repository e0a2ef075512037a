/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguard-policy: the policy author's tool. check, show (signing: keygen, sign, verify, in a later step). */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "policy-json.h"
#include "policy-load.h"
#include "sign-io.h"
#include "ticket.h"

static void help(void) {
        printf("Usage: mnguard-policy [OPTIONS] VERB [ARGS]\n"
               "\n"
               "The policy author's tool for mnguard.\n"
               "\n"
               "Verbs:\n"
               "  check FILE...      Validate policies; print FILE:LINE:COLUMN: error: ... for each problem\n"
               "  show FILE          Print the normalized policy the agent will enforce, as JSON\n"
               "  keygen PREFIX      Make a signing key pair: PREFIX.key (secret, 0600) and PREFIX.pub\n"
               "  sign FILE --key KEY [-o SIG]\n"
               "                     Sign a policy (its exact bytes); SIG defaults to FILE.sig\n"
               "  ticket --key KEY --host HOSTID --device VVVV:PPPP:SERIAL --access read-only|read-write\n"
               "         --from TIME --until TIME [--reason TEXT] [-o FILE]\n"
               "                     Issue a signed exception ticket for one device on one host\n"
               "  verify FILE SIG --key PUB\n"
               "                     Check a policy's signature against trusted public keys (PUB may hold several)\n"
               "\n"
               "Options:\n"
               "  -q --quiet         check: print nothing for valid files\n"
               "  -h --help          Show this help\n"
               "     --version       Show the version\n"
               "\n"
               "Exit status: 0 valid, 1 invalid policy, 2 usage or I/O error.\n");
}

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
                        help();
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
                help();
                return 2;
        }
        const char *verb = argv[optind];
        int vargc = argc - optind - 1;
        char **vargv = argv + optind + 1;

        /* Verb options (e.g. "check -q FILE") */
        if (vargc > 0 && (streq(vargv[0], "-q") || streq(vargv[0], "--quiet"))) {
                quiet = true;
                vargc--;
                vargv++;
        }
        if (vargc > 0 && (streq(vargv[0], "-h") || streq(vargv[0], "--help"))) {
                help();
                return 0;
        }
        if (streq(verb, "check"))
                return verb_check(vargc, vargv, quiet);
        if (streq(verb, "show"))
                return verb_show(vargc, vargv);
        if (streq(verb, "keygen"))
                return verb_keygen(vargc, vargv);
        if (streq(verb, "sign"))
                return verb_sign(vargc, vargv, SIGN_CONTEXT_POLICY, true);
        if (streq(verb, "verify"))
                return verb_verify(vargc, vargv, SIGN_CONTEXT_POLICY, true);
        if (streq(verb, "ticket"))
                return verb_ticket(vargc, vargv);
        if (streq(verb, "help")) {
                help();
                return 0;
        }
        fprintf(stderr, "mnguard-policy: unknown verb '%s' (see --help)\n", verb);
        return 2;
}
