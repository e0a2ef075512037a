/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The HTTPS server (libmicrohttpd with GnuTLS): listener, limits, per-connection client certificate
 * verification, the route table and the request/response plumbing. The endpoints live in api-*.c.
 * docs/collector-api.md is the contract. */

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ca.h"
#include "sign.h"
#include "storage.h"

#define SERVER_THREADS_MAX 64
#define SERVER_CONNECTIONS_DEFAULT 4096
#define SERVER_CONNECTIONS_MAX 65536
#define SERVER_IDLE_TIMEOUT_DEFAULT_SEC 60      /* no bytes from a client for this long: closed */
#define SERVER_REQUEST_TIMEOUT_DEFAULT_SEC 120  /* one request (headers to last body byte) at most this long */
#define SERVER_CONNECTION_MEMORY (128u * 1024u) /* MHD's per-connection buffer (headers) */
#define SERVER_QUERY_ARG_MAX 512                /* one query-string argument */
#define ENROLL_BODY_MAX (32u * 1024u)
#define RESPONSE_PAGE_BYTES_MAX (16u * 1024u * 1024u)   /* one page of query results */
#define QUERY_PAGE_DEFAULT 1000u
#define QUERY_PAGE_MAX 10000u
#define RETRY_AFTER_SEC "5"
#define POLICY_WAIT_MAX_SEC 60                  /* GET /v1/policy?wait= at most */
#define SERVER_WATCH_INTERVAL_USEC 250000u      /* how often the database is asked for new policies and tickets
                                                 * (publishes by other collectors or by the CLI) */
#define SERVER_SUSPENDED 1                      /* a handler's return: the request waits (server_wait()) */

typedef struct ServerConfig {
        const char *listen;             /* "ADDRESS:PORT", "[v6]:PORT"; PORT 0 picks one */
        const char *dir;                /* ca.crt, ca.key, server.crt, server.key */
        unsigned threads;
        unsigned connection_limit;
        unsigned per_ip_limit;          /* 0: none (terminals behind NAT share an address) */
        unsigned idle_timeout_sec;
        unsigned request_timeout_sec;
        unsigned cert_days;             /* validity of certificates issued at enrollment */
        const char *console_dir;        /* the console's static files (docs/console.md); NULL: none */
} ServerConfig;

typedef struct Server Server;

typedef enum RouteAuth {
        AUTH_NONE,              /* enrollment only */
        AUTH_HOST,              /* an enrolled terminal's certificate */
        AUTH_OPERATOR,          /* an operator's certificate (auditor or admin) */
        AUTH_ANY,               /* either */
        AUTH_ADMIN,             /* an operator with role admin (publishing) */
} RouteAuth;

/* Who the client is, from its verified certificate and the certs table. */
typedef struct Peer {
        bool authenticated;
        CertKind kind;
        char subject[OPERATOR_NAME_MAX + 1];    /* host id or operator name */
        OperatorRole role;
        char group[GROUP_NAME_MAX + 1];
        char serial[CERT_SERIAL_HEX_MAX];
        bool session;                   /* an operator signed in to the console (a session cookie, no certificate) */
        char csrf[65];                  /* that session's token for state-changing requests */
} Peer;

/* What a handler answers. body is owned (freed after sending). */
typedef struct Reply {
        unsigned status;
        const char *content_type;
        char *body;
        size_t body_len;
        char next[128];                 /* Mnguard-Next-After header (paging), "" when none */
        bool retry_after;               /* 503: Retry-After */
        const char *allow;              /* 405: Allow */
        const char *location;           /* Location (redirects) */
        const char *csp;                /* Content-Security-Policy; NULL: the API's (nothing may load) */
        char set_cookie[192];           /* Set-Cookie, "" when none */
        char disposition[160];          /* Content-Disposition, "" when none */
        uint64_t records;               /* records or rows answered, for the access log (0: counted from NDJSON) */
} Reply;

typedef struct Request {
        struct MHD_Connection *connection;
        const char *url;
        const Peer *peer;
        const char *body;               /* the whole body (decompressed), NUL-terminated */
        size_t body_len;
        uint64_t started_usec;
        struct Waiter *waiter;          /* long-poll state of this request (server_wait()) */
} Request;

typedef int (*RouteHandler)(Server *srv, const Request *req, Reply *reply);

/* Context the API handlers need. */
typedef struct Console Console;
Storage *server_storage(Server *srv);
Console *server_console(Server *srv);
Ca *server_ca(Server *srv);
const ServerConfig *server_config(Server *srv);

int server_start(const ServerConfig *c, Storage *storage, Ca *ca, Server **ret);
/* The port actually bound (for "PORT 0"). */
uint16_t server_port(Server *srv);
/* The policy signing keys the collector trusts (DIR/policy-signing.pub; none when the file is missing). */
const SignPublicKey *server_trusted_keys(Server *srv, size_t *ret_n);

/* ---- long-poll (GET /v1/policy) ----
 * A handler calls server_wait_begin() first (sets the request's deadline on its first run, returns the
 * current generation), reads the database, and when there is nothing new calls server_wait(): the request
 * is suspended until the group has a newer serial, a new ticket is queued, or the deadline passes, and the
 * handler runs again then. server_wait() returns SERVER_SUSPENDED (return it), 0 (answer now: deadline
 * passed or the collector is stopping) or -EAGAIN (something changed since the generation: read again). */
uint64_t server_wait_begin(Server *srv, const Request *req, unsigned wait_sec);
int server_wait(Server *srv, const Request *req, uint64_t generation, const char *group, uint64_t serial);
/* A policy was published or a ticket queued through this collector: wake the waiters at once. */
void server_published(Server *srv);
void server_stop(Server *srv);

/* ---- reply helpers (server-reply.c) ---- */

/* {"error":code,"message":message[,"line":line]} with status. */
void reply_error(Reply *r, unsigned status, const char *code, unsigned line, const char *fmt, ...) _printf_(5, 6);
/* Maps a storage error to 503 (transient) or 500. */
void reply_storage_error(Reply *r, int error);
/* Takes a json-c object as the body (application/json). */
struct json_object;
void reply_json(Reply *r, unsigned status, struct json_object *o);

/* ---- the endpoints (api-*.c) ---- */

int api_enroll(Server *srv, const Request *req, Reply *reply);
int api_ingest(Server *srv, const Request *req, Reply *reply);
int api_events(Server *srv, const Request *req, Reply *reply);
int api_hosts(Server *srv, const Request *req, Reply *reply);
int api_alerts(Server *srv, const Request *req, Reply *reply);
int api_health(Server *srv, const Request *req, Reply *reply);
int api_policy_get(Server *srv, const Request *req, Reply *reply);
int api_policy_publish(Server *srv, const Request *req, Reply *reply);
int api_policies(Server *srv, const Request *req, Reply *reply);
int api_ticket_queue(Server *srv, const Request *req, Reply *reply);

uint64_t now_realtime_usec(void);
