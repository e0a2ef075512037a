/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* One-pass check that a record line is canonical JSON, picking out the members ingest needs. A fast path:
 * -EINVAL means "not proven canonical here", and the caller falls back to the full parser. */

#include <stdbool.h>
#include <stddef.h>

#include "storage.h"

typedef struct ScanSpan {
        const char *p;          /* string contents without the quotes (no escapes in them), or number text */
        size_t n;
} ScanSpan;

enum {
        SCAN_TIMESTAMP = 1, SCAN_SEQUENCE, SCAN_ACTION, SCAN_HOST_ID, SCAN_HOST_NAME, SCAN_USER_NAME,
        SCAN_SERIAL, SCAN_VENDOR, SCAN_PRODUCT, SCAN_PREV_HASH, SCAN_HASH, SCAN_POLICY_SERIAL, SCAN_VERSION, _SCAN_MAX,
};

typedef struct ScanFields {
        ScanSpan values[_SCAN_MAX];     /* p == NULL when absent */
        const char *hash_member;        /* "hash":"…" inside mnguard */
        size_t hash_member_len;
        bool hash_comma_before;
} ScanFields;

int record_scan(const char *line, size_t len, ScanFields *ret);

/* The fast path of record_parse(): the line scanned, checked and turned into a record. -EAGAIN when the
 * line is not proven canonical here or a member is missing or odd: the caller's full parser then decides
 * and explains. */
int record_parse_fast(const char *line, size_t len, IngestRecord *ret, char *ret_host_id, char **ret_host_name);
