/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "collector-conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "strutil.h"
#include "yaml-tree.h"

#define CONF_DEPTH_MAX 4
#define CONF_SCALAR_MAX 4096

void collector_conf_defaults(CollectorConf *c) {
        *c = (CollectorConf) {
                .connection_limit = SERVER_CONNECTIONS_DEFAULT,
                .idle_timeout_sec = SERVER_IDLE_TIMEOUT_DEFAULT_SEC,
                .request_timeout_sec = SERVER_REQUEST_TIMEOUT_DEFAULT_SEC,
                .cert_days = HOST_CERT_VALIDITY_DAYS_DEFAULT,
        };
}

void collector_conf_clear(CollectorConf *c) {
        free(c->listen);
        free(c->dir);
        free(c->storage);
        free(c->console_dir);
        *c = (CollectorConf) {};
}

static int set_string(char **field, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        free(*field);
        *field = v;
        return 0;
}

static int set_unsigned(unsigned *field, const char *value, unsigned min, unsigned max) {
        uint64_t v;
        if (parse_u64(value, &v) < 0 || v < min || v > max)
                return -EINVAL;
        *field = (unsigned) v;
        return 0;
}

int collector_conf_set(CollectorConf *c, const char *key, const char *value) {
        if (strlen(value) > CONF_SCALAR_MAX)
                return -EINVAL;
        if (streq(key, "listen"))
                return set_string(&c->listen, value);
        if (streq(key, "dir"))
                return isempty(value) ? -EINVAL : set_string(&c->dir, value);
        if (streq(key, "storage"))
                return strchr(value, ':') ? set_string(&c->storage, value) : -EINVAL;
        if (streq(key, "threads"))
                return set_unsigned(&c->threads, value, 1, SERVER_THREADS_MAX);
        if (streq(key, "connection-limit"))
                return set_unsigned(&c->connection_limit, value, 1, SERVER_CONNECTIONS_MAX);
        if (streq(key, "per-ip-limit"))
                return set_unsigned(&c->per_ip_limit, value, 0, SERVER_CONNECTIONS_MAX);
        if (streq(key, "idle-timeout"))
                return set_unsigned(&c->idle_timeout_sec, value, 1, 3600);
        if (streq(key, "request-timeout"))
                return set_unsigned(&c->request_timeout_sec, value, 1, 3600);
        if (streq(key, "cert-days"))
                return set_unsigned(&c->cert_days, value, 1, CERT_VALIDITY_DAYS_MAX);
        if (streq(key, "console-dir"))
                return set_string(&c->console_dir, value);
        return -ENOENT;
}

int collector_conf_load(const char *path, CollectorConf *c) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        YNode *root = NULL;
        YTreeError err = {};
        int r, bad = 0;

        r = read_full_file(path, COLLECTOR_CONF_MAX_SIZE, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: error: cannot read: %s\n", path, r == -EFBIG ? "file too large" : strerror(-r));
                return r;
        }
        r = ytree_parse(data, size, CONF_DEPTH_MAX, CONF_SCALAR_MAX, &root, &err);
        if (r == -EINVAL) {
                fprintf(stderr, "%s:%u:%u: error: %s\n", path, err.line, err.column, err.message);
                return r;
        }
        if (r < 0)
                return r;
        if (!root)
                return 0;
        if (root->type != YNODE_MAPPING) {
                fprintf(stderr, "%s:%u:%u: error: expected a mapping of settings\n", path, root->line, root->column);
                ytree_free(root);
                return -EINVAL;
        }
        for (size_t i = 0; i < ytree_map_size(root); i++) {
                YNode *k = root->items[2 * i], *v = root->items[2 * i + 1];
                if (v->type != YNODE_SCALAR) {
                        fprintf(stderr, "%s:%u:%u: error: '%s' takes a single value\n", path, v->line, v->column, k->value);
                        bad++;
                        continue;
                }
                r = collector_conf_set(c, k->value, v->value);
                if (r == -ENOENT) {
                        fprintf(stderr, "%s:%u:%u: error: unknown setting '%s' (expected listen, dir, storage, threads, "
                                        "connection-limit, per-ip-limit, idle-timeout, request-timeout, cert-days, console-dir)\n",
                                path, k->line, k->column, k->value);
                        bad++;
                } else if (r < 0) {
                        fprintf(stderr, "%s:%u:%u: error: bad value for '%s'\n", path, v->line, v->column, k->value);
                        bad++;
                }
        }
        ytree_free(root);
        return bad ? -EINVAL : 0;
}

int collector_conf_storage(const CollectorConf *c, char **ret) {
        char *s;
        if (c->storage)
                s = strdup(c->storage);
        else if (asprintf(&s, "sqlite:%s/" COLLECTOR_DB_FILE, c->dir ?: COLLECTOR_DIR_DEFAULT) < 0)
                s = NULL;
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

void collector_conf_server(const CollectorConf *c, ServerConfig *ret) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        /* many more threads than CPUs: a worker waits for the database (a group commit, PostgreSQL round
         * trips) while others parse and handshake; and the size of an SQLite commit group is bounded by
         * the workers waiting (measured: 4 workers saturated at ~800 requests/s with 5 ms commits) */
        unsigned threads = c->threads ?: (unsigned) (cpus < 1 ? 8 : cpus > 4 ? 32 : 8 * cpus);
        *ret = (ServerConfig) {
                .listen = c->listen ?: COLLECTOR_LISTEN_DEFAULT,
                .dir = c->dir ?: COLLECTOR_DIR_DEFAULT,
                .threads = threads,
                .connection_limit = c->connection_limit,
                .per_ip_limit = c->per_ip_limit,
                .idle_timeout_sec = c->idle_timeout_sec,
                .request_timeout_sec = c->request_timeout_sec,
                .cert_days = c->cert_days,
                .console_dir = c->console_dir ?: COLLECTOR_CONSOLE_DIR_DEFAULT,
        };
}
