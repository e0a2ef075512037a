/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Policy and exception tickets from the collector (docs/daemon.md "Policy delivery", docs/collector-api.md
 * "GET /v1/policy"). A worker thread long-polls the collector with the reporter's client credentials
 * (libcurl easy, its own connection) and decodes the replies; the event loop hands what came to
 * manager_offer_policy() and manager_import_exception(), which check signatures, serials and host ids
 * themselves: the collector is not trusted with any decision. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define POLICY_FETCH_WAIT_SEC       55                           /* how long the collector may hold a request */
#define POLICY_FETCH_TIMEOUT_SEC    (POLICY_FETCH_WAIT_SEC + 30) /* the whole request, held time included */
#define POLICY_FETCH_REPLY_MAX      (8U * 1024U * 1024U)         /* a larger reply is refused */
#define POLICY_FETCH_TICKETS_MAX    256                          /* taken from one reply; the rest come next */
#define POLICY_FETCH_QUICK_USEC     (1000ULL * 1000ULL)          /* an empty reply sooner than this backs off */
#define POLICY_FETCH_ENROLL_WAIT_MAX_USEC (30ULL * 1000ULL * 1000ULL) /* re-checks for the reporter's enrollment */
#define POLICY_FETCH_STATE_FILE     "collector-policy-fetch.json" /* STATE/: tickets_after, per host and URL */
#define POLICY_FETCH_STATE_MAX      4096
#define POLICY_FETCH_ERROR_MAX      256

struct Manager;
typedef struct PolicyFetch PolicyFetch;

/* Starts fetching when agent.conf names a collector (url and ca); 0 with *ret NULL when it does not. The
 * manager's policy must be loaded: its serial is the first one sent. */
int policy_fetch_new(struct Manager *m, PolicyFetch **ret);

/* Stops the thread (a held request is aborted within a second), frees. */
PolicyFetch *policy_fetch_free(PolicyFetch *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(PolicyFetch *, policy_fetch_free);

/* ---- the reply of GET /v1/policy, decoded (policy-fetch-reply.c; pure, for tests too) ---- */

typedef struct PolicyFetchTicket {
        uint64_t id;                    /* the collector's queue id; 0 when the entry had none */
        char *data;                     /* decoded ticket bytes (NUL-terminated); NULL when bad */
        size_t size;
        const char *error;              /* why data is NULL (static string) */
} PolicyFetchTicket;

typedef struct PolicyFetchReply {
        uint64_t group_serial;          /* "serial": the group's current serial */
        bool has_policy;
        uint64_t policy_serial;         /* "policy.serial", else group_serial: what a refusal skips */
        char *policy, *signature;       /* decoded (NUL-terminated); NULL when the policy is not usable */
        size_t policy_size, signature_size;
        const char *policy_error;       /* why policy is NULL (static string) */
        PolicyFetchTicket *tickets;     /* in id order, at most POLICY_FETCH_TICKETS_MAX */
        size_t n_tickets;
        uint64_t tickets_after;         /* what to send next: never below what was sent */
} PolicyFetchReply;

/* Decodes a 200 reply's body. tickets_after_sent: what the request sent. A reply that is not the
 * documented object (not JSON, "serial" missing, "tickets" not an array, …) is refused: -EBADMSG and
 * *ret_error (static string). A policy or ticket whose fields cannot be decoded is kept as an entry with
 * its error, so that its refusal is recorded. -ENOMEM on allocation failure. */
int policy_fetch_reply_parse(const char *body, size_t size, uint64_t tickets_after_sent, PolicyFetchReply *ret,
                             const char **ret_error);
void policy_fetch_reply_clear(PolicyFetchReply *r);
