/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Temporary exceptions (持ち出し申請): a signed ticket lets one device on one host be used with a given
 * access for a time window, once (docs/exceptions.md).
 *
 * Ticket file: one line of JSON, then the signature block of sign.h (context "ticket") over exactly that
 * line's bytes (without its newline):
 *   {"mnguard-ticket":1,"id":"…16 hex…","host_id":"…32 hex…","device":{"vendor":"0781","product":"5581",
 *    "serial":"…"},"access":"read-only","not_before":"2026-11-26T09:00:00+09:00",
 *    "not_after":"2026-11-26T17:00:00+09:00","reason":"申請 #123"}
 * Pure parsing and matching; the daemon does I/O and time. */

#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "policy.h"
#include "sign.h"

#define EXCEPTION_MAX_ACTIVE 64
#define EXCEPTION_MAX_FILE (32 * 1024)
#define EXCEPTION_ID_HEX 16

typedef struct Exception {
        char id[EXCEPTION_ID_HEX + 1];
        char host_id[33];
        uint16_t vendor, product;
        char *serial;
        MediaAccess access;
        uint64_t not_before_usec, not_after_usec;
        char *reason;
        char keyid[SIGN_KEYID_HEX + 1];
        char rule[sizeof("exception:") + EXCEPTION_ID_HEX]; /* the rule name in events */
        bool seen;  /* the device has been present while the exception was active */
} Exception;

void exception_clear(Exception *e);

/* Parses and verifies a ticket file's bytes. Returns 0, -EKEYREJECTED/-ENOKEY (signature),
 * -EBADMSG (malformed; *ret_reason says what). */
int exception_parse(const char *data, size_t n, const SignPublicKey *trusted, size_t n_trusted, Exception *ret,
                    const char **ret_reason);

/* Whether the exception covers device d. */
bool exception_matches(const Exception *e, const MnDevice *d);

/* Builds a ticket's JSON line (for mnguard-policy ticket). */
int exception_format(const Exception *e, char **ret);
