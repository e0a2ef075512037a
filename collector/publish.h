/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Publishing policies and queueing exception tickets (issue 7), shared by `mnguard-collector policy publish`,
 * `ticket queue` and their HTTP endpoints. The collector checks what it is given (a valid policy, a signature
 * by a key in DIR/policy-signing.pub, a serial above the group's) so that a mistake is refused at once; the
 * terminals check everything again with their own keys: the collector is not trusted with the decision. */

#include <stddef.h>

#include "sign.h"
#include "storage.h"

#define COLLECTOR_TRUST_FILE "policy-signing.pub"
#define PUBLISH_TICKETS_PER_POLL 64     /* tickets handed to a terminal in one reply at most */

typedef struct PublishError {
        unsigned status;                /* HTTP status: 400, 409, 503, 500 */
        const char *code;               /* "bad-policy", "bad-signature", "stale-serial", … */
        unsigned line, column;          /* position in the policy for bad-policy, else 0 */
        char detail[256];               /* bad-policy: the problem without its position */
        char message[512];
} PublishError;

/* Reads DIR/policy-signing.pub. -ENOENT when missing (publishing is then refused). */
int publish_load_trusted(const char *dir, SignPublicKey **ret, size_t *ret_n);

/* Checks policy bytes and signature text and stores them as the group's newest policy. by: the operator. */
int publish_policy(Storage *s, const SignPublicKey *trusted, size_t n_trusted, const char *group, const char *data,
                   size_t size, const char *sig, size_t sig_size, const char *by, PolicyRecord *ret, PublishError *err);

/* Checks a ticket file (signature, form) and queues it for the host it names. */
int publish_ticket(Storage *s, const SignPublicKey *trusted, size_t n_trusted, const char *data, size_t size,
                   const char *by, TicketRecord *ret, PublishError *err);
