/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Collector history queries on a big table:
 *   bench-collector-query NAME STORAGE_SPEC EVENTS HOSTS [all|build|query]
 * fills the storage through the bulk path (storage_bulk_insert: no chain checks) with EVENTS records of
 * HOSTS hosts over one year, then times "one host's 30 days" queries for 50 random hosts, and 50 "every host's
 * 30 days, first 100 rows" queries each for a user (a quarter of all events), a device serial (a fiftieth) and
 * a serial that is nowhere. Prints "NAME-build events/s", "NAME-LABEL-p50 ms", "NAME-LABEL-max ms" and the rows
 * the last query of each returned. A sixth argument "build" or "query" does only that part (the harness runs
 * the queries again after PostgreSQL's VACUUM ANALYZE, as autovacuum would have done on a real database). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "clock.h"
#include "collector-test-util.h"
#include "journal.h"
#include "strutil.h"

#define YEAR_USEC (365ull * 86400u * 1000000u)
#define DAY_USEC (86400ull * 1000000u)
#define T0_USEC (1735689600ull * 1000000u)     /* 2025-01-01 */
#define PER_HOST_BATCH 2500u
#define QUERIES 50u

static const char *const actions[] = { "device-blocked", "device-connected", "device-allowed", "file-written" };
static const char *const users[] = { "tanaka", "suzuki", "sato", "takahashi" };

/* A record of realistic shape and size (not chained: the bulk path does not check). */
static void make_record(IngestRecord *r, const char *host, uint64_t seq, uint64_t ts) {
        char stamp[JOURNAL_TIMESTAMP_MAX], buf[1024];
        unsigned i = (unsigned) seq;
        journal_timestamp_format(ts, stamp);
        int n = snprintf(buf, sizeof(buf),
                         "{\"@timestamp\":\"%s\",\"device\":{\"bus\":\"usb\",\"classes\":[\"storage\"],\"model\":\"Cruzer Blade\","
                         "\"product\":\"%04x\",\"serial\":\"4C5300012301%08u\",\"syspath\":\"/devices/pci0000:00/0000:00:14.0/usb1/1-2\","
                         "\"vendor\":\"0781\"},\"event\":{\"action\":\"%s\",\"outcome\":\"success\",\"reason\":\"default storage block\","
                         "\"sequence\":%llu},\"host\":{\"id\":\"%s\",\"name\":\"mn-pc\"},\"mnguard\":{\"hash\":\"%064llx\","
                         "\"policy_serial\":2026112601,\"prev_hash\":\"%064llx\",\"rule\":\"default\"},\"user\":{\"id\":%u,\"name\":\"%s\"}}",
                         stamp, 0x5581 + i % 3, i % 50, actions[i % 4], (unsigned long long) seq, host,
                         (unsigned long long) seq, (unsigned long long) (seq - 1), 1001 + i % 4, users[i % 4]);
        *r = (IngestRecord) { .sequence = seq, .timestamp_usec = ts, .hash_ok = true };
        snprintf(r->action, sizeof(r->action), "%s", actions[i % 4]);
        r->user_name = strdup(users[i % 4]);
        char serial[32];
        snprintf(serial, sizeof(serial), "4C5300012301%08u", i % 50);
        r->dev_serial = strdup(serial);
        snprintf(r->dev_vidpid, sizeof(r->dev_vidpid), "0781:%04x", 0x5581 + i % 3);
        r->json = strndup(buf, (size_t) n);
        r->json_len = (size_t) n;
        r->hash[0] = (uint8_t) seq;
        r->digest[0] = (uint8_t) seq;
}

static int count_row(const StoredEvent *e, void *userdata) {
        (*(uint64_t *) userdata)++;
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* QUERIES queries over 30 random days: one random host's events (hosts > 0), or every host's with a user or a
 * device serial, at most limit rows (0: all). Prints NAME-LABEL-rows (of the last query), -p50 and -max. */
static int time_queries(Storage *s, const char *name, const char *label, uint64_t hosts, const char *user,
                        const char *device, uint64_t limit) {
        uint64_t lat[QUERIES], rows = 0;
        for (unsigned q = 0; q < QUERIES; q++) {
                char id[HOST_ID_LEN + 1];
                if (hosts)
                        ct_host_id((unsigned) ((unsigned) rand() % hosts), id);
                uint64_t since = T0_USEC + (uint64_t) (rand() % 300) * DAY_USEC;
                EventQuery eq = { .host_id = hosts ? id : NULL, .user = user, .device = device,
                                  .since_usec = since, .until_usec = since + 30 * DAY_USEC, .limit = limit };
                uint64_t n = 0, t = now_mono_usec();
                int r = storage_events(s, &eq, count_row, &n, NULL);
                lat[q] = now_mono_usec() - t;
                if (r < 0) {
                        fprintf(stderr, "bench: query %s: %s\n", label, strerror(-r));
                        return r;
                }
                rows = n;
        }
        qsort(lat, QUERIES, sizeof(uint64_t), cmp_u64);
        printf("%s-%s-rows %llu rows\n", name, label, (unsigned long long) rows);
        printf("%s-%s-p50 %.1f ms\n", name, label, lat[QUERIES / 2] / 1000.0);
        printf("%s-%s-max %.1f ms\n", name, label, lat[QUERIES - 1] / 1000.0);
        return 0;
}

/* EVENTS records of HOSTS hosts over one year, through the bulk path; prints NAME-build events/s. */
static int build_table(Storage *s, const char *name, uint64_t events, uint64_t hosts) {
        int r;
        uint64_t per_host = events / hosts, step = YEAR_USEC / per_host;
        IngestRecord *recs = calloc(PER_HOST_BATCH, sizeof(IngestRecord));
        IngestRecord **ptrs = calloc(PER_HOST_BATCH, sizeof(IngestRecord *));
        uint64_t start = now_mono_usec(), done = 0;
        /* rounds of PER_HOST_BATCH events per host, so the table grows in time order as a real one does */
        for (uint64_t base = 0; base < per_host; base += PER_HOST_BATCH) {
                uint64_t n = per_host - base < PER_HOST_BATCH ? per_host - base : PER_HOST_BATCH;
                for (uint64_t h = 0; h < hosts; h++) {
                        char id[HOST_ID_LEN + 1];
                        ct_host_id((unsigned) h, id);
                        for (uint64_t i = 0; i < n; i++) {
                                uint64_t seq = base + i + 1;
                                make_record(&recs[i], id, seq, T0_USEC + (seq - 1) * step + h * 1000u);
                                ptrs[i] = &recs[i];
                        }
                        r = storage_bulk_insert(s, id, ptrs, n, T0_USEC + YEAR_USEC);
                        for (uint64_t i = 0; i < n; i++)
                                record_done(&recs[i]);
                        if (r < 0) {
                                fprintf(stderr, "bench: bulk insert: %s\n", strerror(-r));
                                free(recs);
                                free(ptrs);
                                return r;
                        }
                        done += n;
                }
                fprintf(stderr, "bench: %llu events stored\n", (unsigned long long) done);
        }
        double build = (now_mono_usec() - start) / 1e6;
        printf("%s-build %.0f events/s\n", name, (double) done / build);
        free(recs);
        free(ptrs);
        return 0;
}

int main(int argc, char *argv[]) {
        uint64_t events, hosts;
        const char *phase = argc == 6 ? argv[5] : "all";
        if ((argc != 5 && argc != 6) || parse_u64(argv[3], &events) < 0 || parse_u64(argv[4], &hosts) < 0 ||
            hosts == 0 || !(streq(phase, "all") || streq(phase, "build") || streq(phase, "query"))) {
                fprintf(stderr, "usage: bench-collector-query NAME STORAGE_SPEC EVENTS HOSTS [all|build|query]\n");
                return 2;
        }
        const char *name = argv[1];
        Storage *s = NULL;
        int r = storage_open(argv[2], 2, &s);
        if (r < 0) {
                fprintf(stderr, "bench: cannot open the storage: %s\n", strerror(-r));
                return 1;
        }
        if (!streq(phase, "query") && build_table(s, name, events, hosts) < 0)
                return 1;
        srand(42);
        if (!streq(phase, "build") &&
            (time_queries(s, name, "30d", hosts, NULL, NULL, 0) < 0 ||
             time_queries(s, name, "user-30d-first100", 0, "suzuki", NULL, 100) < 0 ||
             time_queries(s, name, "serial-30d-first100", 0, NULL, "4C530001230100000007", 100) < 0 ||
             time_queries(s, name, "serial-absent-30d", 0, NULL, "4C530001230199999999", 100) < 0))
                return 1;
        storage_close(s);
        return 0;
}
