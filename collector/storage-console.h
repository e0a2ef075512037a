/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the responder console (issue 12, docs/console.md) keeps in the collector's database, beside the
 * storage interface of storage.h and in the same database: operator accounts (argon2id password hashes),
 * browser sessions (only the SHA-256 of each session token), the access log (who looked at what, when),
 * and the paged, sorted host list the console shows.
 *
 * A second vtable rather than more members of StorageOps: the console is one feature on top of the
 * collector's storage and each backend implements it in its own file (storage-sqlite-console.c,
 * storage-pg-console.c). storage_console() finds the backend's table.
 *
 * Like storage.h: thread-safe, no logging, 0 (or a count) or a negative errno. */

#include <stdbool.h>
#include <stdint.h>

#include "storage.h"

#define OPERATOR_PWHASH_MAX 128         /* crypto_pwhash_STRBYTES, NUL included */
#define CONSOLE_CSRF_HEX 64             /* 32 random bytes */
#define ACCESS_AUTH_MAX 16
#define ACCESS_REMOTE_MAX 48            /* an IPv6 address as text */
#define ACCESS_METHOD_MAX 8
#define ACCESS_PATH_MAX 64
#define ACCESS_QUERY_MAX 512            /* the query string kept, URL-encoded, cut to this */
#define ACCESS_LIST_MAX 1000u
#define CONSOLE_HOSTS_PAGE_MAX 500u
#define CONSOLE_SERIALS_MAX 4096u       /* (group, serial) pairs listed on the policies page */

typedef struct OperatorAccount {
        char name[OPERATOR_NAME_MAX + 1];
        OperatorRole role;
        char pwhash[OPERATOR_PWHASH_MAX];       /* crypto_pwhash_str() output ("$argon2id$…") */
        uint64_t created_usec, changed_usec, last_login_usec;
        uint32_t failures;                      /* failed logins since the last success */
        uint64_t locked_until_usec;             /* no login before this */
} OperatorAccount;

typedef int (*OperatorFunc)(const OperatorAccount *a, void *userdata);

typedef struct ConsoleSession {
        uint8_t token_hash[SHA256_SIZE];        /* SHA-256 of the cookie's token; the token is never stored */
        char operator_name[OPERATOR_NAME_MAX + 1];
        OperatorRole role;                      /* the account's role now (read with the session) */
        char csrf[CONSOLE_CSRF_HEX + 1];        /* sent back in X-CSRF-Token on state-changing requests */
        char remote[ACCESS_REMOTE_MAX];
        uint64_t created_usec, expires_usec, last_used_usec;
} ConsoleSession;

/* One line of the access log. Strings are bounded and were checked (or URL-encoded) before. */
typedef struct AccessEntry {
        int64_t id;
        uint64_t time_usec;
        char operator_name[OPERATOR_NAME_MAX + 1];
        char auth[ACCESS_AUTH_MAX];             /* "session", "certificate", "password" (a login attempt) */
        char remote[ACCESS_REMOTE_MAX];
        char method[ACCESS_METHOD_MAX];
        char path[ACCESS_PATH_MAX];
        char host_id[HOST_ID_LEN + 1];          /* the host whose history was asked for; "" when none */
        char query[ACCESS_QUERY_MAX + 1];
        unsigned status;
        uint64_t records;                       /* records or rows answered */
} AccessEntry;

typedef int (*AccessFunc)(const AccessEntry *e, void *userdata);

typedef struct AccessQuery {
        const char *operator_name;              /* NULL: all */
        const char *host_id;                    /* NULL: all */
        int64_t before_id;                      /* paging: entries with a smaller id; 0: from the newest */
        uint64_t limit;
} AccessQuery;

typedef enum ConsoleHostSort {
        CONSOLE_SORT_NAME,
        CONSOLE_SORT_ID,
        CONSOLE_SORT_LAST_SEEN,
        CONSOLE_SORT_VERSION,
        CONSOLE_SORT_SERIAL,
        CONSOLE_SORT_CHAIN,
        CONSOLE_SORT_EVENTS,
        CONSOLE_SORT_RECENT,                    /* events since recent_since_usec */
        _CONSOLE_SORT_MAX,
} ConsoleHostSort;

int console_host_sort_from_string(const char *s, ConsoleHostSort *ret);

typedef struct ConsoleHostQuery {
        const char *host_id;                    /* exactly this host */
        const char *text;                       /* substring of the name or the id (ASCII case-insensitive) */
        const char *group;
        const char *chain;                      /* "empty", "intact", "gap", "broken" */
        const char *version;                    /* agent version, exact */
        bool has_serial;
        uint64_t serial;                        /* policy serial applied, exact */
        uint64_t silent_before_usec;            /* only hosts not seen since (never seen counts); 0: any */
        uint64_t recent_since_usec;             /* start of the "recent events" window (the last 24 h) */
        ConsoleHostSort sort;
        bool descending;
        uint64_t offset, limit;
} ConsoleHostQuery;

