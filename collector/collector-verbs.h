/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* mnguard-collector's verbs. Each returns the process exit status. */

#include <getopt.h>
#include <stddef.h>

#include "collector-conf.h"
#include "storage.h"

#define EXIT_USAGE 1    /* bad arguments or configuration */
#define EXIT_RUNTIME 2  /* the system or the database did not let us */

#define SETTINGS_FLAGS_MAX 32

/* Settings given on the command line, applied over the configuration file. */
typedef struct Settings {
        const char *config;             /* --config FILE (else COLLECTOR_CONF_DEFAULT when it exists) */
        const char *keys[SETTINGS_FLAGS_MAX];
        const char *values[SETTINGS_FLAGS_MAX];
        size_t n;
} Settings;

/* Options every verb takes: --config, --dir, --storage. */
enum {
        OPT_CONFIG = 0x1000,
        OPT_DIR,
        OPT_STORAGE,
        OPT_VERB_FIRST = 0x1100,
};
#define COMMON_OPTIONS                                                          \
        { "config", required_argument, NULL, OPT_CONFIG },                      \
        { "dir", required_argument, NULL, OPT_DIR },                            \
        { "storage", required_argument, NULL, OPT_STORAGE },                    \
        { "help", no_argument, NULL, 'h' }
#define COMMON_HELP                                                                              \
        "  --config FILE         settings file (default " COLLECTOR_CONF_DEFAULT " if present)\n"  \
        "  --dir DIR             collector directory: CA, server certificate, SQLite database\n"   \
        "                        (default " COLLECTOR_DIR_DEFAULT ")\n"                           \
        "  --storage SPEC        sqlite:PATH (default DIR/" COLLECTOR_DB_FILE ") or postgresql:CONNINFO\n"

/* Handles a common option; 1 when it was one, 0 when not, < 0 on error. */
int settings_option(Settings *s, int opt, const char *arg);
int settings_add(Settings *s, const char *key, const char *value);
/* Loads the configuration file and applies the flags; prints errors. */
int settings_resolve(const Settings *s, const char *verb, CollectorConf *ret);
/* Opens the configured storage, explaining failures on stderr. */
int open_storage(const CollectorConf *c, const char *verb, unsigned n_connections, Storage **ret);

/* Parses "30m", "24h", "7d", "2w", "3600s". */
int parse_duration_usec(const char *s, uint64_t *ret);

int verb_serve(int argc, char *argv[]);
int verb_init_ca(int argc, char *argv[]);
int verb_enroll_token(int argc, char *argv[]);
int verb_operator_cert(int argc, char *argv[]);
int verb_issue_host_cert(int argc, char *argv[]);
int verb_revoke(int argc, char *argv[]);
int verb_hosts(int argc, char *argv[]);
int verb_query(int argc, char *argv[]);
int verb_alerts(int argc, char *argv[]);
int verb_operator(int argc, char *argv[]);
int verb_policy(int argc, char *argv[]);
int verb_ticket(int argc, char *argv[]);
int verb_assign_group(int argc, char *argv[]);
