/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* /etc/mnguard/agent.conf: the agent's own settings (the policy is separate). YAML, read with the
 * policy library's parser and diagnostics, so errors name file, line and column. Every key is
 * optional; docs/agent-conf.md lists them. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"

#define AGENT_CONF_FILE "agent.conf"
#define AGENT_CONF_MAX_SIZE (64 * 1024)
#define AGENT_CONF_MAX_PATTERNS 64

typedef struct AgentConf {
        /* journal retention: 0 = no limit of that kind */
        uint64_t journal_max_age_days;
        uint64_t journal_max_size_mb;
        /* collector (issue 6); NULL when not configured */
        char *collector_url;
        char *collector_ca;
        char *enrollment_token;
        unsigned collector_batch_records;       /* 0: the reporter's default */
        /* extra block device sysname globs treated as removable media (e.g. "loop*" for tests) */
        char *removable_patterns[AGENT_CONF_MAX_PATTERNS];
        size_t n_removable_patterns;
        /* print: wrap CUPS queues found without the mnguard backend (mnguardctl print check --auto) */
        bool print_auto_wrap;
} AgentConf;

#define AGENT_CONF_DEFAULT_MAX_AGE_DAYS 400   /* a fiscal year and a bit */
#define AGENT_CONF_DEFAULT_MAX_SIZE_MB  1024

void agent_conf_defaults(AgentConf *c);
void agent_conf_clear(AgentConf *c);

/* Parses data; on failure -EINVAL with every problem in diags. */
int agent_conf_parse(const char *data, size_t size, AgentConf *ret, PolicyDiagnostics *diags);

/* Reads CONFIG_DIR/agent.conf. A missing file gives the defaults. Problems are printed as
 * "FILE:LINE:COLUMN: error: ..." to err. */
int agent_conf_load(const char *config_dir, FILE *err, AgentConf *ret);
