/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The batches of journal records the reporter sends (reporter.c): read on the event loop, handed to the
 * reporter thread. Declared here for the fault-injection test (tests/fault/test-fault-reporter.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

typedef struct ReporterBatch {
        char *data;             /* NDJSON, one record a line */
        size_t size, alloc;
        size_t n;               /* records in data */
        uint64_t last_sequence; /* the last record examined (records of another host are passed over) */
        uint64_t last_own;      /* the last record in data (0: none) */
        bool full;              /* the batch bounds ended it: more records may follow at once */
} ReporterBatch;

/* Reads up to the batch bounds (max_records, REPORTER_BATCH_MAX_BYTES) of records after `after`, in sequence order, appending to b (b->data is
 * kept and reused; the caller frees it). Returns 1 when records were examined, 0 when there are none yet,
 * or -errno (then b holds nothing that can be sent). */
int reporter_read_batch(Journal *j, const char *host_id, uint64_t after, unsigned max_records, ReporterBatch *b);
