/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Between batch.c (parsing) and batch-stream.c (a batch parsed in pieces while it is stored). */

#include "batch.h"

/* One piece of a batch, parsed by one thread. */
typedef struct Chunk {
        const char *p, *end;
        unsigned first_line;            /* line number of p, 1-based */
        const char *host_id;
        IngestBatch b;
        size_t cap;
        BatchError err;
        int r;
} Chunk;

/* Parses the lines of c (c->r is not set). 0, or -EBADMSG / -EPERM / -E2BIG with c->err, -ENOMEM. */
int batch_chunk_parse(Chunk *c);
/* Splits body at line boundaries into n chunks of about equal size. */
void batch_chunks_split(const char *body, size_t len, const char *host_id, Chunk *chunks, unsigned n_chunks);
/* Joins parsed chunks (in order) into one batch sorted by sequence: the first error by line number wins, as
 * in one pass. The chunks' records move into the batch (or are freed). */
int batch_chunks_merge(Chunk *chunks, unsigned n_chunks, IngestBatch *ret, BatchError *err);
