/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Seeds a collector database for the console benchmark (bench-console.py):
 *   bench-console-seed STORAGE_SPEC EVENTS HOSTS NOW_USEC
 * HOSTS terminals enrolled as the collector enrolls them (storage_cert_add: host row, name, group), then
 * EVENTS records spread over the 30 days before NOW through the bulk path (storage_bulk_insert: no chain
 * checks), in rounds of ROUND records per host so that the table grows in time order as a real one does.
 * Each host's first record is agent-started with its version; every record names its policy serial. One
 * host in twenty was last seen three days before NOW (silent). Prints "console-seed-<what> value unit". */
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

#define DAY_USEC (86400ull * 1000000u)
#define SPAN_USEC (30 * DAY_USEC)
#define ROUND 250u

static const char *const actions[] = { "device-connected", "device-blocked", "device-removed", "file-written",
                                       "print-allowed", "device-allowed", "clipboard-blocked", "print-blocked" };

static void make_record(IngestRecord *r, unsigned h, const char *host, uint64_t seq, uint64_t ts) {
        char stamp[JOURNAL_TIMESTAMP_MAX], buf[1200], user[16], serial[32];
        unsigned i = (unsigned) seq + h * 7u;
        uint64_t policy = 2026112601u + h % 3;
        bool started = seq == 1;
        const char *action = started ? "agent-started" : actions[i % ELEMENTSOF(actions)];
        int n;
        journal_timestamp_format(ts, stamp);
        snprintf(user, sizeof(user), "user%02u", (h + i) % 40);
        snprintf(serial, sizeof(serial), "4C5300012301%08u", i % 500);
        if (started)
                n = snprintf(buf, sizeof(buf),
                             "{\"@timestamp\":\"%s\",\"event\":{\"action\":\"agent-started\",\"outcome\":\"success\","
                             "\"sequence\":%llu},\"host\":{\"id\":\"%s\",\"name\":\"mn-pc-%05u\"},\"mnguard\":{\"hash\":\"%064llx\","
                             "\"policy_name\":\"standard\",\"policy_serial\":%llu,\"prev_hash\":\"%064llx\",\"version\":\"0.1.%u\"}}",
                             stamp, (unsigned long long) seq, host, h, (unsigned long long) seq, (unsigned long long) policy,
                             (unsigned long long) (seq - 1), h % 4);
        else
                n = snprintf(buf, sizeof(buf),
                             "{\"@timestamp\":\"%s\",\"device\":{\"bus\":\"usb\",\"classes\":[\"storage\"],\"model\":\"Cruzer Blade\","
                             "\"product\":\"%04x\",\"serial\":\"%s\",\"syspath\":\"/devices/pci0000:00/0000:00:14.0/usb1/1-2\","
                             "\"vendor\":\"0781\"},\"event\":{\"action\":\"%s\",\"outcome\":\"success\",\"reason\":\"default storage block\","
                             "\"sequence\":%llu},\"host\":{\"id\":\"%s\",\"name\":\"mn-pc-%05u\"},\"mnguard\":{\"hash\":\"%064llx\","
                             "\"policy_serial\":%llu,\"prev_hash\":\"%064llx\",\"rule\":\"default\"},\"user\":{\"id\":%u,\"name\":\"%s\"}}",
                             stamp, 0x5581 + i % 3, serial, action, (unsigned long long) seq, host, h, (unsigned long long) seq,
                             (unsigned long long) policy, (unsigned long long) (seq - 1), 1001 + (h + i) % 40, user);
        *r = (IngestRecord) { .sequence = seq, .timestamp_usec = ts, .hash_ok = true, .policy_serial = policy };
        snprintf(r->action, sizeof(r->action), "%s", action);
        if (started)
                snprintf(r->agent_version, sizeof(r->agent_version), "0.1.%u", h % 4);
        else {
                r->user_name = strdup(user);
                r->dev_serial = strdup(serial);
                snprintf(r->dev_vidpid, sizeof(r->dev_vidpid), "0781:%04x", 0x5581 + i % 3);
        }
        r->json = strndup(buf, (size_t) n);
        r->json_len = (size_t) n;
        r->hash[0] = (uint8_t) seq;
        r->digest[0] = (uint8_t) seq;
}

int main(int argc, char *argv[]) {
        uint64_t events, hosts, now;
        if (argc != 5 || parse_u64(argv[2], &events) < 0 || parse_u64(argv[3], &hosts) < 0 || hosts == 0 ||
            parse_u64(argv[4], &now) < 0 || now < SPAN_USEC) {
                fprintf(stderr, "usage: bench-console-seed STORAGE_SPEC EVENTS HOSTS NOW_USEC\n");
                return 2;
        }
        Storage *s = NULL;
        int r = storage_open(argv[1], 2, &s);
        if (r < 0) {
                fprintf(stderr, "bench: cannot open the storage: %s\n", strerror(-r));
                return 1;
        }
        uint64_t t0 = now_mono_usec();
        for (uint64_t h = 0; h < hosts; h++) {
                char name[32];
                CertRecord c = { .kind = CERT_HOST, .issued_usec = now - SPAN_USEC, .not_after_usec = now + 700 * DAY_USEC };
                ct_host_id((unsigned) h, c.subject);
                snprintf(c.serial, sizeof(c.serial), "%08llx%024llx", (unsigned long long) h, (unsigned long long) h * 2654435761u);
                snprintf(c.group, sizeof(c.group), "%s", h % 5 == 0 ? "kokuho" : "default");
                snprintf(name, sizeof(name), "mn-pc-%05u", (unsigned) h);
                r = storage_cert_add(s, &c, name);
                if (r < 0) {
                        fprintf(stderr, "bench: enrolling: %s\n", strerror(-r));
                        return 1;
                }
        }
        printf("console-seed-enroll %.0f hosts/s\n", (double) hosts / ((now_mono_usec() - t0) / 1e6));
        fflush(stdout);

        uint64_t per_host = events / hosts ?: 1, step = SPAN_USEC / per_host, done = 0;
        IngestRecord *recs = calloc(ROUND, sizeof(IngestRecord));
        IngestRecord **ptrs = calloc(ROUND, sizeof(IngestRecord *));
        if (!recs || !ptrs)
                return 1;
        t0 = now_mono_usec();
        for (uint64_t base = 0; base < per_host; base += ROUND) {
                uint64_t n = per_host - base < ROUND ? per_host - base : ROUND;
                for (uint64_t h = 0; h < hosts; h++) {
                        char id[HOST_ID_LEN + 1];
                        ct_host_id((unsigned) h, id);
                        bool silent = h % 20 == 0;
                        uint64_t end = silent ? now - 3 * DAY_USEC : now;
                        for (uint64_t i = 0; i < n; i++) {
                                uint64_t seq = base + i + 1;
                                make_record(&recs[i], (unsigned) h, id, seq, end - SPAN_USEC + (seq - 1) * step + h * 1000u);
                                ptrs[i] = &recs[i];
                        }
                        r = storage_bulk_insert(s, id, ptrs, n, end);
                        for (uint64_t i = 0; i < n; i++)
                                record_done(&recs[i]);
                        if (r < 0) {
                                fprintf(stderr, "bench: bulk insert: %s\n", strerror(-r));
                                return 1;
                        }
                        done += n;
                }
                fprintf(stderr, "bench: %llu events stored\n", (unsigned long long) done);
        }
        printf("console-seed-build %.0f events/s\n", (double) done / ((now_mono_usec() - t0) / 1e6));
        storage_close(s);
        free(recs);
        free(ptrs);
        return 0;
}
