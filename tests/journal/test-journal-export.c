/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Export to NDJSON and verification of the export file, intact and tampered. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journal-test-util.h"
#include "macro.h"

#define T0 UINT64_C(1795651200000000)
#define HOUR UINT64_C(3600000000)

typedef struct Fixture {
        char *dir, *path;
        Journal *j;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        f->dir = jt_mkdtemp();
        f->path = jt_path(f->dir, "journal.db");
        JournalOptions o = { .host_id = "5f0c2a8e9b7d4e1f8a3c6b2d1e0f9a8b" };
        assert_int_equal(journal_open(f->path, &o, &f->j), 0);
        jt_append_n(f->j, 48, T0, HOUR); /* two days, one record an hour */
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        journal_close(f->j);
        jt_rm_rf(f->dir);
        free(f->path);
        free(f);
        return 0;
}

/* The export as an array of lines. */
typedef struct Lines {
        char *v[256];
        size_t n;
} Lines;

static void export_lines(Journal *j, const JournalExportRange *r, Lines *out, uint64_t *ret_count) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_int_equal(journal_export(j, r, f, ret_count), 0);
        fclose(f);
        out->n = 0;
        for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                assert_true(out->n < ELEMENTSOF(out->v));
                out->v[out->n++] = strdup(l);
        }
        free(buf);
}

static void lines_free(Lines *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        l->n = 0;
}

static JournalVerifyResult verify_lines(const Lines *l) {
        char *buf = NULL;
        size_t len = 0;
        FILE *w = open_memstream(&buf, &len);
        for (size_t i = 0; i < l->n; i++)
                fprintf(w, "%s\n", l->v[i]);
        fclose(w);
        FILE *r = fmemopen(buf, len ? len : 1, "r");
        JournalVerifyResult res;
        assert_int_equal(journal_verify_export(r, &res), 0);
        fclose(r);
        free(buf);
        return res;
}

static void expect(const Lines *l, JournalFault fault, uint64_t seq) {
        JournalVerifyResult r = verify_lines(l);
        if (r.intact || r.fault != fault || r.fault_sequence != seq)
                fail_msg("expected %s at %" PRIu64 ", got intact=%d %s at %" PRIu64 ": %s", journal_fault_to_string(fault),
                         seq, r.intact, journal_fault_to_string(r.fault), r.fault_sequence, r.detail);
}

static void replace_in(char **line, const char *from, const char *to) {
        char *p = strstr(*line, from);
        assert_non_null(p);
        char *n = NULL;
        assert_true(asprintf(&n, "%.*s%s%s", (int) (p - *line), *line, to, p + strlen(from)) > 0);
        free(*line);
        *line = n;
}

static void test_round_trip(void **state) {
        Fixture *f = *state;
        Lines l;
        uint64_t count = 0;
        export_lines(f->j, NULL, &l, &count);
        assert_int_equal(count, 48);
        assert_int_equal(l.n, 49);
        /* the manifest */
        json_object *m = json_tokener_parse(l.v[48]), *mm, *x;
        assert_true(json_object_object_get_ex(m, "mnguard_manifest", &mm));
        assert_true(json_object_object_get_ex(mm, "count", &x) && json_object_get_int64(x) == 48);
        assert_true(json_object_object_get_ex(mm, "first_sequence", &x) && json_object_get_int64(x) == 1);
        assert_true(json_object_object_get_ex(mm, "last_sequence", &x) && json_object_get_int64(x) == 48);
        assert_true(json_object_object_get_ex(mm, "host_id", &x));
        assert_string_equal(json_object_get_string(x), "5f0c2a8e9b7d4e1f8a3c6b2d1e0f9a8b");
        assert_true(json_object_object_get_ex(mm, "last_hash", &x));
        JournalVerifyResult db = jt_verify(f->j);
        assert_string_equal(json_object_get_string(x), db.last_hash);
        json_object_put(m);

        /* every record line carries its hash and parses */
        json_object *r0 = json_tokener_parse(l.v[0]), *mn, *h;
        assert_true(json_object_object_get_ex(r0, "mnguard", &mn) && json_object_object_get_ex(mn, "hash", &h));
        json_object_put(r0);

        JournalVerifyResult r = verify_lines(&l);
        assert_true(r.intact);
        assert_int_equal(r.n_records, 48);
        assert_int_equal(r.first_sequence, 1);
        assert_int_equal(r.last_sequence, 48);
        assert_string_equal(r.last_hash, db.last_hash);
        lines_free(&l);
}

