/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguardctl policy: what is in force, and importing a signed policy on an offline terminal. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-client.h"
#include "ctl.h"
#include "macro.h"
#include "strutil.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CtlClient *, ctl_client_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static void policy_help(FILE *f) {
        fprintf(f,
                "Usage: mnguardctl policy import POLICY SIG\n"
                "       mnguardctl policy dry-run FILE   (same as: mnguardctl devices --policy FILE)\n\n"
                "import: puts a signed policy in force on this terminal (root). The same checks as for a\n"
                "policy from the collector: a key in /etc/mnguard/policy-signing.pub, a serial greater than\n"
                "the one in force. Exit status 0 when in force, 1 when refused (the reason is printed and\n"
                "journaled as policy-rejected), 2 on other errors.\n"
                "dry-run: what the policy in FILE would decide for the devices plugged in now; changes nothing.\n");
}

static void exception_help(FILE *f) {
        fprintf(f,
                "Usage: mnguardctl exception import TICKET\n\n"
                "Grants a signed exception ticket (持ち出し申請) on this terminal (root): the ticket must be\n"
                "signed by a trusted key, made for this host, within its validity window, and unused.\n"
                "Exit status 0 when granted, 1 when refused (the reason is printed and journaled as\n"
                "exception-rejected), 2 when the daemon cannot be reached.\n");
}

static bool is_help(const char *arg) {
        return streq(arg, "--help") || streq(arg, "-h") || streq(arg, "help");
}

/* -h/--help anywhere among a command's arguments (up to "--") asks for its help: never a file name. */
static bool wants_help(int argc, char *argv[]) {
        for (int i = 0; i < argc && !streq(argv[i], "--"); i++)
                if (streq(argv[i], "--help") || streq(argv[i], "-h"))
                        return true;
        return false;
}

int verb_policy(int argc, char *argv[], const CtlGlobals *g) {
        if (argc < 2) {
                policy_help(stderr);
                return CTL_EXIT_USAGE;
        }
        if (is_help(argv[1]) || wants_help(argc - 2, argv + 2)) {
                policy_help(stdout);
                return CTL_EXIT_OK;
        }
        if (streq(argv[1], "dry-run")) {
                if (argc != 3) {
                        fprintf(stderr, "mnguardctl policy dry-run: expected one FILE\n");
                        policy_help(stderr);
                        return CTL_EXIT_USAGE;
                }
                char *args[] = { argv[0], (char *) "--policy", argv[2], NULL };
                return verb_devices(3, args, g);
        }
        if (!streq(argv[1], "import")) {
                _cleanup_free_ char *e = terminal_escape(argv[1], 256);
                fprintf(stderr, "mnguardctl policy: unknown command '%s' (import, dry-run)\n", e ?: "?");
                return CTL_EXIT_USAGE;
        }
        if (argc != 4) {
                fprintf(stderr, "mnguardctl policy import: expected POLICY and SIG\n");
                policy_help(stderr);
                return CTL_EXIT_USAGE;
        }
        char policy[PATH_MAX], sig[PATH_MAX];
        if (!realpath(argv[2], policy) || !realpath(argv[3], sig)) {
                fprintf(stderr, "mnguardctl policy import: %m\n");
                return CTL_EXIT_USAGE;
        }
        _cleanup_(ctl_client_freep) CtlClient *cl = NULL;
        int r = ctl_client_connect(g->runtime_dir, &cl);
        if (r < 0) {
                fprintf(stderr, "mnguardctl: cannot reach the daemon in %s: %s\n", g->runtime_dir, strerror(-r));
                return CTL_EXIT_RUNTIME;
        }
        _cleanup_(json_object_putp) json_object *req = json_object_new_object(), *rep = NULL;
        json_object_object_add(req, "verb", json_object_new_string("policy-import"));
        json_object_object_add(req, "policy_path", json_object_new_string(policy));
        json_object_object_add(req, "signature_path", json_object_new_string(sig));
        const char *err = NULL;
        r = ctl_client_call(cl, req, &rep, &err);
        if (r < 0) {
                _cleanup_free_ char *e = terminal_escape(err ?: strerror(-r), 512);
                fprintf(stderr, "mnguardctl policy import: refused: %s\n", e ?: "?");
                return r == -EACCES || r == -ECONNRESET || r == -EPIPE ? CTL_EXIT_RUNTIME : CTL_EXIT_USAGE;
        }
        json_object *applied = json_object_object_get(rep, "applied");
        _cleanup_free_ char *name = terminal_escape(json_object_get_string(json_object_object_get(rep, "name")), 256);
        printf("%s: policy %s \"%s\"\n", json_object_get_boolean(applied) ? "in force" : "already in force",
               json_object_get_string(json_object_object_get(rep, "serial")), name ?: "?");
        return CTL_EXIT_OK;
}

int verb_exception(int argc, char *argv[], const CtlGlobals *g) {
        if (argc >= 2 && (is_help(argv[1]) || wants_help(argc - 2, argv + 2))) {
                exception_help(stdout);
                return CTL_EXIT_OK;
        }
        if (argc != 3 || !streq(argv[1], "import")) {
                exception_help(stderr);
                return CTL_EXIT_USAGE;
        }
        char path[PATH_MAX];
        if (!realpath(argv[2], path)) {
                fprintf(stderr, "mnguardctl exception import: %m\n");
                return CTL_EXIT_USAGE;
        }
        _cleanup_(ctl_client_freep) CtlClient *cl = NULL;
        int r = ctl_client_connect(g->runtime_dir, &cl);
        if (r < 0) {
                fprintf(stderr, "mnguardctl: cannot reach the daemon in %s: %s\n", g->runtime_dir, strerror(-r));
                return CTL_EXIT_RUNTIME;
        }
        _cleanup_(json_object_putp) json_object *req = json_object_new_object(), *rep = NULL;
        json_object_object_add(req, "verb", json_object_new_string("exception-import"));
        json_object_object_add(req, "path", json_object_new_string(path));
        const char *err = NULL;
        r = ctl_client_call(cl, req, &rep, &err);
        if (r < 0) {
                _cleanup_free_ char *e = terminal_escape(err ?: strerror(-r), 512);
                fprintf(stderr, "mnguardctl exception import: refused: %s\n", e ?: "?");
                return CTL_EXIT_USAGE;
        }
        _cleanup_free_ char *m = terminal_escape(json_object_get_string(json_object_object_get(rep, "message")), 512);
        printf("%s\n", m ?: "granted");
        return CTL_EXIT_OK;
}