typedef struct ConsoleHost {
        HostState state;
        uint64_t events_recent;                 /* events with @timestamp >= recent_since_usec */
} ConsoleHost;

typedef int (*ConsoleHostFunc)(const ConsoleHost *h, void *userdata);

/* How many hosts of a group run a policy serial. */
typedef struct SerialCount {
        char group[GROUP_NAME_MAX + 1];
        uint64_t serial;                        /* 0: none reported yet */
        uint64_t hosts;
        uint64_t last_seen_usec;                /* the most recent last_seen among them */
} SerialCount;

typedef int (*SerialFunc)(const SerialCount *c, void *userdata);

typedef struct StorageConsoleOps {
        /* -EEXIST when the name exists and !replace. replace keeps created_usec and resets the lock. */
        int (*operator_put)(Storage *s, const OperatorAccount *a, bool replace);
        int (*operator_get)(Storage *s, const char *name, OperatorAccount *ret);        /* -ENOENT */
        int (*operators)(Storage *s, OperatorFunc f, void *userdata);
        /* Removes the account and its sessions; the count of accounts removed (0 or 1). */
        int (*operator_remove)(Storage *s, const char *name);
        /* ok: failures = 0, last login now, unlocked. !ok: failures + 1, and when locked_until_usec is
         * not 0 the account is locked until then. Returns the failure count after the update. */
        int (*operator_login_result)(Storage *s, const char *name, bool ok, uint64_t now_usec,
                                     uint64_t locked_until_usec);

        /* Adds a session; an operator's oldest sessions beyond max_per_operator and every expired session
         * (expires_usec <= now) are deleted at the same time. */
        int (*session_add)(Storage *s, const ConsoleSession *cs, unsigned max_per_operator, uint64_t now_usec);
        /* The session with this token hash and its account's role; -ENOENT (also when the account is gone). */
        int (*session_get)(Storage *s, const uint8_t hash[SHA256_SIZE], ConsoleSession *ret);
        int (*session_touch)(Storage *s, const uint8_t hash[SHA256_SIZE], uint64_t now_usec);
        int (*session_remove)(Storage *s, const uint8_t hash[SHA256_SIZE]);

        int (*access_add)(Storage *s, const AccessEntry *e);
        /* Newest first. */
        int (*access_list)(Storage *s, const AccessQuery *q, AccessFunc f, void *userdata);

        /* One page of hosts; *ret_total: how many match the filters. */
        int (*hosts)(Storage *s, const ConsoleHostQuery *q, ConsoleHostFunc f, void *userdata, uint64_t *ret_total);
        /* (group, policy serial) → hosts, by group then serial descending. */
        int (*serials)(Storage *s, SerialFunc f, void *userdata);
        /* One host's records with from <= sequence <= to, ascending by sequence (an evidence export). */
        int (*events_span)(Storage *s, const char *host_id, uint64_t from_sequence, uint64_t to_sequence,
                           EventFunc f, void *userdata);
} StorageConsoleOps;

extern const StorageConsoleOps storage_sqlite_console_ops;
extern const StorageConsoleOps storage_postgresql_console_ops;

/* The console operations of s's backend. */
const StorageConsoleOps *storage_console(Storage *s);

/* ---- shared by the backends (storage-console.c) ---- */

/* The SQL of one page of the console's host list: the same for both backends but for placeholders ("?"
 * or "$n") and case-insensitive matching (LIKE, ILIKE). count: "SELECT count(*)" with the filters only.
 * Parameters are text or numbers as in query-sql.h. */
#define CONSOLE_SQL_MAX 2048
#define CONSOLE_SQL_PARAMS_MAX 16
typedef struct ConsoleSql {
        char sql[CONSOLE_SQL_MAX];
        const char *text[CONSOLE_SQL_PARAMS_MAX];       /* NULL: number */
        int64_t number[CONSOLE_SQL_PARAMS_MAX];
        unsigned n_params;
        char *like;                                     /* owned: the LIKE pattern of q->text */
} ConsoleSql;

int console_sql_hosts(const ConsoleHostQuery *q, bool postgres, bool count, ConsoleSql *ret);
void console_sql_done(ConsoleSql *c);

/* The columns console_sql_hosts() selects, in order; then "recent" (the events since recent_since_usec) when
 * sorting by it, and always for PostgreSQL. */
#define CONSOLE_HOST_COLUMNS "host_id, host_name, grp, enrolled, last_seen, first_seq, contiguous_seq, last_seq, " \
                             "n_events, n_broken, agent_version, policy_serial, chain"
#define CONSOLE_HOST_N_COLUMNS 13
