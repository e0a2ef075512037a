/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The queue of appended records and the writer thread that commits them.
 *
 * Why a thread: on one core, group commit gave ~70,000 events/s; building and hashing a record and the
 * SQLite insert each cost a few µs per event, and each commit waits for fsync (measured with
 * tests/bench/bench-journal.c). The writer does the inserts and commits on a connection of its own while
 * the caller's thread builds and hashes the next records. Since format 2 (search runs, journal-runs.c)
 * the writer's share is the smaller one: ~3 µs a record against the caller's ~6.
 *
 * The caller's thread still decides: it appends, asks for commits and waits for them (journal_flush()),
 * and only it frees records, once they are committed. In between, the writer inserts records into an
 * open transaction as soon as WRITER_BATCH of them wait, and a commit asked for by journal_append() at
 * JOURNAL_FLUSH_MAX_EVENTS goes on while appends continue. After a failed commit the writer inserts
 * nothing ahead until the caller asks again (a full disk is not hammered); everything uncommitted is then
 * inserted again from the start. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal-internal.h"

/* Records the writer inserts at a time, and waits for before inserting ahead of a commit request. */
#define WRITER_BATCH 64u
/* Idle seconds after which the writer gives its cache back. */
#define WRITER_RELEASE_AFTER_S 1

/* Opens the writer's transaction and reads the runs its records may extend. */
static int writer_begin(Journal *j, bool *txn_open) {
        int r = db_exec(j->wdb, "BEGIN IMMEDIATE");
        *txn_open = r >= 0;
        if (r >= 0)
                r = runs_load(&j->wruns);
        return r;
}

/* Inserts records up to `upto` (or one batch). Called and returns with the lock held. */
static int insert_batches(Journal *j, bool *txn_open, bool one_batch) {
        Record *batch[WRITER_BATCH];
        int r = 0;

        for (;;) {
                uint64_t upto = j->target > j->committed ? j->target : j->appended;
                if (j->inserted >= upto)
                        return 0;
                size_t k = (size_t) (upto - j->inserted < WRITER_BATCH ? upto - j->inserted : WRITER_BATCH);
                memcpy(batch, j->pending + (j->inserted - j->reaped), k * sizeof(Record *));
                pthread_mutex_unlock(&j->lock);
                if (!*txn_open)
                        r = writer_begin(j, txn_open);
                for (size_t i = 0; i < k && r >= 0; i++)
                        if ((r = db_insert_record(j->wdb, j->winsert, batch[i])) > 0)
                                r = runs_add_record(&j->wruns, batch[i]);
                pthread_mutex_lock(&j->lock);
                if (r < 0)
                        return r;
                j->inserted += k;
                if (one_batch)
                        return 0;
        }
}

static void write_hint_locked(Journal *j) {
        /* the hint file is written with pwrite() at offset 0: safe from this thread */
        journal_write_head_hint(j);
}

static void *writer_main(void *userdata) {
        Journal *j = userdata;
        bool txn_open = false, worked = false;
        int r;

        pthread_mutex_lock(&j->lock);
        for (;;) {
                bool commit = j->target > j->committed;
                bool ahead = !commit && j->streaming && j->appended - j->inserted >= WRITER_BATCH;

                if (!commit && !ahead) {
                        if (j->stop)
                                break;
                        if (worked && !txn_open) {
                                /* A second without work after a burst: the page cache's clean pages and the
                                 * free heap go back to the system (a resident daemon's RSS: 0.8 MiB less
                                 * after a coldplug of 500 devices; the next burst reads the pages again
                                 * from the kernel's cache). One wake-up per burst, none while idle. */
                                struct timespec ts;
                                clock_gettime(CLOCK_REALTIME, &ts);
                                ts.tv_sec += WRITER_RELEASE_AFTER_S;
                                if (pthread_cond_timedwait(&j->wake_writer, &j->lock, &ts) != ETIMEDOUT)
                                        continue;
                                worked = false;
                                pthread_mutex_unlock(&j->lock);
                                sqlite3_db_release_memory(j->wdb);
                                malloc_trim(0);
                                pthread_mutex_lock(&j->lock);
                                continue;
                        }
                        pthread_cond_wait(&j->wake_writer, &j->lock);
                        continue;
                }
                worked = true;
                r = insert_batches(j, &txn_open, !commit);
                if (r >= 0 && commit) {
                        uint64_t upto = j->target;
                        const Record *last = j->pending[upto - 1 - j->reaped];
                        uint64_t seq = last->seq;
                        uint8_t hash[JOURNAL_SHA256_SIZE];
                        memcpy(hash, last->hash, sizeof(hash));
                        pthread_mutex_unlock(&j->lock);
                        if (!txn_open)
                                r = writer_begin(j, &txn_open);
                        if (r >= 0 && (r = runs_flush(&j->wruns)) >= 0)
                                r = db_store_last(j->wmeta, seq, hash);
                        if (r >= 0 && (r = db_exec(j->wdb, "COMMIT")) >= 0)
                                txn_open = false;
                        pthread_mutex_lock(&j->lock);
                        if (r >= 0) {
                                j->committed = upto;
                                j->durable_seq = seq;
                                memcpy(j->durable_hash, hash, sizeof(hash));
                                write_hint_locked(j);
                                pthread_cond_broadcast(&j->wake_caller);
                        }
                }
                if (r < 0) {
                        pthread_mutex_unlock(&j->lock);
                        (void) db_rollback(j->wdb);
                        txn_open = false;
                        pthread_mutex_lock(&j->lock);
                        j->inserted = j->committed;
                        j->target = j->committed; /* given up until asked again */
                        j->streaming = false;
                        j->error = r;
                        j->error_gen++;
                        pthread_cond_broadcast(&j->wake_caller);
                }
        }
        pthread_mutex_unlock(&j->lock);
        if (txn_open)
                (void) db_rollback(j->wdb);
        return NULL;
}

