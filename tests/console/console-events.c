/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helper for the console: a terminal's history in a real journal (journal_append: the agent's own
 * chain) — agent-started naming an agent version, policy-applied naming a serial, then COUNT events as
 * mnguardd records them (tests/collector's ct_event) under that policy serial — written out as the journal's
 * NDJSON export (records, then the manifest line).
 *   console-events JOURNAL HOST_ID HOST_NAME VERSION SERIAL COUNT START_USEC STEP_USEC */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector-test-util.h"
#include "journal.h"
#include "strutil.h"

static json_object *lifecycle(const char *action, const char *host_id, const char *host_name, const char *version,
                              uint64_t serial, uint64_t ts) {
        char stamp[JOURNAL_TIMESTAMP_MAX];
        json_object *ev = json_object_new_object(), *e = json_object_new_object(), *h = json_object_new_object(),
                    *m = json_object_new_object();
        json_object_object_add(ev, "@timestamp", json_object_new_string(journal_timestamp_format(ts, stamp)));
        json_object_object_add(ev, "event", e);
        json_object_object_add(e, "action", json_object_new_string(action));
        json_object_object_add(e, "outcome", json_object_new_string("success"));
        json_object_object_add(ev, "host", h);
        json_object_object_add(h, "id", json_object_new_string(host_id));
        json_object_object_add(h, "name", json_object_new_string(host_name));
        json_object_object_add(ev, "mnguard", m);
        json_object_object_add(m, "policy_serial", json_object_new_uint64(serial));
        json_object_object_add(m, "policy_name", json_object_new_string("取手市 マイナンバー利用事務系 標準"));
        if (version)
                json_object_object_add(m, "version", json_object_new_string(version));
        return ev;
}

int main(int argc, char *argv[]) {
        uint64_t serial, count, start, step;
        if (argc != 9 || parse_u64(argv[5], &serial) < 0 || parse_u64(argv[6], &count) < 0 ||
            parse_u64(argv[7], &start) < 0 || parse_u64(argv[8], &step) < 0) {
                fprintf(stderr, "usage: console-events JOURNAL HOST_ID HOST_NAME VERSION SERIAL COUNT START_USEC STEP_USEC\n");
                return 2;
        }
        const char *host_id = argv[2], *host_name = argv[3], *version = argv[4];
        JournalOptions o = { .host_id = host_id, .host_name = host_name };
        Journal *j = NULL;
        int r = journal_open(argv[1], &o, &j);
        if (r < 0) {
                fprintf(stderr, "console-events: journal_open: %s\n", strerror(-r));
                return 1;
        }
        for (uint64_t i = 0; i < count + 2 && r >= 0; i++) {
                uint64_t ts = start + i * step;
                json_object *ev;
                if (i == 0)
                        ev = lifecycle("agent-started", host_id, host_name, version, serial, ts);
                else if (i == 1)
                        ev = lifecycle("policy-applied", host_id, host_name, NULL, serial, ts);
                else {
                        ev = ct_event(host_id, host_name, (unsigned) (i - 2), ts);
                        json_object *m = NULL;
                        json_object_object_get_ex(ev, "mnguard", &m);
                        json_object_object_add(m, "policy_serial", json_object_new_uint64(serial));
                }
                r = journal_append(j, ev, NULL);
                json_object_put(ev);
        }
        if (r >= 0)
                r = journal_flush(j);
        if (r >= 0)
                r = journal_export(j, &(JournalExportRange) {}, stdout, NULL);
        journal_close(j);
        if (r < 0) {
                fprintf(stderr, "console-events: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
