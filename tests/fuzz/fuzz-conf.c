/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the configuration files. First byte even: /etc/mnguard/agent.conf
 * (agent/agent-conf.c agent_conf_parse), its removable-media patterns then taken as the daemon takes them
 * (agent/removable-patterns.c) and matched against kernel disk names. Odd: collector.conf
 * (collector/collector-conf.c collector_conf_load, which reads a path: the input is handed over as a
 * memfd), then the settings it gives turned into the server's configuration.
 * Invariants: an accepted agent.conf has its values within the documented bounds; a refused one says
 * where; the collector's settings are within theirs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent-conf.h"
#include "collector-conf.h"
#include "fuzz-util.h"
#include "removable-patterns.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_agent_conf(const char *text, size_t n) {
        AgentConf c;
        PolicyDiagnostics d;
        int r = agent_conf_parse(text, n, &c, &d);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
                FUZZ_CHECK(r == -ENOMEM || d.n > 0);
                for (size_t i = 0; i < d.n; i++)
                        FUZZ_CHECK(d.items[i].message &&
                                   utf8_is_valid(d.items[i].message, strlen(d.items[i].message), NULL));
                policy_diagnostics_clear(&d);
                return;
        }
        FUZZ_CHECK(d.n == 0);
        policy_diagnostics_clear(&d);
        FUZZ_CHECK(c.journal_max_age_days <= 100000 && c.journal_max_size_mb <= 1024 * 1024);
        FUZZ_CHECK(!c.collector_url || strncmp(c.collector_url, "https://", 8) == 0);
        FUZZ_CHECK(c.n_removable_patterns <= AGENT_CONF_MAX_PATTERNS);

        MnRemovablePatterns p = {};
        for (size_t i = 0; i < c.n_removable_patterns; i++) {
                FUZZ_CHECK(c.removable_patterns[i] && strlen(c.removable_patterns[i]) <= 64);
                int k = mn_removable_patterns_add(&p, c.removable_patterns[i]);
                FUZZ_CHECK(k == 0 || k == -EINVAL || k == -E2BIG || k == -ENOMEM);
                FUZZ_CHECK(k != 0 || mn_removable_pattern_valid(c.removable_patterns[i]));
        }
        static const char *const names[] = { "sda", "loop0", "nvme0n1", "mmcblk0", "sr0", "nbd12", "" };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                (void) mn_removable_patterns_match(&p, names[i]);
        mn_removable_patterns_clear(&p);
        agent_conf_clear(&c);
}

static void check_collector_conf(const char *text, size_t n) {
        int fd = memfd_create("collector.conf", MFD_CLOEXEC);
        if (fd < 0)
                return;
        if (write(fd, text, n) != (ssize_t) n) {
                close(fd);
                return;
        }
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        CollectorConf c;
        collector_conf_defaults(&c);
        int r = collector_conf_load(path, &c);
        close(fd);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EFBIG || r == -ENOMEM);
        if (r == 0) {
                ServerConfig sc;
                char *storage = NULL;
                collector_conf_server(&c, &sc);
                FUZZ_CHECK(sc.listen && sc.dir && sc.threads > 0);
                FUZZ_CHECK(c.idle_timeout_sec >= 1 && c.idle_timeout_sec <= 3600);
                FUZZ_CHECK(c.request_timeout_sec >= 1 && c.request_timeout_sec <= 3600);
                FUZZ_CHECK(c.connection_limit >= 1);
                if (collector_conf_storage(&c, &storage) == 0) {
                        FUZZ_CHECK(strchr(storage, ':'));
                        free(storage);
                }
        }
        collector_conf_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static bool quiet;
        if (!quiet) {
                /* collector_conf_load() prints each problem on stderr: not from every run. Sanitizer
                 * reports go to file descriptor 2 directly, and still show. */
                FILE *null = fopen("/dev/null", "w");
                if (null)
                        stderr = null;
                quiet = true;
        }
        if (size == 0)
                return 0;
        if (data[0] % 2 == 0)
                check_agent_conf((const char *) data + 1, size - 1);
        else
                check_collector_conf((const char *) data + 1, size - 1);
        return 0;
}
