/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The write audit's hashing thread: SHA-256 of written files, off the event loop (see write-audit.h).
 * It touches nothing but the queues below and the HashJob of the records it is given. */
#include "write-audit-internal.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "macro.h"

/* Bytes read at a time. */
#define HASH_CHUNK (256 * 1024)

/* Nettle's SHA-256 uses the CPU's SHA extensions (as OpenSSL's: ~1.3 GB/s here against libsodium's
 * portable ~0.1-0.2 GB/s), and a file is held open (its medium busy) while it is read. */
static void hash_file(HashJob *job, uint8_t *buf, const bool *stop, pthread_mutex_t *lock) {
        struct sha256_ctx ctx;
        uint64_t off = 0;

        sha256_init(&ctx);
        for (;;) {
                ssize_t n = pread(job->fd, buf, HASH_CHUNK, (off_t) off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        job->error = -errno;
                        return;
                }
                if (n == 0)
                        break;
                off += (uint64_t) n;
                if (off > job->max_size) {
                        /* It grew past the cap since it was looked at. */
                        job->too_big = true;
                        job->bytes = off;
                        return;
                }
                sha256_update(&ctx, (size_t) n, buf);

                pthread_mutex_lock(lock);
                bool s = *stop;
                pthread_mutex_unlock(lock);
                if (s) {
                        job->error = -ECANCELED;
                        return;
                }
        }
        _Static_assert(SHA256_LEN == SHA256_DIGEST_SIZE, "digest size");
        sha256_digest(&ctx, SHA256_DIGEST_SIZE, job->digest);
        job->bytes = off;
}

static void *worker_main(void *userdata) {
        HashWorker *w = userdata;
        _cleanup_free_ uint8_t *buf = malloc(HASH_CHUNK);

        for (;;) {
                Record *r;

                pthread_mutex_lock(&w->lock);
                while (!w->stop && w->todo_n == 0)
                        pthread_cond_wait(&w->cond, &w->lock);
                if (w->stop) {
                        pthread_mutex_unlock(&w->lock);
                        break;
                }
                r = w->todo[w->todo_head];
                w->todo_head = (w->todo_head + 1) % MN_WRITE_AUDIT_MAX_OPEN_FILES;
                w->todo_n--;
                pthread_mutex_unlock(&w->lock);

                if (buf)
                        hash_file(&r->job, buf, &w->stop, &w->lock);
                else
                        r->job.error = -ENOMEM;
                close(r->job.fd);
                r->job.fd = -EBADF;

                pthread_mutex_lock(&w->lock);
                w->done[(w->done_head + w->done_n) % MN_WRITE_AUDIT_MAX_OPEN_FILES] = r;
                w->done_n++;
                pthread_mutex_unlock(&w->lock);

                uint64_t one = 1;
                (void) !write(w->efd, &one, sizeof(one));
        }
        return NULL;
}

int wa_worker_start(HashWorker *w) {
        sigset_t all, old;
        int r;

        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0)
                return -errno;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);

        /* Signals are the event loop's (signalfd): the thread takes none. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = pthread_create(&w->thread, NULL, worker_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0)
                return -r;
        w->running = true;
        return 0;
}

void wa_worker_stop(HashWorker *w) {
        if (w->running) {
                pthread_mutex_lock(&w->lock);
                w->stop = true;
                pthread_cond_signal(&w->cond);
                pthread_mutex_unlock(&w->lock);
                pthread_join(w->thread, NULL);
                w->running = false;
                pthread_mutex_destroy(&w->lock);
                pthread_cond_destroy(&w->cond);
        }
        /* Jobs the thread never took still hold their files. */
        for (size_t i = 0; i < w->todo_n; i++) {
                Record *r = w->todo[(w->todo_head + i) % MN_WRITE_AUDIT_MAX_OPEN_FILES];
                if (r->job.fd >= 0)
                        close(r->job.fd);
                r->job.fd = -EBADF;
        }
        w->todo_n = 0;
        if (w->efd >= 0)
                close(w->efd);
        w->efd = -EBADF;
}

void wa_worker_submit(HashWorker *w, Record *r) {
        pthread_mutex_lock(&w->lock);
        w->todo[(w->todo_head + w->todo_n) % MN_WRITE_AUDIT_MAX_OPEN_FILES] = r;
        w->todo_n++;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

size_t wa_worker_collect(HashWorker *w, Record **ret, size_t max) {
        size_t n = 0;
        uint64_t v;

        (void) !read(w->efd, &v, sizeof(v));
        pthread_mutex_lock(&w->lock);
        while (n < max && w->done_n > 0) {
                ret[n++] = w->done[w->done_head];
                w->done_head = (w->done_head + 1) % MN_WRITE_AUDIT_MAX_OPEN_FILES;
                w->done_n--;
        }
        bool more = w->done_n > 0;
        pthread_mutex_unlock(&w->lock);
        if (more) {
                /* Wake the loop again for the rest. */
                uint64_t one = 1;
                (void) !write(w->efd, &one, sizeof(one));
        }
        return n;
}
