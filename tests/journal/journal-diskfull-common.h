/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The part of the disk-full tests that is the same whatever made writes fail: writes fail, events stay
 * queued up to the bound, later ones are counted, and once writing works again everything kept is there,
 * followed by one journal-gap record with the count. Included by test-journal-diskfull.c and
 * test-journal-sizecap.c. */

#include <inttypes.h>

#include "journal-test-util.h"

#define DF_T0 UINT64_C(1795651200000000)
#define DF_BACKLOG 200u

typedef struct DiskFull {
        unsigned committed;     /* before writes failed */
        unsigned kept;          /* appended while failing, kept in memory */
        unsigned lost;          /* appended while failing, refused */
} DiskFull;

static inline uint64_t df_rows(const char *path) {
        Journal *r = NULL;
        JournalStats st;
        assert_int_equal(journal_open_readonly(path, &r), 0);
        assert_int_equal(journal_get_stats(r, &st), 0);
        JournalQuery q = {};
        uint64_t n = jt_count(r, &q);
        journal_close(r);
        return n;
}

/* Appends until a flush fails, then until the backlog refuses events; checks that nothing failed silently. */
static inline void df_fill(Journal *j, const char *path, DiskFull *d) {
        JournalStats st;
        uint64_t durable = journal_durable_sequence(j);
        int r = 0;
        unsigned i;

        for (i = 0; i < 100000 && r == 0; i++) {
                json_object *e = jt_event(i, DF_T0 + i);
                assert_int_equal(journal_append(j, e, NULL), 0);
                json_object_put(e);
                if (i % 10 == 9)
                        r = journal_flush(j);
        }
        assert_int_equal(r, -ENOSPC);
        assert_int_equal(journal_get_stats(j, &st), 0);
        assert_int_equal(st.last_error, -ENOSPC);
        assert_true(st.n_write_failures >= 1);
        assert_int_equal(st.n_pending, 10);
        d->committed = (unsigned) journal_durable_sequence(j);
        assert_true(d->committed >= durable);
        /* what failed is not on disk: another reader sees exactly the committed records */
        assert_int_equal(df_rows(path), d->committed);

        d->kept = 10;
        d->lost = 0;
        for (unsigned k = 0; k < DF_BACKLOG + 50; k++) {
                json_object *e = jt_event(k, DF_T0 + 1000000 + k);
                r = journal_append(j, e, NULL);
                json_object_put(e);
                if (r == 0)
                        d->kept++;
                else {
                        assert_int_equal(r, -ENOBUFS);
                        d->lost++;
                }
                if (k % 25 == 0)
                        assert_int_equal(journal_flush(j), -ENOSPC); /* retried, still failing */
        }
        assert_int_equal(d->kept, DF_BACKLOG);
        assert_int_equal(d->lost, DF_BACKLOG + 50 - (DF_BACKLOG - 10)); /* 10 were pending already */
        assert_int_equal(journal_get_stats(j, &st), 0);
        assert_int_equal(st.n_lost, d->lost);
        assert_int_equal(journal_durable_sequence(j), d->committed);
        assert_true(journal_flush_deadline(j) != UINT64_MAX);
}

static int df_gap(const JournalRecord *r, void *userdata) {
        json_object *o = json_tokener_parse(r->json), *mn, *gap, *lost, *ev, *seq;
        assert_true(json_object_object_get_ex(o, "mnguard", &mn) && json_object_object_get_ex(mn, "gap", &gap) &&
                    json_object_object_get_ex(gap, "lost", &lost));
        assert_true(json_object_object_get_ex(o, "event", &ev) && json_object_object_get_ex(ev, "sequence", &seq));
        ((uint64_t *) userdata)[0] = (uint64_t) json_object_get_int64(lost);
        ((uint64_t *) userdata)[1] = (uint64_t) json_object_get_int64(seq);
        json_object_put(o);
        return 0;
}

/* After writing works again (and extra records the recovery itself wrote): everything kept is on disk,
 * one journal-gap record counts the lost ones, the chain verifies. */
static inline void df_check_recovered(Journal *j, const char *path, const DiskFull *d, unsigned extra) {
        JournalStats st;
        uint64_t total = (uint64_t) d->committed + d->kept + extra + 1;
        assert_int_equal(journal_get_stats(j, &st), 0);
        assert_int_equal(st.n_pending, 0);
        assert_int_equal(st.n_lost, 0);
        assert_int_equal(st.n_lost_total, d->lost);
        assert_int_equal(st.last_error, 0);
        assert_int_equal(journal_durable_sequence(j), total);

        uint64_t gap[2] = {};
        JournalQuery q = { .action = "journal-gap" };
        assert_int_equal(jt_count(j, &q), 1);
        assert_int_equal(journal_query(j, &q, df_gap, gap, NULL), 0);
        assert_int_equal(gap[0], d->lost);
        assert_int_equal(gap[1], total);

        JournalVerifyResult v = jt_verify_path(path);
        if (!v.intact)
                fail_msg("%s", v.detail);
        assert_int_equal(v.last_sequence, total);
}
