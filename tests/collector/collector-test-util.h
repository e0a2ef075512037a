/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by the collector's tests and benchmarks: realistic events and chained records. */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "storage.h"

/* An event as mnguardd builds it (device-blocked, device-connected, …); i varies the action, user and
 * device. Without event.sequence and the mnguard hashes (the journal or ct_chain_next() adds them). */
json_object *ct_event(const char *host_id, const char *host_name, unsigned i, uint64_t ts_usec);

/* Builds chained records in memory exactly as the journal does (canonical JSON, SHA-256 chain), without a
 * journal database: fast enough for benchmarks with millions of records. */
typedef struct CtChain {
        char host_id[HOST_ID_LEN + 1];
        char host_name[32];
        uint64_t next_sequence;
        char prev_hex[65];
} CtChain;

void ct_chain_init(CtChain *c, const char *host_id, const char *host_name);
/* The next record (canonical JSON with mnguard.hash), malloc'd. */
int ct_chain_next(CtChain *c, unsigned i, uint64_t ts_usec, char **ret, size_t *ret_len);
/* A host id from a number: 32 hex digits. */
void ct_host_id(unsigned n, char out[static HOST_ID_LEN + 1]);
