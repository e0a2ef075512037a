/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: an ingest request body as POST /v1/events receives it (collector/api-ingest.c): the
 * first byte says whether the rest is gzip (odd: collector/gzip.c inflates it first, as the server does
 * for Content-Encoding: gzip) or plain NDJSON; then batch_parse() for a fixed host.
 * Invariants: a batch is sorted by sequence without duplicates, within its bounds, every record a line of
 * the body; a refusal says why, for a line of the body, with an HTTP status the API documents. The same body
 * parsed in pieces (collector/batch-stream.c, the pieces handed over in turn as storage_ingest_pieces() takes
 * them) gives the same answer: a piece's refusal is batch_parse()'s, and batch_stream_finish() returns what
 * batch_parse() returns, record for record. */
#include <errno.h>
#include <string.h>

#include "batch.h"
#include "fuzz-util.h"
#include "gzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HOST_ID "0123456789abcdef0123456789abcdef"
#define FUZZ_INFLATE_MAX (1024 * 1024) /* smaller than BATCH_BODY_MAX: a fuzzer's memory is bounded */

static unsigned count_lines(const char *body, size_t len) {
        unsigned n = 1;
        for (size_t i = 0; i < len; i++)
                n += body[i] == '\n';
        return n;
}

/* The body in pieces of 256 bytes: the same refusal, or the same batch, as batch_parse() gave. */
static void check_stream(const char *body, size_t len, int r_whole, const IngestBatch *whole, const BatchError *err_whole) {
        BatchStream *s = NULL;
        IngestBatch b = {};
        BatchError err;
        int r = batch_stream_new(body, len, FUZZ_HOST_ID, 256, &s);
        if (r == -ENOMEM)
                return;
        FUZZ_CHECK(r == 0);
        for (size_t k = 0;; k++) {
                IngestPiece piece;
                r = batch_stream_piece(s, k, &piece);
                if (r <= 0)
                        break;
                for (size_t i = 0; i < piece.n; i++)
                        FUZZ_CHECK(piece.records[i].json && memmem(body, len, piece.records[i].json, piece.records[i].json_len));
        }
        if (r == -ENOMEM || r_whole == -ENOMEM) {
                batch_stream_free(s);
                return;
        }
        if (r < 0 && r != -ECANCELED) {
                /* refused in a piece: batch_parse() refuses the same way */
                const BatchError *e = batch_stream_error(s);
                FUZZ_CHECK(e && r == r_whole && e->status == err_whole->status && e->line == err_whole->line &&
                           streq(e->message, err_whole->message));
                batch_stream_free(s);
                return;
        }
        FUZZ_CHECK(!batch_stream_error(s));
        r = batch_stream_finish(s, &b, &err);
        batch_stream_free(s);
        if (r == -ENOMEM)
                return;
        FUZZ_CHECK(r == r_whole);
        if (r < 0) {
                FUZZ_CHECK(err.status == err_whole->status && err.line == err_whole->line &&
                           streq(err.message, err_whole->message));
                return;
        }
        FUZZ_CHECK(b.n == whole->n);
        for (size_t i = 0; i < b.n; i++) {
                const IngestRecord *x = &b.records[i], *y = &whole->records[i];
                FUZZ_CHECK(x->sequence == y->sequence && x->line == y->line && x->json_len == y->json_len &&
                           memcmp(x->json, y->json, x->json_len) == 0 && memcmp(x->digest, y->digest, SHA256_SIZE) == 0);
        }
        FUZZ_CHECK(!b.host_name == !whole->host_name && (!b.host_name || streq(b.host_name, whole->host_name)));
        batch_done(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        IngestBatch b = {};
        BatchError err;
        char *inflated = NULL;
        const char *body;
        size_t len;

        if (size == 0)
                return 0;
        if (data[0] & 1) {
                int r = gzip_inflate(data + 1, size - 1, FUZZ_INFLATE_MAX, &inflated, &len);
                if (r < 0) {
                        FUZZ_CHECK(r == -EBADMSG || r == -EFBIG || r == -ENOMEM);
                        return 0;
                }
                FUZZ_CHECK(len <= FUZZ_INFLATE_MAX && inflated[len] == 0);
                body = inflated;
        } else {
                body = (const char *) data + 1;
                len = size - 1;
        }

        int r = batch_parse(body, len, FUZZ_HOST_ID, &b, &err);
        check_stream(body, len, r, &b, &err);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG || r == -EPERM || r == -E2BIG || r == -ENOMEM);
                if (r != -ENOMEM) {
                        FUZZ_CHECK(err.status == 400 || err.status == 403 || err.status == 413);
                        FUZZ_CHECK((r == -EPERM) == (err.status == 403));
                        FUZZ_CHECK(memchr(err.message, 0, sizeof(err.message)) && strlen(err.message) > 0);
                        FUZZ_CHECK(err.line <= count_lines(body, len));
                }
                FUZZ_CHECK(b.n == 0 && !b.records);
                free(inflated);
                return 0;
        }
        FUZZ_CHECK(b.n <= BATCH_EVENTS_MAX);
        for (size_t i = 0; i < b.n; i++) {
                const IngestRecord *rec = &b.records[i];
                FUZZ_CHECK(i == 0 || rec->sequence > b.records[i - 1].sequence);
                FUZZ_CHECK(rec->line >= 1 && rec->line <= count_lines(body, len));
                FUZZ_CHECK(rec->json && rec->json_len > 0 && memmem(body, len, rec->json, rec->json_len));
        }
        batch_done(&b);
        free(inflated);
        return 0;
}
