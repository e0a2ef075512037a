/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguardd: the resident daemon. Parses arguments and runs the manager. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "macro.h"
#include "manager.h"

static void help(void) {
        printf("Usage: mnguardd [OPTIONS]\n"
               "\n"
               "The mnguard agent: watches removable media, enforces the policy, journals every decision.\n"
               "Runs in the foreground (systemd Type=notify). SIGHUP reloads the policy; SIGTERM stops.\n"
               "\n"
               "  --config-dir DIR   agent.conf and policy.yaml (default %s)\n"
               "  --state-dir DIR    journal, identity, last good policy (default %s)\n"
               "  --runtime-dir DIR  control socket (default %s)\n"
               "  -h --help          show this help\n"
               "     --version       show the version\n",
               MANAGER_CONFIG_DIR_DEFAULT, MANAGER_STATE_DIR_DEFAULT, MANAGER_RUNTIME_DIR_DEFAULT);
}

int main(int argc, char *argv[]) {
        enum { ARG_CONFIG = 0x100, ARG_STATE, ARG_RUNTIME, ARG_VERSION };
        static const struct option options[] = {
                { "config-dir", required_argument, NULL, ARG_CONFIG },
                { "state-dir", required_argument, NULL, ARG_STATE },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        ManagerOptions o = {};
        int c;

        log_setup("mnguardd");
        /* Signals are event sources (sd_event_add_signal needs them blocked): block them before any
         * thread exists, so that none can take them with the default action. */
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigprocmask(SIG_BLOCK, &ss, NULL);

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_CONFIG: o.config_dir = optarg; break;
                case ARG_STATE: o.state_dir = optarg; break;
                case ARG_RUNTIME: o.runtime_dir = optarg; break;
                case 'h': help(); return EXIT_SUCCESS;
                case ARG_VERSION: printf("mnguardd %s\n", MNGUARD_VERSION); return EXIT_SUCCESS;
                default: return EXIT_FAILURE;
                }
        if (optind < argc) {
                fprintf(stderr, "mnguardd: unexpected argument '%s' (see --help)\n", argv[optind]);
                return EXIT_FAILURE;
        }

        _cleanup_(manager_freep) Manager *m = NULL;
        int r = manager_new(&o, &m);
        if (r < 0) {
                log_error_errno(r, "Cannot set up: %m");
                return EXIT_FAILURE;
        }
        r = manager_startup(m);
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_run(m);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
