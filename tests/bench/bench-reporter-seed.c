/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Seeds an agent's state directory with a backlog for bench-reporter.py: the host identity (the one
 * mnguardd will load from there, host-id.c) and a journal of N records written as mnguardd writes them
 * (mn_event_new() + mn_device_event_fields() as usb-watch.c's record_decision(), host and policy fields as
 * manager_log(), journal_append() with group commit). Each record is a USB stick blocked, ~690 bytes of
 * canonical JSON; user and serial change with every record, cycling through USERS users and SERIALS serials
 * (default 200 and 5,000, as bench-journal: the many insertion points make it the hard case for the journal's
 * and the collector's user and device indexes); timestamps 50 ms apart, ending now. Prints "host_id ID",
 * "last_sequence N", "record_bytes_avg B" and "seed_seconds S" lines.
 * Usage: bench-reporter-seed STATE_DIR MACHINE_ID_FILE EVENTS [USERS SERIALS] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "device-json.h"
#include "event.h"
#include "fileio.h"
#include "host-id.h"
#include "journal.h"
#include "macro.h"
#include "manager.h"
#include "strutil.h"

/* Time between two seeded events: 1,000,000 events span ~14 hours before now. */
#define STEP_USEC UINT64_C(50000)
#define POLICY_SERIAL UINT64_C(2026112601)

static double now_s(void) {
        return (double) now_mono_usec() / 1e6;
}

static int die(const char *what, int r) {
        fprintf(stderr, "bench-reporter-seed: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

/* A blocked USB stick: the record usb-watch.c writes for a storage device the policy refuses. */
static json_object *blocked_stick(unsigned i, unsigned users, unsigned serials, const char *host_id,
                                  const char *host_name, uint64_t ts_usec) {
        char serial[32], user[16], ts[JOURNAL_TIMESTAMP_MAX];
        snprintf(serial, sizeof(serial), "4C5300012301%08u", i % serials);
        snprintf(user, sizeof(user), "user%u", i % users);
        MnDevice d = {
                .syspath = (char *) "/devices/pci0000:00/0000:00:14.0/usb1/1-2",
                .sysname = (char *) "1-2",
                .bus = (char *) "usb",
                .has_ids = true,
                .vendor = 0x0781,
                .product = 0x5581,
                .serial = serial,
                .manufacturer = (char *) "SanDisk",
                .model = (char *) "Cruzer Blade",
                .has_authorized = true,
                .classes = USB_CLASS_BIT(USB_CLASS_STORAGE),
        };
        json_object *ev = mn_event_new("device-blocked", MN_OUTCOME_SUCCESS, "default storage block");
        if (!ev)
                die("mn_event_new", -ENOMEM);
        json_object_object_add(ev, "@timestamp", json_object_new_string(journal_timestamp_format(ts_usec, ts)));
        if (mn_device_event_fields(mn_event_section(ev, "device"), &d) < 0)
                die("mn_device_event_fields", -ENOMEM);
        json_object *u = mn_event_section(ev, "user");
        mn_event_set_untrusted(u, "name", user);
        json_object_object_add(u, "id", json_object_new_int64(1001 + (int64_t) (i % users)));
        json_object *mg = mn_event_section(ev, "mnguard");
        mn_event_set_string(mg, "rule", "default-storage");
        mn_event_set_string(mg, "decision", "block");
        /* manager_log() */
        json_object *host = mn_event_section(ev, "host");
        mn_event_set_string(host, "id", host_id);
        mn_event_set_untrusted(host, "name", host_name);
        json_object_object_add(mg, "policy_serial", json_object_new_uint64(POLICY_SERIAL));
        return ev;
}

int main(int argc, char **argv) {
        uint64_t n, users = 200, serials = 5000;
        if ((argc != 4 && argc != 6) || parse_u64(argv[3], &n) < 0 || n == 0 || n > UINT32_MAX ||
            (argc == 6 && (parse_u64(argv[4], &users) < 0 || parse_u64(argv[5], &serials) < 0)) ||
            users == 0 || users > 100000 || serials == 0 || serials > 100000000) {
                fprintf(stderr, "usage: bench-reporter-seed STATE_DIR MACHINE_ID_FILE EVENTS [USERS SERIALS]\n");
                return 2;
        }
        const char *state = argv[1], *machine_id = argv[2];
        int r = mkdir_safe(state, 0700);
        if (r < 0)
                die(state, r);
        HostIdentity id;
        if ((r = host_identity_load(state, machine_id, &id)) < 0)
                die("host_identity_load", r);
        char host_name[256] = "";
        if (gethostname(host_name, sizeof(host_name) - 1) < 0 || !host_name[0])
                snprintf(host_name, sizeof(host_name), "mn-pc-bench");

        char *path = NULL;
        if (asprintf(&path, "%s/%s", state, MANAGER_JOURNAL_FILE) < 0)
                die("asprintf", -ENOMEM);
        JournalOptions o = { .host_id = id.host_id, .host_name = host_name };
        Journal *j = NULL;
        if ((r = journal_open(path, &o, &j)) < 0)
                die(path, r);

        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        uint64_t end_usec = (uint64_t) rt.tv_sec * UINT64_C(1000000) + (uint64_t) rt.tv_nsec / 1000;
        uint64_t last = 0, bytes = 0;
        double t0 = now_s();
        for (uint64_t i = 0; i < n; i++) {
                json_object *ev = blocked_stick((unsigned) i, (unsigned) users, (unsigned) serials, id.host_id,
                                                host_name, end_usec - (n - i) * STEP_USEC);
                /* journal_append() starts a commit of its own every JOURNAL_FLUSH_MAX_EVENTS (group commit) */
                if ((r = journal_append(j, ev, &last)) < 0)
                        die("journal_append", r);
                if (i % 1000 == 0) {
                        /* the size as journaled: canonical JSON with sequence, prev_hash and hash */
                        _cleanup_free_ char *canon = NULL;
                        size_t len = 0;
                        if (journal_canonical_json(ev, &canon, &len) == 0)
                                bytes += len;
                }
                json_object_put(ev);
        }
        if ((r = journal_flush(j)) < 0)
                die("journal_flush", r);
        double t = now_s() - t0;
        journal_close(j);
        free(path);

        printf("host_id %s\n", id.host_id);
        printf("last_sequence %llu\n", (unsigned long long) last);
        printf("record_bytes_avg %.0f\n", (double) bytes / (double) ((n + 999) / 1000));
        printf("seed_seconds %.2f\n", t);
        return 0;
}
