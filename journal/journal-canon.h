/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Canonical JSON (docs/journal.md): writing it from json-c objects, and reading the few members the
 * journal needs straight out of canonical text without a full parse. Internal to the journal. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

/* A growable byte buffer with a hard maximum. */
typedef struct Buf {
        char *data;
        size_t len, cap, max;
} Buf;

void buf_init(Buf *b, size_t max);
void buf_done(Buf *b);
int buf_append(Buf *b, const void *p, size_t n);
int buf_putc(Buf *b, char c);
/* Keeps the allocation, forgets the contents. */
static inline void buf_reset(Buf *b) {
        b->len = 0;
}
/* Makes data NUL-terminated (not counted in len). */
int buf_terminate(Buf *b);

/* Appends the canonical JSON of o. -EINVAL for floating-point numbers, invalid UTF-8 or too deep
 * nesting, -E2BIG for too many keys, -EMSGSIZE when b->max would be exceeded. */
int canon_write(Buf *b, json_object *o);
/* Appends s as a JSON string literal (escaping as canonical JSON does). */
int canon_write_string(Buf *b, const char *s, size_t n);

/* A piece of canonical text. For strings, the bytes between the quotes (still escaped). */
typedef struct Span {
        const char *p;
        size_t n;
} Span;

/* The members of a record the journal reads without json-c. Absent members have p == NULL. */
typedef struct RecordFields {
        Span timestamp;         /* "@timestamp" (string) */
        Span action;            /* event.action (string) */
        Span sequence;          /* event.sequence (number text) */
        Span prev_hash;         /* mnguard.prev_hash (string) */
        Span anchor;            /* mnguard.anchor (object text) */
        Span mnguard;           /* mnguard (object text, including braces) */
        Span user;              /* user.name (string) */
        Span serial;            /* device.serial (string) */
        Span vendor, product;   /* device.vendor, device.product (strings) */
        Span host_id;           /* host.id (string) */
} RecordFields;

/* Scans canonical record text (a top-level object, no whitespace) once. -EBADMSG when it is not
 * well-formed enough to find the members (a wrong type for a member counts as absent). */
int canon_scan_record(const char *json, size_t len, RecordFields *ret);

/* Unescapes a JSON string span into out (NUL-terminated). -EBADMSG for a bad escape or invalid UTF-8,
 * -ENOBUFS when it does not fit in outmax bytes (with the NUL). */
int canon_unescape(Span s, char *out, size_t outmax, size_t *ret_len);

/* Whether span holds a plain unsigned decimal integer, and its value. */
int canon_parse_u64(Span s, uint64_t *ret);

/* The record with "hash":"<hex>" inserted into its mnguard object at its sorted place (mnguard's direct
 * keys are [a-z0-9_], so escaped and raw order agree). Appends to out. */
int canon_splice_hash(const char *body, size_t len, const RecordFields *f, const char hash_hex[static 65], Buf *out);

/* Whether key is allowed directly inside "mnguard": [a-z0-9_]+ */
bool canon_mnguard_key_ok(const char *key);

void hex_encode(const uint8_t *p, size_t n, char *out /* 2n+1 */);
int hex_decode32(const char *s, size_t n, uint8_t out[static 32]);

/* sha256(prev_hex || body) */
void record_hash(const char prev_hex[static 64], const char *body, size_t len, uint8_t out[static 32]);
