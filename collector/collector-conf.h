/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The collector's settings: defaults, a YAML file (collector.conf, a flat mapping), and command-line flags
 * on top. docs/collector.md "Configuration". */

#include <stdbool.h>

#include "server.h"

#define COLLECTOR_DIR_DEFAULT "/var/lib/mnguard-collector"
#define COLLECTOR_CONF_DEFAULT "/etc/mnguard/collector.conf"
#define COLLECTOR_LISTEN_DEFAULT "0.0.0.0:8443"
#define COLLECTOR_DB_FILE "collector.db"
#ifndef COLLECTOR_CONSOLE_DIR_DEFAULT
#define COLLECTOR_CONSOLE_DIR_DEFAULT "/usr/share/mnguard/console"
#endif
#define COLLECTOR_CONF_MAX_SIZE (64u * 1024u)

typedef struct CollectorConf {
        char *listen;
        char *dir;
        char *storage;                  /* NULL: sqlite:DIR/collector.db */
        unsigned threads;               /* 0: eight per CPU, 8-32 */
        unsigned connection_limit;
        unsigned per_ip_limit;
        unsigned idle_timeout_sec;
        unsigned request_timeout_sec;
        unsigned cert_days;
        char *console_dir;              /* NULL: COLLECTOR_CONSOLE_DIR_DEFAULT; "": no console pages */
} CollectorConf;

void collector_conf_defaults(CollectorConf *c);
void collector_conf_clear(CollectorConf *c);

/* Reads a YAML file of "key: value" lines over c. Problems are printed as FILE:LINE:COLUMN: error: … on
 * stderr; -EINVAL then. */
int collector_conf_load(const char *path, CollectorConf *c);

/* Sets one setting by its name (the YAML key, or the flag without "--"). -ENOENT unknown key, -EINVAL bad
 * value. */
int collector_conf_set(CollectorConf *c, const char *key, const char *value);

/* The storage spec: the configured one, or sqlite:DIR/collector.db. */
int collector_conf_storage(const CollectorConf *c, char **ret);

/* Fills a ServerConfig that points into c. */
void collector_conf_server(const CollectorConf *c, ServerConfig *ret);
