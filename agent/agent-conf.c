/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "agent-conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"
#include "policy-internal.h"
#include "policy-load.h"
#include "reporter.h"
#include "strutil.h"
#include "yaml-tree.h"

void agent_conf_defaults(AgentConf *c) {
        *c = (AgentConf) {
                .journal_max_age_days = AGENT_CONF_DEFAULT_MAX_AGE_DAYS,
                .journal_max_size_mb = AGENT_CONF_DEFAULT_MAX_SIZE_MB,
        };
}

void agent_conf_clear(AgentConf *c) {
        free(c->collector_url);
        free(c->collector_ca);
        free(c->enrollment_token);
        for (size_t i = 0; i < c->n_removable_patterns; i++)
                free(c->removable_patterns[i]);
        agent_conf_defaults(c);
}

static bool parse_journal(Ctx *x, const YNode *n, AgentConf *c) {
        static const char *const keys[] = { "max-age-days", "max-size-mb" };
        const YNode *v[ELEMENTSOF(keys)];
        if (!expect_type(x, n, YNODE_MAPPING, "journal"))
                return false;
        bool ok = walk_map(x, n, "journal", keys, ELEMENTSOF(keys), v);
        if (v[0])
                ok &= get_uint(x, v[0], "max-age-days", 0, 100000, &c->journal_max_age_days);
        if (v[1])
                ok &= get_uint(x, v[1], "max-size-mb", 0, 1024 * 1024, &c->journal_max_size_mb);
        return ok;
}

static bool parse_collector(Ctx *x, const YNode *n, AgentConf *c) {
        static const char *const keys[] = { "url", "ca", "enrollment-token", "batch-records" };
        const YNode *v[ELEMENTSOF(keys)];
        if (!expect_type(x, n, YNODE_MAPPING, "collector"))
                return false;
        bool ok = walk_map(x, n, "collector", keys, ELEMENTSOF(keys), v);
        if (v[0]) {
                ok &= get_text(x, v[0], "url", 1024, false, &c->collector_url);
                if (c->collector_url && strncmp(c->collector_url, "https://", 8) != 0) {
                        report(x, at(v[0]), "collector.url must start with https:// (mutual TLS)");
                        ok = false;
                }
        }
        if (v[1])
                ok &= get_text(x, v[1], "ca", 1024, false, &c->collector_ca);
        if (v[2])
                ok &= get_text(x, v[2], "enrollment-token", 1024, false, &c->enrollment_token);
        if (v[3]) {
                uint64_t records = 0;
                ok &= get_uint(x, v[3], "batch-records", REPORTER_BATCH_RECORDS_MIN, REPORTER_BATCH_RECORDS_MAX,
                               &records);
                c->collector_batch_records = (unsigned) records;
        }
        return ok;
}

static bool parse_patterns(Ctx *x, const YNode *n, AgentConf *c) {
        if (!expect_type(x, n, YNODE_SEQUENCE, "removable-media"))
                return false;
        if (n->n_items > AGENT_CONF_MAX_PATTERNS) {
                report(x, at(n), "removable-media has %zu entries, at most %d are allowed", n->n_items,
                       AGENT_CONF_MAX_PATTERNS);
                return false;
        }
        bool ok = true;
        for (size_t i = 0; i < n->n_items; i++) {
                char *s;
                if (!get_text(x, n->items[i], "a device name pattern", 64, true, &s)) {
                        ok = false;
                        continue;
                }
                c->removable_patterns[c->n_removable_patterns++] = s;
        }
        return ok;
}

static bool parse_print(Ctx *x, const YNode *n, AgentConf *c) {
        static const char *const keys[] = { "auto-wrap" };
        const YNode *v[ELEMENTSOF(keys)];
        if (!expect_type(x, n, YNODE_MAPPING, "print"))
                return false;
        bool ok = walk_map(x, n, "print", keys, ELEMENTSOF(keys), v);
        if (v[0])
                ok &= get_bool(x, v[0], "print.auto-wrap", &c->print_auto_wrap);
        return ok;
}

int agent_conf_parse(const char *data, size_t size, AgentConf *ret, PolicyDiagnostics *diags) {
        static const char *const keys[] = { "journal", "collector", "removable-media", "print" };
        const YNode *v[ELEMENTSOF(keys)];
        Ctx x = { .diags = diags };
        YNode *root = NULL;
        YTreeError err = {};
        AgentConf c;

        *diags = (PolicyDiagnostics) {};
        agent_conf_defaults(&c);
        if (!utf8_is_valid(data, size, NULL)) {
                report(&x, 0, 0, "not UTF-8 text");
                return -EINVAL;
        }
        int r = ytree_parse(data, size, 4, 1024, &root, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                report(&x, err.line, err.column, "%s", err.message);
                return -EINVAL;
        }
        bool ok = true;
        if (root && !(root->type == YNODE_SCALAR && root->length == 0)) {
                ok = expect_type(&x, root, YNODE_MAPPING, "agent.conf") &&
                     walk_map(&x, root, "agent.conf", keys, ELEMENTSOF(keys), v);
                if (ok || root->type == YNODE_MAPPING) {
                        if (v[0])
                                ok &= parse_journal(&x, v[0], &c);
                        if (v[1])
                                ok &= parse_collector(&x, v[1], &c);
                        if (v[2])
                                ok &= parse_patterns(&x, v[2], &c);
                        if (v[3])
                                ok &= parse_print(&x, v[3], &c);
                }
        }
        ytree_free(root);
        if (x.oom) {
                agent_conf_clear(&c);
                return -ENOMEM;
        }
        if (!ok || diags->n > 0) {
                agent_conf_clear(&c);
                return -EINVAL;
        }
        *ret = c;
        return 0;
}

int agent_conf_load(const char *config_dir, FILE *err, AgentConf *ret) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        size_t size;
        if (asprintf(&path, "%s/" AGENT_CONF_FILE, config_dir) < 0)
                return -ENOMEM;
        int r = read_full_file(path, AGENT_CONF_MAX_SIZE, &data, &size);
        if (r == -ENOENT) {
                agent_conf_defaults(ret);
                return 0;
        }
        if (r < 0) {
                fprintf(err, "%s: error: cannot read: %s\n", path, strerror(-r));
                return r;
        }
        PolicyDiagnostics d;
        r = agent_conf_parse(data, size, ret, &d);
        if (r == -EINVAL)
                policy_print_diagnostics(err, path, &d);
        policy_diagnostics_clear(&d);
        return r;
}
