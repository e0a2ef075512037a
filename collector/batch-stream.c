/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A big ingest batch parsed in pieces by a thread while the pieces before are stored
 * (storage_ingest_pieces()), and the ingest of a batch either way. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "batch-internal.h"

struct BatchStream {
        Chunk pieces[BATCH_STREAM_PIECES_MAX];
        unsigned n_pieces;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        bool started;                   /* the thread parses pieces 1, 2, ...; the caller piece 0 */
        bool cancel;                    /* the thread is to stop after the piece it is parsing */
        unsigned n_parsed;              /* pieces 0..n_parsed-1 are parsed (by the thread; piece 0 apart) */
        bool parsed0;
        size_t n_records;               /* in the pieces handed over */
        BatchError err;                 /* the refusal, when err.status != 0 */
};

static void *stream_thread(void *userdata) {
        BatchStream *s = userdata;
        for (unsigned k = 1; k < s->n_pieces; k++) {
                pthread_mutex_lock(&s->lock);
                bool stop = s->cancel;
                pthread_mutex_unlock(&s->lock);
                if (stop)
                        break;
                int r = batch_chunk_parse(&s->pieces[k]);
                pthread_mutex_lock(&s->lock);
                s->pieces[k].r = r;
                s->n_parsed = k + 1;
                pthread_cond_broadcast(&s->cond);
                pthread_mutex_unlock(&s->lock);
                if (r < 0)
                        break;  /* the batch is refused at this piece at the latest */
        }
        pthread_mutex_lock(&s->lock);
        s->cancel = true;       /* done: waiters for later pieces parse them themselves */
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

int batch_stream_new(const char *body, size_t len, const char *host_id, size_t piece_bytes, BatchStream **ret) {
        BatchStream *s;

        if (len > BATCH_BODY_MAX)
                return -E2BIG;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->n_pieces = (unsigned) (len / (piece_bytes ?: BATCH_STREAM_PIECE_BYTES));
        if (s->n_pieces < 1)
                s->n_pieces = 1;
        if (s->n_pieces > BATCH_STREAM_PIECES_MAX)
                s->n_pieces = BATCH_STREAM_PIECES_MAX;
        batch_chunks_split(body, len, host_id, s->pieces, s->n_pieces);
        s->n_parsed = 1;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        if (s->n_pieces > 1)
                s->started = pthread_create(&s->thread, NULL, stream_thread, s) == 0;
        *ret = s;
        return 0;
}

/* Makes sure piece k is parsed: piece 0 here, a later one by the thread (waiting for it), or here when the
 * thread is not going to. */
static void stream_parse(BatchStream *s, unsigned k) {
        if (k == 0) {
                if (!s->parsed0)
                        s->pieces[0].r = batch_chunk_parse(&s->pieces[0]);
                s->parsed0 = true;
                return;
        }
        pthread_mutex_lock(&s->lock);
        while (s->started && s->n_parsed <= k && !s->cancel)
                pthread_cond_wait(&s->cond, &s->lock);
        bool mine = s->n_parsed <= k;
        pthread_mutex_unlock(&s->lock);
        if (mine) {
                /* pieces before k were handed over (parsed); the thread has stopped or never ran */
                s->pieces[k].r = batch_chunk_parse(&s->pieces[k]);
                pthread_mutex_lock(&s->lock);
                if (s->n_parsed <= k)
                        s->n_parsed = k + 1;
                pthread_mutex_unlock(&s->lock);
        }
}

int batch_stream_piece(BatchStream *s, size_t k, IngestPiece *ret) {
        if (k >= s->n_pieces)
                return 0;
        stream_parse(s, (unsigned) k);
        Chunk *c = &s->pieces[k];
        /* Past BATCH_EVENTS_MAX: whether that or a refused line in a later piece comes first is for
         * batch_stream_finish() to say, as batch_parse() would. */
        if (s->n_records + c->b.n > BATCH_EVENTS_MAX || (c->r < 0 && s->n_records + c->b.n == BATCH_EVENTS_MAX))
                return -ECANCELED;
        if (c->r < 0) {
                if (c->r != -ENOMEM)
                        s->err = c->err;
                return c->r;
        }
        s->n_records += c->b.n;
        *ret = (IngestPiece) { .records = c->b.records, .n = c->b.n, .host_name = c->b.host_name };
        return 1;
}

const BatchError *batch_stream_error(const BatchStream *s) {
        return s->err.status != 0 ? &s->err : NULL;
}

size_t batch_stream_records(const BatchStream *s) {
        return s->n_records;
}

/* Stops the thread (after the piece it is parsing) and waits for it. */
static void stream_stop(BatchStream *s) {
        pthread_mutex_lock(&s->lock);
        s->cancel = true;
        pthread_mutex_unlock(&s->lock);
        if (s->started) {
                pthread_join(s->thread, NULL);
                s->started = false;
        }
}

int batch_stream_finish(BatchStream *s, IngestBatch *ret, BatchError *err) {
        *err = (BatchError) {};
        /* as one pass would: the pieces after a refused one are not needed */
        for (unsigned k = 0; k < s->n_pieces && (k == 0 || s->pieces[k - 1].r >= 0); k++)
                stream_parse(s, k);
        stream_stop(s);
        /* the records move into the batch; the pieces are left empty */
        return batch_chunks_merge(s->pieces, s->n_pieces, ret, err);
}

BatchStream *batch_stream_free(BatchStream *s) {
        if (!s)
                return NULL;
        stream_stop(s);
        for (unsigned k = 0; k < s->n_pieces; k++)
                batch_done(&s->pieces[k].b);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}

static int stream_next(void *userdata, size_t k, IngestPiece *ret) {
        return batch_stream_piece(userdata, k, ret);
}

int batch_ingest(Storage *s, const char *host_id, const char *body, size_t len, uint64_t now_usec,
                 const BatchIngestOptions *o, IngestResult *res, size_t *ret_received, BatchError *err) {
        _cleanup_(batch_stream_freep) BatchStream *stream = NULL;
        _cleanup_(batch_done) IngestBatch batch = {};
        size_t min_bytes = o ? o->stream_min_bytes : BATCH_STREAM_MIN_BYTES;
        int r;

        *err = (BatchError) {};
        /* A big batch (a backlog being drained) is stored piece by piece while the rest is parsed, when it
         * simply follows what the host has stored; any other batch is parsed whole first. */
        if (len >= min_bytes && len <= BATCH_BODY_MAX) {
                r = batch_stream_new(body, len, host_id, o ? o->piece_bytes : 0, &stream);
                if (r < 0)
                        return r;
                r = storage_ingest_pieces(s, host_id, stream_next, stream, o ? o->follows : NULL, now_usec, res);
                if (r >= 0) {
                        *ret_received = batch_stream_records(stream);
                        return 0;
                }
                if (batch_stream_error(stream)) {
                        *err = *batch_stream_error(stream);
                        return r;
                }
                if (r != -ECANCELED)
                        return r;
                r = batch_stream_finish(stream, &batch, err);
        } else
                r = batch_parse(body, len, host_id, &batch, err);
        if (r < 0)
                return r;
        r = storage_ingest(s, host_id, batch.host_name, batch.records, batch.n, o ? o->follows : NULL, now_usec, res);
        if (r >= 0)
                *ret_received = batch.n;
        return r;
}
