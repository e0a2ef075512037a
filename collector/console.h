/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The responder console (issue 12, docs/console.md): static files under /console/, operator accounts and
 * browser sessions, the cross-site request checks, the access log, and the console's JSON endpoints under
 * /v1/console/. The server (server.c) calls in at four points: authentication without a client
 * certificate (a session cookie), the cross-site check of state-changing requests, the access log after a
 * handler, and the routes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"
#include "storage-console.h"

#define CONSOLE_FILES_MAX 32
#define CONSOLE_FILE_MAX (1024u * 1024u)        /* one static file */
#define CONSOLE_COOKIE "__Host-mnguard-session"
#define CONSOLE_TOKEN_BYTES 32                  /* session token: 256 random bits */
#define CONSOLE_SESSION_IDLE_USEC (30ull * 60u * 1000000u)      /* unused this long: expired */
#define CONSOLE_SESSION_MAX_USEC (10ull * 3600u * 1000000u)     /* at most this long after login */
#define CONSOLE_SESSION_TOUCH_USEC (60ull * 1000000u)           /* last_used written at most this often */
#define CONSOLE_SESSIONS_PER_OPERATOR 16
#define CONSOLE_LOGIN_BODY_MAX 4096u
#define CONSOLE_PASSWORD_MIN 12u                /* bytes */
#define CONSOLE_PASSWORD_MAX 1024u
#define CONSOLE_PWHASH_PARALLEL 2               /* argon2id verifications at once (64 MiB each) */
/* Failed logins: an account is locked after this many in a row, for 30 s doubling up to 15 min; an
 * address is refused for the rest of a 10-minute window after 20 failures in it. */
#define CONSOLE_LOCK_AFTER 5u
#define CONSOLE_LOCK_BASE_USEC (30ull * 1000000u)
#define CONSOLE_LOCK_MAX_USEC (15ull * 60u * 1000000u)
#define CONSOLE_IP_FAILURES_MAX 20u
#define CONSOLE_IP_WINDOW_USEC (10ull * 60u * 1000000u)
#define CONSOLE_IP_SLOTS 256
#define CONSOLE_EXPORT_RECORDS_MAX 500000u
#define CONSOLE_EXPORT_BYTES_MAX (256u * 1024u * 1024u)
#define CONSOLE_SILENT_DEFAULT_SEC 86400u
#define CONSOLE_RECENT_USEC (24ull * 3600u * 1000000u)

/* Content-Security-Policy of the console's files; API replies get a stricter one (server.c). */
#define CONSOLE_CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " \
                    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

typedef struct Console Console;

/* dir: the console's files (NULL, empty or missing: no pages; the API still works). */
int console_new(const char *dir, Storage *storage, Console **ret);
Console *console_free(Console *c);

/* Authentication by session cookie, for a request without a client certificate on an operator route (need:
 * AUTH_OPERATOR, AUTH_ADMIN or AUTH_ANY). Returns 0 with peer filled; CONSOLE_NO_COOKIE when the request
 * has no session cookie (the caller explains what is missing); else an HTTP status with *code and msg. */
#define CONSOLE_NO_COOKIE 1u
unsigned console_authenticate(Server *srv, struct MHD_Connection *c, RouteAuth need, Peer *peer, const char **code,
                              char *msg, size_t msgsize);

/* Cross-site request checks for methods other than GET and HEAD: an Origin (or Sec-Fetch-Site) naming
 * another site is refused, and a request authenticated by a session must carry the session's token in
 * X-CSRF-Token. Returns 0 or an HTTP status with *code and msg. */
unsigned console_request_check(struct MHD_Connection *c, const char *method, const Peer *peer, const char **code,
                               char *msg, size_t msgsize);

/* Records an operator's request in the access log (after its handler, before the reply goes out). A
 * failure replaces the reply with an error: nothing is answered that was not recorded. */
void console_access_record(Server *srv, struct MHD_Connection *c, const char *method, const char *path,
                           const Peer *peer, Reply *reply);
/* The same for a login attempt (no peer yet). */
int console_access_login(Server *srv, struct MHD_Connection *c, const char *name, unsigned status);

/* The client's address as text. */
void console_remote(struct MHD_Connection *c, char out[static ACCESS_REMOTE_MAX]);

/* A query-string argument: 1 and *ret when present and 1..SERVER_QUERY_ARG_MAX bytes of UTF-8 without
 * control characters; 0 when absent; -EINVAL otherwise. */
int console_arg(struct MHD_Connection *c, const char *name, const char **ret);
/* The same, answering 400 bad-argument in reply and returning true when it is bad. */
bool console_arg_bad(struct MHD_Connection *c, Reply *reply, const char *name, const char **ret);

/* ---- passwords (console-auth.c; also used by the operator verb) ---- */

/* Checks the length rules; hashes with argon2id (libsodium's crypto_pwhash_str, interactive limits). */
int console_password_check(const char *password, size_t len);
int console_password_hash(const char *password, size_t len, char out[static OPERATOR_PWHASH_MAX]);
bool console_operator_name_ok(const char *name);

/* ---- endpoints ---- */

int console_root(Server *srv, const Request *req, Reply *reply);               /* GET / → /console/ */
int console_static(Server *srv, const Request *req, Reply *reply);             /* GET /console/... */
int api_console_login(Server *srv, const Request *req, Reply *reply);
int api_console_logout(Server *srv, const Request *req, Reply *reply);
int api_console_session(Server *srv, const Request *req, Reply *reply);
int api_console_hosts(Server *srv, const Request *req, Reply *reply);
int api_console_serials(Server *srv, const Request *req, Reply *reply);
int api_console_access(Server *srv, const Request *req, Reply *reply);
int api_console_export(Server *srv, const Request *req, Reply *reply);