static void test_range(void **state) {
        Fixture *f = *state;
        Lines l;
        uint64_t count = 0;
        /* the second day: records 25..48; the chain starts at record 24's hash */
        JournalExportRange rg = { .since_usec = T0 + 24 * HOUR, .until_usec = T0 + 48 * HOUR };
        export_lines(f->j, &rg, &l, &count);
        assert_int_equal(count, 24);
        JournalVerifyResult r = verify_lines(&l);
        assert_true(r.intact);
        assert_int_equal(r.first_sequence, 25);
        assert_int_equal(r.last_sequence, 48);
        lines_free(&l);

        JournalExportRange seqs = { .from_sequence = 10, .to_sequence = 12 };
        export_lines(f->j, &seqs, &l, &count);
        assert_int_equal(count, 3);
        assert_true(verify_lines(&l).intact);
        lines_free(&l);

        /* nothing in range: only a manifest, which verifies */
        JournalExportRange none = { .since_usec = T0 + 100 * HOUR };
        export_lines(f->j, &none, &l, &count);
        assert_int_equal(count, 0);
        assert_int_equal(l.n, 1);
        JournalVerifyResult e = verify_lines(&l);
        assert_true(e.intact);
        assert_int_equal(e.n_records, 0);
        lines_free(&l);
}

static void test_tampered(void **state) {
        Fixture *f = *state;
        Lines l;
        export_lines(f->j, NULL, &l, NULL);

        /* a changed value */
        char *orig = strdup(l.v[9]);
        replace_in(&l.v[9], "\"name\":\"sato\"", "\"name\":\"root\"");
        expect(&l, JOURNAL_FAULT_MODIFIED, 10);
        free(l.v[9]);
        l.v[9] = orig;
        assert_true(verify_lines(&l).intact);

        /* not canonical any more (a space), though it means the same */
        orig = strdup(l.v[4]);
        replace_in(&l.v[4], "\"outcome\":", "\"outcome\": ");
        expect(&l, JOURNAL_FAULT_MALFORMED, 5);
        free(l.v[4]);
        l.v[4] = orig;

        /* a deleted line */
        char *gone = l.v[20];
        memmove(&l.v[20], &l.v[21], (l.n - 21) * sizeof(char *));
        l.n--;
        expect(&l, JOURNAL_FAULT_MISSING, 21);
        memmove(&l.v[21], &l.v[20], (l.n - 20) * sizeof(char *));
        l.v[20] = gone;
        l.n++;

        /* two lines swapped */
        char *t = l.v[30];
        l.v[30] = l.v[31];
        l.v[31] = t;
        expect(&l, JOURNAL_FAULT_MISSING, 31); /* 30, 32, 31: at 32, 31 is missing */
        l.v[31] = l.v[30];
        l.v[30] = t;

        /* a line put in (a copy of another one) */
        char *copy = strdup(l.v[5]);
        memmove(&l.v[8], &l.v[7], (l.n - 7) * sizeof(char *));
        l.v[7] = copy;
        l.n++;
        expect(&l, JOURNAL_FAULT_SEQUENCE, 6);
        free(copy);
        memmove(&l.v[7], &l.v[8], (l.n - 8) * sizeof(char *));
        l.n--;

        /* the last records and the manifest cut off */
        size_t n = l.n;
        l.n = 40;
        expect(&l, JOURNAL_FAULT_MANIFEST, 41);
        /* the last record cut off, the manifest kept */
        char *m = l.v[40];
        l.v[40] = l.v[48];
        l.n = 41;
        expect(&l, JOURNAL_FAULT_MANIFEST, 41);
        l.v[40] = m;
        l.n = n;

        /* a manifest that lies about the last hash */
        orig = strdup(l.v[48]);
        replace_in(&l.v[48], "\"last_hash\":\"", "\"last_hash\":\"0");
        l.v[48][strlen(l.v[48]) - 3] = '"';
        memmove(l.v[48] + strlen(l.v[48]) - 2, "}}", 3);
        assert_false(verify_lines(&l).intact);
        free(l.v[48]);
        l.v[48] = orig;

        /* garbage */
        orig = l.v[0];
        l.v[0] = strdup("{\"event\":");
        expect(&l, JOURNAL_FAULT_MALFORMED, 0);
        free(l.v[0]);
        l.v[0] = orig;
        assert_true(verify_lines(&l).intact);
        lines_free(&l);
}

