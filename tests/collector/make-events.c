/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test helper: appends N events to a real journal (journal_append: the agent's own chain) and writes its
 * NDJSON export (records, then the manifest line) to stdout.
 *   make-events JOURNAL HOST_ID HOST_NAME COUNT START_USEC STEP_USEC */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector-test-util.h"
#include "journal.h"
#include "strutil.h"

int main(int argc, char *argv[]) {
        uint64_t count, start, step;
        if (argc != 7 || parse_u64(argv[4], &count) < 0 || parse_u64(argv[5], &start) < 0 || parse_u64(argv[6], &step) < 0) {
                fprintf(stderr, "usage: make-events JOURNAL HOST_ID HOST_NAME COUNT START_USEC STEP_USEC\n");
                return 2;
        }
        JournalOptions o = { .host_id = argv[2], .host_name = argv[3] };
        Journal *j = NULL;
        int r = journal_open(argv[1], &o, &j);
        if (r < 0) {
                fprintf(stderr, "make-events: journal_open: %s\n", strerror(-r));
                return 1;
        }
        for (uint64_t i = 0; i < count; i++) {
                json_object *ev = ct_event(argv[2], argv[3], (unsigned) i, start + i * step);
                r = journal_append(j, ev, NULL);
                json_object_put(ev);
                if (r < 0) {
                        fprintf(stderr, "make-events: journal_append: %s\n", strerror(-r));
                        journal_close(j);
                        return 1;
                }
        }
        r = journal_flush(j);
        if (r >= 0)
                r = journal_export(j, &(JournalExportRange) {}, stdout, NULL);
        journal_close(j);
        if (r < 0) {
                fprintf(stderr, "make-events: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
