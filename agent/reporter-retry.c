/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Waiting and retrying, shared by the collector's worker threads (reporter.c, policy-fetch.c): a stop
 * flag interrupts every wait; backoff doubles with full jitter. */
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

#include "reporter-internal.h"
#include "reporter.h"

bool reporter_wait_until(pthread_mutex_t *lock, pthread_cond_t *cond, const atomic_bool *stop, uint64_t deadline) {
        pthread_mutex_lock(lock);
        while (!atomic_load(stop)) {
                uint64_t now = now_mono_usec();
                if (now >= deadline)
                        break;
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t d = deadline - now;
                ts.tv_sec += d / 1000000ULL;
                ts.tv_nsec += (long) (d % 1000000ULL) * 1000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(cond, lock, &ts);
        }
        bool stopped = atomic_load(stop);
        pthread_mutex_unlock(lock);
        return !stopped;
}

uint64_t reporter_backoff_next(uint64_t *backoff_usec, uint64_t max_usec) {
        *backoff_usec = *backoff_usec ? *backoff_usec * 2 : REPORTER_BACKOFF_MIN_USEC;
        if (*backoff_usec > max_usec)
                *backoff_usec = max_usec;
        uint32_t rnd = 0;
        (void) !getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK);
        uint64_t half = *backoff_usec / 2;
        return half + (half ? rnd % (half + 1) : 0);
}

bool reporter_status_retryable(long status) {
        return status == 0 || status >= 500 || status == 408 || status == 429;
}