/* journal_exporter_record(): each record's sequence and whether host.id is a given one, as the reporter
 * reads them (a snapshot: one read transaction). A record of another host (a cloned image's history), one
 * naming a host only inside another object or a string, and one without a host are not the host's. */
static void test_exporter_record(void **state) {
        Fixture *f = *state;
        const char *ours = "5f0c2a8e9b7d4e1f8a3c6b2d1e0f9a8b";
        json_object *ev = jt_event(100, T0 + 100 * HOUR), *h;
        assert_true(json_object_object_get_ex(ev, "host", &h));
        json_object_object_add(h, "id", json_object_new_string("00000000000000000000000000000000"));
        assert_int_equal(journal_append(f->j, ev, NULL), 0);                     /* 49: another host */
        json_object_put(ev);
        ev = jt_event(101, T0 + 101 * HOUR);
        json_object_object_del(ev, "host");
        json_object *decoy = json_object_new_object(), *dh = json_object_new_object();
        json_object_object_add(dh, "id", json_object_new_string(ours));
        json_object_object_add(decoy, "host", dh);
        json_object_object_add(ev, "parent", decoy);
        json_object_object_add(ev, "note", json_object_new_string("\"host\":{\"id\":\"5f0c2a8e9b7d4e1f8a3c6b2d1e0f9a8b\"}"));
        assert_int_equal(journal_append(f->j, ev, NULL), 0);                     /* 50: no host.id */
        json_object_put(ev);
        ev = jt_event(102, T0 + 102 * HOUR);
        assert_int_equal(journal_append(f->j, ev, NULL), 0);                     /* 51: ours again */
        json_object_put(ev);
        assert_int_equal(journal_flush(f->j), 0);

        JournalExportRange range = { .from_sequence = 47, .snapshot = true };
        JournalExporter *e = NULL;
        assert_int_equal(journal_exporter_new(f->j, &range, &e), 0);
        uint64_t seq = 0;
        bool is = false;
        assert_int_equal(journal_exporter_record(e, ours, &seq, &is), -ENODATA);
        const bool want[] = { true, true, false, false, true };
        const char *line;
        size_t len;
        for (uint64_t k = 47; k <= 51; k++) {
                assert_int_equal(journal_exporter_next(e, &line, &len), 1);
                assert_int_equal(journal_exporter_record(e, ours, &seq, &is), 0);
                assert_int_equal(seq, k);
                assert_int_equal(is, want[k - 47]);
                assert_int_equal(journal_exporter_record(e, "5f0c2a8e9b7d4e1f8a3c6b2d1e0f9a8", NULL, &is), 0);
                assert_false(is);                                               /* a prefix is not it */
        }
        assert_int_equal(journal_exporter_next(e, &line, &len), 1);             /* the manifest */
        assert_int_equal(journal_exporter_record(e, ours, &seq, &is), -ENODATA);
        journal_exporter_free(e);
        /* the read transaction ended with the exporter: the journal takes records again */
        ev = jt_event(103, T0 + 103 * HOUR);
        assert_int_equal(journal_append(f->j, ev, NULL), 0);
        json_object_put(ev);
        assert_int_equal(journal_flush(f->j), 0);
        assert_int_equal(journal_durable_sequence(f->j), 52);
}

static void test_export_from_readonly_copy(void **state) {
        Fixture *f = *state;
        Journal *r = NULL;
        assert_int_equal(journal_open_readonly(f->path, &r), 0);
        Lines l;
        uint64_t count;
        export_lines(r, NULL, &l, &count);
        assert_int_equal(count, 48);
        assert_true(verify_lines(&l).intact);
        lines_free(&l);
        journal_close(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_range, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_export_from_readonly_copy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exporter_record, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
