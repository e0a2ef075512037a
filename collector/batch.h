/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* An ingest batch: NDJSON records of one host, each checked on its own (docs/collector-api.md "Ingest"):
 * a JSON object in exactly its canonical form (docs/journal.md), host.id the certificate's host, a
 * sequence, a timestamp, an action, mnguard.prev_hash and mnguard.hash. Whether the record hashes to its
 * hash is noted (record.hash_ok), not refused: the chain check keeps and flags such records. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage.h"

#define BATCH_EVENTS_MAX 10000u                         /* records in one batch */
#define BATCH_BODY_MAX (16u * 1024u * 1024u)            /* bytes of NDJSON, after decompression */
#define BATCH_LINE_MAX (64u * 1024u + 1024u)            /* one record line (JOURNAL_EXPORT_LINE_MAX) */
#define BATCH_ERROR_MAX 256
#define BATCH_PARSE_THREADS_MAX 4                       /* threads parsing one big batch */
#define BATCH_PARALLEL_MIN_BYTES (256u * 1024u)         /* smaller batches are parsed on the caller's thread */

#define BATCH_STREAM_MIN_BYTES (128u * 1024u)          /* bodies this big are stored while they are parsed */
#define BATCH_STREAM_PIECE_BYTES (64u * 1024u)          /* the pieces of such a body */
#define BATCH_STREAM_PIECES_MAX 16u

typedef struct IngestBatch {
        IngestRecord *records;          /* sorted by sequence */
        size_t n;
        char *host_name;                /* host.name of the last record that had one, or NULL */
} IngestBatch;

typedef struct BatchError {
        int status;                     /* HTTP status: 400, or 403 for another host's record */
        unsigned line;                  /* 1-based, 0 when not about one line */
        char message[BATCH_ERROR_MAX];  /* English, safe to put into JSON (escaped by the JSON writer) */
} BatchError;

/* Parses body (not NUL-terminated) for host_id. Returns 0, or -EBADMSG / -EPERM (another host) /
 * -E2BIG (too many records) with err filled; -ENOMEM. Nothing is kept on failure. */
int batch_parse(const char *body, size_t len, const char *host_id, IngestBatch *ret, BatchError *err);
void batch_done(IngestBatch *b);

/* Parses one canonical record line (exported for tests and benchmarks). */
int record_parse(const char *line, size_t len, IngestRecord *ret, char *ret_host_id /* HOST_ID_LEN+1 */,
                 char **ret_host_name, char *errbuf, size_t errsize);
/* The same without the one-pass fast path (record-scan.c): json-c and the journal's canonical writer only.
 * For tests that compare the two. */
int record_parse_full(const char *line, size_t len, IngestRecord *ret, char *ret_host_id, char **ret_host_name,
                      char *errbuf, size_t errsize);
void record_done(IngestRecord *r);

/* sha256(prev_hash as 64 hex || body) as the journal computes it. -ENOMEM when GnuTLS could not start one. */
int record_chain_hash(const char prev_hex[static 64], const char *body, size_t len, uint8_t out[static SHA256_SIZE]);
void hash_to_hex(const uint8_t h[static SHA256_SIZE], char out[static 65]);
int hash_from_hex(const char *s, size_t n, uint8_t out[static SHA256_SIZE]);

/* A batch parsed in pieces (IngestPiece, storage.h) by a thread, while the caller stores the pieces before it
 * (storage_ingest_pieces()). The body must stay valid until the stream is freed. -E2BIG above
 * BATCH_BODY_MAX (batch_parse() refuses it with 413), -ENOMEM. batch-stream.c. */
typedef struct BatchStream BatchStream;
int batch_stream_new(const char *body, size_t len, const char *host_id, size_t piece_bytes /* 0: BATCH_STREAM_PIECE_BYTES */,
                     BatchStream **ret);
/* Piece k, in turn from 0: > 0 with *ret (its records stay the stream's), 0 after the last piece;
 * -EBADMSG, -EPERM or -E2BIG when the batch is refused there (batch_stream_error() says why), -ECANCELED
 * past BATCH_EVENTS_MAX records (batch_stream_finish() gives the refusal), -ENOMEM. */
int batch_stream_piece(BatchStream *s, size_t k, IngestPiece *ret);
/* The refusal of the batch when a piece was refused, else NULL. */
const BatchError *batch_stream_error(const BatchStream *s);
/* Records in the pieces handed over. */
size_t batch_stream_records(const BatchStream *s);
/* The whole batch, as batch_parse() would return it: the rest is parsed, the records move into *ret. */
int batch_stream_finish(BatchStream *s, IngestBatch *ret, BatchError *err);
BatchStream *batch_stream_free(BatchStream *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(BatchStream *, batch_stream_free);

typedef struct BatchIngestOptions {
        size_t stream_min_bytes;        /* bodies this big are stored piece by piece (BATCH_STREAM_MIN_BYTES) */
        size_t piece_bytes;             /* 0: BATCH_STREAM_PIECE_BYTES */
        const uint64_t *follows;        /* precondition (storage_ingest()), NULL: none */
} BatchIngestOptions;

/* Parses and stores a batch of host_id (o NULL: the defaults): 0 stored (*res, *ret_received: records in the
 * batch); < 0 with err->status set (400, 403, 413) when refused; -ESTALE when o->follows does not hold (*res
 * has the host's sequences; a big batch may be answered so before all its lines are parsed); else an error of
 * the storage or -ENOMEM. Nothing is stored when it fails. */
int batch_ingest(Storage *s, const char *host_id, const char *body, size_t len, uint64_t now_usec,
                 const BatchIngestOptions *o, IngestResult *res, size_t *ret_received, BatchError *err);