int journal_writer_start(Journal *j, uint64_t max_size_bytes) {
        int rc, r;

        rc = sqlite3_open_v2(j->path, &j->wdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
        if (rc != SQLITE_OK)
                return j->wdb ? db_errno(j->wdb, rc) : -ENOMEM;
        if ((r = db_setup_writer(j->wdb, max_size_bytes)) < 0)
                return r;
        /* The inserting connection keeps the indexes' hot pages: a bigger cache than the others (with
         * 256 KiB, sustained appends fell from ~70,000/s to ~40,000/s). It fills only as the journal is
         * written to. */
        if ((r = db_exec(j->wdb, "PRAGMA cache_size = " JOURNAL_WRITER_CACHE_SIZE)) < 0)
                return r;
        runs_init(&j->wruns, j->wdb);
        rc = sqlite3_prepare_v3(j->wdb, JOURNAL_INSERT_SQL, -1, SQLITE_PREPARE_PERSISTENT, &j->winsert, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v3(j->wdb, JOURNAL_META_PUT_SQL, -1, SQLITE_PREPARE_PERSISTENT, &j->wmeta, NULL);
        if (rc != SQLITE_OK)
                return db_errno(j->wdb, rc);
        r = pthread_create(&j->writer, NULL, writer_main, j);
        if (r != 0)
                return -r;
        j->writer_running = true;
        j->owner = getpid();
        return 0;
}

void journal_writer_stop(Journal *j) {
        if (j->writer_running) {
                pthread_mutex_lock(&j->lock);
                j->stop = true;
                pthread_cond_signal(&j->wake_writer);
                pthread_mutex_unlock(&j->lock);
                pthread_join(j->writer, NULL);
                j->writer_running = false;
        }
        runs_done(&j->wruns);
        sqlite3_finalize(j->winsert);
        sqlite3_finalize(j->wmeta);
        j->winsert = j->wmeta = NULL;
        sqlite3_close_v2(j->wdb);
        j->wdb = NULL;
}

int journal_queue_push(Journal *j, Record *rec) {
        size_t n = (size_t) (j->appended - j->reaped);
        if (n >= j->n_alloc) {
                size_t na = j->n_alloc ? j->n_alloc * 2 : 64;
                if (na > j->backlog_max + JOURNAL_FLUSH_MAX_EVENTS + 1)
                        na = j->backlog_max + JOURNAL_FLUSH_MAX_EVENTS + 1;
                if (na <= n)
                        return -ENOBUFS;
                pthread_mutex_lock(&j->lock);
                Record **p = realloc(j->pending, na * sizeof(Record *));
                if (p) {
                        j->pending = p;
                        j->n_alloc = na;
                }
                pthread_mutex_unlock(&j->lock);
                if (!p)
                        return -ENOMEM;
        }
        pthread_mutex_lock(&j->lock);
        if (j->appended == j->committed)
                j->first_pending_mono = now_mono_usec();
        j->pending[n] = rec;
        j->appended++;
        j->pending_bytes += rec->size;
        /* wake the writer when a batch is complete (a wake-up is a system call) */
        if (j->writer_running && j->streaming && (j->appended - j->inserted) % WRITER_BATCH == 0)
                pthread_cond_signal(&j->wake_writer);
        pthread_mutex_unlock(&j->lock);
        return 0;
}

void journal_queue_request(Journal *j) {
        pthread_mutex_lock(&j->lock);
        if (j->appended > j->target) {
                j->target = j->appended;
                pthread_cond_signal(&j->wake_writer);
        }
        pthread_mutex_unlock(&j->lock);
}

int journal_queue_commit(Journal *j) {
        int r = 0;

        if (!j->writer_running)
                return -ESHUTDOWN;
        if (j->owner != getpid())
                return -ECHILD; /* a forked child: the writer thread stayed in the parent */
        pthread_mutex_lock(&j->lock);
        uint64_t want = j->appended, gen = j->error_gen;
        if (want > j->committed) {
                if (want > j->target)
                        j->target = want;
                pthread_cond_signal(&j->wake_writer);
                while (j->committed < want && j->error_gen == gen)
                        pthread_cond_wait(&j->wake_caller, &j->lock);
                if (j->committed < want)
                        r = j->error;
                else
                        j->streaming = true;
        }
        pthread_mutex_unlock(&j->lock);
        journal_queue_reap(j);
        return r;
}

void journal_queue_settle(Journal *j) {
        if (!j->writer_running || j->owner != getpid())
                return;
        pthread_mutex_lock(&j->lock);
        j->streaming = false; /* nothing inserted ahead from here on */
        if (j->appended > j->target) {
                j->target = j->appended; /* what was inserted ahead is committed, or rolled back */
                pthread_cond_signal(&j->wake_writer);
        }
        /* a failed commit sets target back to committed: this ends either way */
        while (j->target > j->committed)
                pthread_cond_wait(&j->wake_caller, &j->lock);
        pthread_mutex_unlock(&j->lock);
        journal_queue_reap(j);
}

void journal_queue_reap(Journal *j) {
        pthread_mutex_lock(&j->lock);
        size_t k = (size_t) (j->committed - j->reaped), n = (size_t) (j->appended - j->reaped);
        if (k > 0) {
                for (size_t i = 0; i < k; i++) {
                        j->pending_bytes -= j->pending[i]->size;
                        record_free(j->pending[i]);
                }
                memmove(j->pending, j->pending + k, (n - k) * sizeof(Record *));
                j->reaped = j->committed;
                if (j->appended > j->committed)
                        j->first_pending_mono = now_mono_usec();
        }
        pthread_mutex_unlock(&j->lock);
}

uint64_t journal_queue_uncommitted(Journal *j) {
        pthread_mutex_lock(&j->lock);
        uint64_t n = j->appended - j->committed;
        pthread_mutex_unlock(&j->lock);
        return n;
}

int journal_queue_new_error(Journal *j) {
        int r = 0;
        pthread_mutex_lock(&j->lock);
        if (j->error_gen != j->seen_error_gen) {
                j->seen_error_gen = j->error_gen;
                r = j->error;
        }
        pthread_mutex_unlock(&j->lock);
        return r;
}

void journal_durable(Journal *j, uint64_t *ret_seq, uint8_t ret_hash[static 32]) {
        pthread_mutex_lock(&j->lock);
        *ret_seq = j->durable_seq;
        memcpy(ret_hash, j->durable_hash, JOURNAL_SHA256_SIZE);
        pthread_mutex_unlock(&j->lock);
}

void journal_queue_uncommitted_records(Journal *j, Record ***ret, size_t *ret_n) {
        journal_queue_reap(j);
        pthread_mutex_lock(&j->lock);
        *ret = j->pending;
        *ret_n = (size_t) (j->appended - j->reaped);
        pthread_mutex_unlock(&j->lock);
}

void journal_queue_all_committed(Journal *j, uint64_t seq, const uint8_t hash[static 32]) {
        pthread_mutex_lock(&j->lock);
        j->committed = j->inserted = j->target = j->appended;
        j->durable_seq = seq;
        memcpy(j->durable_hash, hash, JOURNAL_SHA256_SIZE);
        j->streaming = true;
        journal_write_head_hint(j);
        pthread_mutex_unlock(&j->lock);
        journal_queue_reap(j);
}

void journal_queue_free(Journal *j) {
        size_t n = (size_t) (j->appended - j->reaped);
        for (size_t i = 0; i < n; i++)
                record_free(j->pending[i]);
        free(j->pending);
        record_blocks_done(j);
        j->pending = NULL;
        j->appended = j->reaped = j->committed = j->inserted = j->target = 0;
        j->pending_bytes = 0;
}
