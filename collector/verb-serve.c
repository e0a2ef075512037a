/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguard-collector serve: loads the CA, opens the storage, runs the HTTPS server until SIGTERM/SIGINT.
 * systemd Type=notify: READY=1 once the listener is up (STATUS names the port). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>

#include "ca.h"
#include "collector-verbs.h"
#include "log.h"
#include "server.h"

/* Each connection is a descriptor: raise the soft limit to the hard one. */
static void raise_fd_limit(unsigned want) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        log_warning_errno(errno, "Failed to raise the file descriptor limit, ignoring: %m");
        }
        if (rl.rlim_cur < (rlim_t) want + 64)
                log_warning("The file descriptor limit (%llu) is below the connection limit (%u).",
                            (unsigned long long) rl.rlim_cur, want);
}

int verb_serve(int argc, char *argv[]) {
        enum { OPT_LISTEN = OPT_VERB_FIRST, OPT_THREADS, OPT_CONNS, OPT_PER_IP, OPT_IDLE, OPT_REQ, OPT_DAYS, OPT_CONSOLE };
        static const struct option options[] = {
                COMMON_OPTIONS,
                { "listen", required_argument, NULL, OPT_LISTEN },
                { "threads", required_argument, NULL, OPT_THREADS },
                { "connection-limit", required_argument, NULL, OPT_CONNS },
                { "per-ip-limit", required_argument, NULL, OPT_PER_IP },
                { "idle-timeout", required_argument, NULL, OPT_IDLE },
                { "request-timeout", required_argument, NULL, OPT_REQ },
                { "cert-days", required_argument, NULL, OPT_DAYS },
                { "console-dir", required_argument, NULL, OPT_CONSOLE },
                {} };
        static const char *const keys[] = {
                [OPT_LISTEN - OPT_VERB_FIRST] = "listen", [OPT_THREADS - OPT_VERB_FIRST] = "threads",
                [OPT_CONNS - OPT_VERB_FIRST] = "connection-limit", [OPT_PER_IP - OPT_VERB_FIRST] = "per-ip-limit",
                [OPT_IDLE - OPT_VERB_FIRST] = "idle-timeout", [OPT_REQ - OPT_VERB_FIRST] = "request-timeout",
                [OPT_DAYS - OPT_VERB_FIRST] = "cert-days", [OPT_CONSOLE - OPT_VERB_FIRST] = "console-dir" };
        Settings s = {};
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if ((r = settings_option(&s, c, optarg)) != 0) {
                        if (r < 0)
                                return EXIT_USAGE;
                        continue;
                }
                if (c >= OPT_LISTEN && c <= OPT_CONSOLE) {
                        if (settings_add(&s, keys[c - OPT_VERB_FIRST], optarg) < 0)
                                return EXIT_USAGE;
                        continue;
                }
                if (c == 'h') {
                        printf("Usage: mnguard-collector serve [OPTIONS]\n\n"
                               "Runs the collector: HTTPS with mutual TLS on the listen address (docs/collector-api.md).\n"
                               "Flags override the settings file.\n\n"
                               COMMON_HELP
                               "  --listen ADDR:PORT    address to listen on (default " COLLECTOR_LISTEN_DEFAULT ";\n"
                               "                        [::]:8443 for IPv6; port 0 picks a free one, named in STATUS=)\n"
                               "  --threads N           worker threads (default: eight per CPU, 8-32)\n"
                               "  --connection-limit N  open connections at most (default %u)\n"
                               "  --per-ip-limit N      connections per client address (default 0: no limit)\n"
                               "  --idle-timeout SEC    close connections idle this long (default %u)\n"
                               "  --request-timeout SEC close a request not received in full after this long (default %u)\n"
                               "  --cert-days N         validity of certificates issued at enrollment (default %u)\n"
                               "  --console-dir DIR     the responder console's files (default " COLLECTOR_CONSOLE_DIR_DEFAULT ";\n"
                               "                        empty: no console pages)\n",
                               SERVER_CONNECTIONS_DEFAULT, SERVER_IDLE_TIMEOUT_DEFAULT_SEC,
                               SERVER_REQUEST_TIMEOUT_DEFAULT_SEC, HOST_CERT_VALIDITY_DAYS_DEFAULT);
                        return 0;
                }
                return EXIT_USAGE;
        }
        if (optind < argc) {
                fprintf(stderr, "mnguard-collector serve: unexpected argument\n");
                return EXIT_USAGE;
        }

        CollectorConf conf;
        ServerConfig sc;
        _cleanup_(ca_freep) Ca *ca = NULL;
        _cleanup_(storage_closep) Storage *st = NULL;
        Server *srv = NULL;
        if (settings_resolve(&s, "serve", &conf) < 0)
                return EXIT_USAGE;
        collector_conf_server(&conf, &sc);

        r = ca_load(sc.dir, true, &ca);
        if (r < 0) {
                log_error_errno(r, "Failed to load the CA from %s (run 'mnguard-collector init-ca --dir %s' first): %m",
                                sc.dir, sc.dir);
                collector_conf_clear(&conf);
                return EXIT_RUNTIME;
        }
        r = open_storage(&conf, "serve", sc.threads + 1, &st);
        if (r < 0) {
                collector_conf_clear(&conf);
                return EXIT_RUNTIME;
        }
        raise_fd_limit(sc.connection_limit);

        /* Signals are taken synchronously below; block them before any thread starts. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);

        r = server_start(&sc, st, ca, &srv);
        if (r < 0) {
                collector_conf_clear(&conf);
                return EXIT_RUNTIME;
        }
        log_info("mnguard-collector %s listening on %s (port %u), storage %s, %u threads.", MNGUARD_VERSION, sc.listen,
                 server_port(srv), st->ops->scheme, sc.threads);
        sd_notifyf(0, "READY=1\nSTATUS=Listening on port %u", server_port(srv));

        for (;;) {
                int sig = 0;
                if (sigwait(&mask, &sig) != 0)
                        continue;
                if (sig == SIGHUP) {
                        log_info("SIGHUP: nothing to reload yet (restart to change settings).");
                        continue;
                }
                if (sig == SIGPIPE)
                        continue;
                log_info("Signal %s, stopping.", strsignal(sig));
                break;
        }
        sd_notify(0, "STOPPING=1");
        server_stop(srv);
        collector_conf_clear(&conf);
        return 0;
}
