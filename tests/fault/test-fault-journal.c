/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Allocation-failure torture of the journal (docs/testing.md "Fault injection"): its whole life in one
 * scenario (create, append events of different sizes, commit, reopen, verify, export and verify the
 * export, query, prune with an anchor, read-only open) and the set-aside of a corrupt journal. After every
 * round, without failures: the journal opens, is never set aside for a failure that was only memory,
 * verifies, and holds every record that was reported durable, with its hash; every call that returned
 * success returned the truth. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault.h"
#include "journal.h"

#define HOST_ID "5f0c2a8e9b7d4e1f8a3c6b2d1e0f9a8b"
#define HOST_NAME "mn-pc-0123"
#define T0 UINT64_C(1795651200000000) /* 2026-11-26T00:00:00Z */
#define SEC UINT64_C(1000000)
#define DAY (86400 * SEC)
#define NOT_CALLED INT_MIN

/* Events 0-5 are old (the prune removes them), 6-8 recent. */
#define N_OLD 6
#define N_EVENTS 9

static void add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0)
                fault_fail("cannot build the event (%s)", key);
}

static json_object *obj(void) {
        json_object *o = json_object_new_object();
        if (!o)
                abort();
        return o;
}

/* A device event as the daemon writes it. */
static json_object *device_event(uint64_t ts, const char *action, const char *user) {
        char t[JOURNAL_TIMESTAMP_MAX];
        json_object *ev = obj(), *e = obj(), *h = obj(), *u = obj(), *d = obj(), *m = obj(), *cls = json_object_new_array();
        add(ev, "@timestamp", json_object_new_string(journal_timestamp_format(ts, t)));
        add(ev, "event", e);
        add(e, "action", json_object_new_string(action));
        add(e, "outcome", json_object_new_string("success"));
        add(e, "reason", json_object_new_string("default storage block"));
        add(ev, "host", h);
        add(h, "id", json_object_new_string(HOST_ID));
        add(h, "name", json_object_new_string(HOST_NAME));
        add(ev, "user", u);
        add(u, "name", json_object_new_string(user));
        add(u, "id", json_object_new_int(1001));
        add(ev, "device", d);
        add(d, "vendor", json_object_new_string("0781"));
        add(d, "product", json_object_new_string("5581"));
        add(d, "serial", json_object_new_string("4C530001230112345678"));
        add(d, "model", json_object_new_string("Cruzer Blade \"改\"\tß"));
        if (json_object_array_add(cls, json_object_new_string("storage")) < 0)
                abort();
        add(d, "classes", cls);
        add(ev, "mnguard", m);
        add(m, "policy_serial", json_object_new_uint64(2026112601));
        add(m, "rule", json_object_new_string("default"));
        return ev;
}

/* Event k of the scenario: different sizes and shapes (a minimal one, a large one, escapes, an object with
 * more keys than the canonical writer keeps on its stack, deep nesting, one without @timestamp). */
static json_object *scenario_event(unsigned k) {
        char t[JOURNAL_TIMESTAMP_MAX];
        uint64_t ts = k < N_OLD ? T0 + k * SEC : T0 + 10 * DAY + k * SEC;
        json_object *ev, *x;

        switch (k) {
        case 0:
                ev = obj();
                add(ev, "@timestamp", json_object_new_string(journal_timestamp_format(ts, t)));
                x = obj();
                add(ev, "event", x);
                add(x, "action", json_object_new_string("agent-started"));
                return ev;
        case 2: {
                char *big = malloc(6001);
                if (!big)
                        abort();
                for (size_t i = 0; i < 6000; i++)
                        big[i] = (char) ('a' + i % 26);
                big[6000] = 0;
                ev = device_event(ts, "file-written", "tanaka");
                x = obj();
                add(ev, "file", x);
                add(x, "path", json_object_new_string(big));
                free(big);
                return ev;
        }
        case 3:
                ev = device_event(ts, "device-blocked", "sato");
                json_object_object_del(ev, "event");
                x = obj();
                add(ev, "event", x);
                add(x, "action", json_object_new_string("device-blocked"));
                add(x, "reason", json_object_new_string("tab\tnewline\ncontrol\x01 \"quoted\" back\\slash é 漢字 😀 /"));
                return ev;
        case 4: {
                ev = device_event(ts, "print-job", "suzuki");
                x = obj();
                add(ev, "labels", x);
                for (unsigned i = 0; i < 40; i++) {
                        char key[16];
                        snprintf(key, sizeof(key), "k%02u", 39 - i);
                        add(x, key, json_object_new_int64((int64_t) i * 1000003 - 7));
                }
                json_object *a = json_object_new_array();
                for (int i = 0; i < 20; i++)
                        if (json_object_array_add(a, json_object_new_int(i - 10)) < 0)
                                abort();
                add(ev, "numbers", a);
                return ev;
        }
        case 5: {
                ev = device_event(ts, "clipboard-blocked", "takahashi");
                x = ev;
                for (unsigned i = 0; i < 10; i++) {
                        json_object *y = obj();
                        add(x, "nested", y);
                        x = y;
                }
                add(x, "leaf", json_object_new_boolean(1));
                if (json_object_object_add(x, "none", NULL) < 0) /* JSON null is json-c's NULL */
                        abort();
                return ev;
        }
        case 1:
        case 7:
                return device_event(ts, "device-connected", "sato");
        case 6:
                return device_event(ts, "device-allowed", "takahashi");
        default:
                ev = obj();
                x = obj();
                add(ev, "event", x);
                add(x, "action", json_object_new_string("agent-stopped"));
                return ev;
        }
}

static bool is_sato(unsigned k) {
        return k == 1 || k == 3 || k == 7;
}

typedef struct Rec {
        uint64_t seq;
        char hash[JOURNAL_HASH_HEX_SIZE];
        unsigned k;
        bool durable;           /* a flush said so */
} Rec;

typedef struct Ctx {
        char *dir, *path, *export_path;
        json_object *ev[N_EVENTS];
        Rec recs[N_EVENTS];
        size_t n_recs;
        bool append_wrote_seq;  /* a failed append wrote its sequence out */
        bool flush_lied;        /* a flush returned 0 with records still not durable */
        bool open_wrote_ret;    /* a failed open wrote *ret */
        int open_r, flush_r[2], acked_r, reopen_r, verify_r, export_r, vexport_r, query_r, prune_r, verify2_r, ro_r,
                ro_verify_r;
        uint64_t acked, export_count, query_count;
        JournalVerifyResult vres, xres, vres2, rores;
} Ctx;

static void *lifecycle_setup(const char *dir) {
        Ctx *c = calloc(1, sizeof(Ctx));
        if (!c || asprintf(&c->path, "%s/journal.db", dir) < 0 || asprintf(&c->export_path, "%s/export.ndjson", dir) < 0 ||
            !(c->dir = strdup(dir)))
                abort();
        for (unsigned k = 0; k < N_EVENTS; k++)
                c->ev[k] = scenario_event(k);
        c->open_r = c->reopen_r = c->verify_r = c->export_r = c->vexport_r = c->query_r = c->prune_r = c->verify2_r =
                c->flush_r[0] = c->flush_r[1] = c->acked_r = c->ro_r = c->ro_verify_r = NOT_CALLED;
        return c;
}

static void append_range(Ctx *c, Journal *j, unsigned from, unsigned to) {
        for (unsigned k = from; k < to; k++) {
                uint64_t seq = 0;
                int r = journal_append(j, c->ev[k], &seq);
                if (r < 0) {
                        if (seq != 0)
                                c->append_wrote_seq = true;
                        continue;
                }
                json_object *mn = NULL, *h = NULL;
                Rec *rec = &c->recs[c->n_recs++];
                rec->seq = seq;
                rec->k = k;
                if (json_object_object_get_ex(c->ev[k], "mnguard", &mn) && json_object_object_get_ex(mn, "hash", &h))
                        snprintf(rec->hash, sizeof(rec->hash), "%s", json_object_get_string(h));
        }
}

static void flush(Ctx *c, Journal *j, int *ret) {
        int r = journal_flush(j);
        if (r < 0)
                r = journal_flush(j); /* the retry interval is 1 µs: a second try, as the daemon's loop does later */
        *ret = r;
        if (r < 0)
                return;
        uint64_t d = journal_durable_sequence(j);
        for (size_t i = 0; i < c->n_recs; i++) {
                if (c->recs[i].seq <= d)
                        c->recs[i].durable = true;
                else
                        c->flush_lied = true;
        }
}

static int count_cb(const JournalRecord *r, void *userdata) {
        (*(uint64_t *) userdata)++;
        return 0;
}

static void lifecycle_run(void *userdata) {
        Ctx *c = userdata;
        JournalOptions o = { .host_id = HOST_ID, .host_name = HOST_NAME, .retry_usec = 1 };
        Journal *j = NULL, *bogus = (Journal *) &o;
        FILE *f;

        j = bogus;
        c->open_r = journal_open(c->path, &o, &j);
        if (c->open_r < 0) {
                c->open_wrote_ret = j != bogus;
                return;
        }
        append_range(c, j, 0, N_OLD);
        flush(c, j, &c->flush_r[0]);
        append_range(c, j, N_OLD, N_EVENTS);
        flush(c, j, &c->flush_r[1]);
        c->acked = journal_durable_sequence(j);
        c->acked_r = journal_set_acked(j, c->acked);
        j = journal_close(j);

        j = bogus;
        c->reopen_r = journal_open(c->path, &o, &j);
        if (c->reopen_r < 0) {
                c->open_wrote_ret |= j != bogus;
                return;
        }
        c->verify_r = journal_verify(j, &c->vres);

        fault_pause();
        f = fopen(c->export_path, "we");
        fault_resume();
        if (!f)
                abort();
        c->export_r = journal_export(j, NULL, f, &c->export_count);
        fault_pause();
        fclose(f);
        f = fopen(c->export_path, "re");
        fault_resume();
        if (!f)
                abort();
        c->vexport_r = journal_verify_export(f, &c->xres);
        fault_pause();
        fclose(f);
        fault_resume();

        c->query_r = journal_query(j, &(JournalQuery) { .user = "sato" }, count_cb, &(uint64_t) { 0 }, &c->query_count);
        c->prune_r = journal_prune(j, &(JournalRetention) { .max_age_usec = 5 * DAY }, T0 + 10 * DAY + 3600 * SEC);
        c->verify2_r = journal_verify(j, &c->vres2);
        j = journal_close(j);

        c->ro_r = journal_open_readonly(c->path, &j);
        if (c->ro_r < 0)
                return;
        c->ro_verify_r = journal_verify(j, &c->rores);
        j = journal_close(j);
}

static bool is_errno(int r) {
        return r < 0 && r > -4096;
}

static unsigned count_set_aside(const char *dir) {
        DIR *d = opendir(dir);
        unsigned n = 0;
        if (!d)
                fault_fail("opendir %s: %m", dir);
        for (struct dirent *de; (de = readdir(d));) {
                size_t l = strlen(de->d_name);
                if (strncmp(de->d_name, "journal.db.corrupt-", 19) == 0 &&
                    !(l > 4 && (strcmp(de->d_name + l - 4, "-wal") == 0 || strcmp(de->d_name + l - 4, "-shm") == 0)))
                        n++;
        }
        closedir(d);
        return n;
}

typedef struct Found {
        uint64_t n;
        uint64_t seq[64];
        char hash[64][JOURNAL_HASH_HEX_SIZE];
} Found;

static int collect_cb(const JournalRecord *r, void *userdata) {
        Found *f = userdata;
        if (f->n >= ELEMENTSOF(f->seq))
                return -E2BIG;
        json_object *o = json_tokener_parse(r->json), *mn, *h;
        f->seq[f->n] = r->sequence;
        f->hash[f->n][0] = 0;
        if (o && json_object_object_get_ex(o, "mnguard", &mn) && json_object_object_get_ex(mn, "hash", &h))
                snprintf(f->hash[f->n], JOURNAL_HASH_HEX_SIZE, "%s", json_object_get_string(h));
        json_object_put(o);
        f->n++;
        return 0;
}

static const char *found_hash(const Found *f, uint64_t seq) {
        for (uint64_t i = 0; i < f->n; i++)
                if (f->seq[i] == seq)
                        return f->hash[i];
        return NULL;
}

/* The journal at path after the round: opens without failures, verifies, holds what the round was told is
 * durable. Fills *found, returns the anchor. */
static uint64_t check_journal(Ctx *c, Journal **ret, Found *found) {
        Journal *j = NULL;
        JournalVerifyResult v;
        JournalStats st;
        int r;

        r = journal_open(c->path, NULL, &j);
        fault_checkf(r == 0, "the journal does not open after the round: %s", strerror(-r));
        fault_checkf(count_set_aside(c->dir) == 0, "a healthy journal was set aside as corrupt");
        r = journal_verify(j, &v);
        fault_checkf(r == 0 && v.intact, "the journal does not verify after the round: %s %s",
                     r < 0 ? strerror(-r) : "", r < 0 ? "" : v.detail);
        fault_check(journal_get_stats(j, &st) == 0);
        *found = (Found) {};
        fault_check(journal_query(j, &(JournalQuery) {}, collect_cb, found, NULL) == 0);
        for (size_t i = 0; i < c->n_recs; i++) {
                const Rec *rec = &c->recs[i];
                const char *h = found_hash(found, rec->seq);
                if (i > 0)
                        fault_checkf(rec->seq == c->recs[i - 1].seq + 1, "appends got sequences %" PRIu64 " and %" PRIu64,
                                     c->recs[i - 1].seq, rec->seq);
                if (rec->seq <= st.anchor_sequence)
                        continue;
                if (rec->durable)
                        fault_checkf(h, "record %" PRIu64 " was reported durable and is gone", rec->seq);
                if (h)
                        fault_checkf(streq(h, rec->hash), "record %" PRIu64 " is stored with another hash", rec->seq);
        }
        *ret = j;
        return st.anchor_sequence;
}

static void lifecycle_check(void *userdata) {
        Ctx *c = userdata;
        int rs[] = { c->open_r, c->flush_r[0], c->flush_r[1], c->acked_r, c->reopen_r, c->verify_r, c->export_r,
                     c->vexport_r, c->query_r, c->prune_r, c->verify2_r, c->ro_r, c->ro_verify_r };
        for (size_t i = 0; i < ELEMENTSOF(rs); i++)
                fault_checkf(rs[i] >= 0 || rs[i] == NOT_CALLED || is_errno(rs[i]), "call %zu returned %d", i, rs[i]);
        fault_checkf(!c->open_wrote_ret, "a failed journal_open() wrote *ret");
        fault_checkf(!c->append_wrote_seq, "a failed journal_append() wrote *ret_sequence");
        fault_checkf(!c->flush_lied, "journal_flush() returned 0 with appended records not durable");

        Journal *j = NULL;
        Found found;
        uint64_t anchor = check_journal(c, &j, &found);

        /* what each call said when it said success */
        fault_checkf(c->verify_r != 0 || c->vres.intact, "journal_verify() said \"%s\" about an intact journal", c->vres.detail);
        fault_checkf(c->verify2_r != 0 || c->vres2.intact, "journal_verify() after pruning said \"%s\" about an intact journal",
                     c->vres2.detail);
        fault_checkf(c->ro_verify_r != 0 || c->rores.intact, "journal_verify() (read-only) said \"%s\" about an intact journal",
                     c->rores.detail);
        fault_checkf(c->vexport_r != 0 || c->export_r != 0 || (c->xres.intact && c->xres.n_records == c->export_count),
                     "journal_verify_export() said \"%s\" (%" PRIu64 " records) about an intact export of %" PRIu64,
                     c->xres.detail, c->xres.n_records, c->export_count);
        if (c->export_r == 0) {
                JournalVerifyResult x;
                FILE *f = fopen(c->export_path, "re");
                fault_check(f);
                fault_check(journal_verify_export(f, &x) == 0);
                fclose(f);
                fault_checkf(x.intact && x.n_records == c->export_count, "the export does not verify: %s", x.detail);
                for (size_t i = 0; i < c->n_recs; i++)
                        fault_checkf(!c->recs[i].durable || c->recs[i].seq <= c->export_count,
                                     "record %" PRIu64 " is missing from the export", c->recs[i].seq);
        }
        if (c->query_r == 0) {
                uint64_t want = 0;
                for (size_t i = 0; i < c->n_recs; i++)
                        if (is_sato(c->recs[i].k) && (c->recs[i].seq <= anchor || found_hash(&found, c->recs[i].seq)))
                                want++;
                fault_checkf(c->query_count == want, "the query found %" PRIu64 " records of %" PRIu64, c->query_count, want);
        }
        /* pruning: all of it (up to the old records and the ack) or nothing */
        if (c->prune_r > 0) {
                fault_checkf(anchor == (uint64_t) c->prune_r, "pruned %d records, anchor %" PRIu64, c->prune_r, anchor);
                uint64_t last_old = 0;
                for (size_t i = 0; i < c->n_recs; i++)
                        if (c->recs[i].k < N_OLD)
                                last_old = c->recs[i].seq;
                fault_checkf(anchor == (last_old < c->acked ? last_old : c->acked),
                             "pruned up to %" PRIu64 ", the old records end at %" PRIu64 ", acked %" PRIu64, anchor, last_old,
                             c->acked);
        } else
                fault_checkf(anchor == 0, "journal_prune() returned %d and the anchor moved to %" PRIu64, c->prune_r, anchor);

        /* and the journal goes on from where it is */
        JournalStats st;
        fault_check(journal_get_stats(j, &st) == 0);
        json_object *ev = scenario_event(6);
        uint64_t seq = 0;
        fault_check(journal_append(j, ev, &seq) == 0 && journal_flush(j) == 0);
        fault_checkf(seq == st.last_sequence + 1, "the next record got %" PRIu64 " after %" PRIu64, seq, st.last_sequence);
        json_object_put(ev);
        journal_close(j);
}

static void lifecycle_teardown(void *userdata) {
        Ctx *c = userdata;
        for (unsigned k = 0; k < N_EVENTS; k++)
                json_object_put(c->ev[k]);
        free(c->path);
        free(c->export_path);
        free(c->dir);
        free(c);
}

/* ---- a corrupt journal ---- */

#define N_BEFORE 5

typedef struct CorruptCtx {
        char *dir, *path;
        json_object *ev;
        int open_r, append_r, flush_r;
        bool set_aside_named;
        uint64_t seq;
        char hash[JOURNAL_HASH_HEX_SIZE];
} CorruptCtx;

static void *corrupt_setup(const char *dir) {
        CorruptCtx *c = calloc(1, sizeof(CorruptCtx));
        Journal *j = NULL;
        if (!c || asprintf(&c->path, "%s/journal.db", dir) < 0 || !(c->dir = strdup(dir)))
                abort();
        c->open_r = c->append_r = c->flush_r = NOT_CALLED;
        if (journal_open(c->path, &(JournalOptions) { .host_id = HOST_ID }, &j) < 0)
                fault_fail("journal_open");
        for (unsigned k = 0; k < N_BEFORE; k++) {
                json_object *ev = scenario_event(1);
                if (journal_append(j, ev, NULL) < 0)
                        fault_fail("journal_append");
                json_object_put(ev);
        }
        if (journal_flush(j) < 0)
                fault_fail("journal_flush");
        journal_close(j);
        /* the header destroyed: "not an SQLite database" */
        int fd = open(c->path, O_WRONLY | O_CLOEXEC);
        char junk[100];
        memset(junk, 0x5a, sizeof(junk));
        if (fd < 0 || pwrite(fd, junk, sizeof(junk), 0) != (ssize_t) sizeof(junk))
                fault_fail("cannot damage %s", c->path);
        close(fd);
        c->ev = scenario_event(7);
        return c;
}

static void corrupt_run(void *userdata) {
        CorruptCtx *c = userdata;
        Journal *j = NULL;
        c->open_r = journal_open(c->path, &(JournalOptions) { .host_id = HOST_ID, .retry_usec = 1 }, &j);
        if (c->open_r < 0)
                return;
        c->set_aside_named = journal_set_aside_path(j) != NULL;
        c->append_r = journal_append(j, c->ev, &c->seq);
        if (c->append_r == 0) {
                json_object *mn, *h;
                if (json_object_object_get_ex(c->ev, "mnguard", &mn) && json_object_object_get_ex(mn, "hash", &h))
                        snprintf(c->hash, sizeof(c->hash), "%s", json_object_get_string(h));
                c->flush_r = journal_flush(j);
                if (c->flush_r < 0)
                        c->flush_r = journal_flush(j);
        }
        journal_close(j);
}

static void corrupt_check(void *userdata) {
        CorruptCtx *c = userdata;
        Journal *j = NULL;
        JournalVerifyResult v;
        JournalStats st;
        Found found = {};

        fault_checkf(c->open_r >= 0 || is_errno(c->open_r), "journal_open() returned %d", c->open_r);
        fault_checkf(c->open_r < 0 || c->set_aside_named, "journal_open() set the journal aside without saying so");
        int r = journal_open(c->path, &(JournalOptions) { .host_id = HOST_ID }, &j);
        fault_checkf(r == 0, "the journal does not open after the round: %s", strerror(-r));
        /* the damaged file is kept, once, whatever happened */
        unsigned n = count_set_aside(c->dir);
        fault_checkf(n == 1, "%u set-aside copies of the damaged journal", n);
        r = journal_verify(j, &v);
        fault_checkf(r == 0 && v.intact, "the new journal does not verify: %s", r < 0 ? strerror(-r) : v.detail);
        fault_check(journal_get_stats(j, &st) == 0);
        /* the sequence goes on after the damaged journal's */
        fault_checkf(st.anchor_sequence == N_BEFORE, "the new journal starts after %" PRIu64 ", not after %u",
                     st.anchor_sequence, N_BEFORE);
        fault_check(journal_query(j, &(JournalQuery) {}, collect_cb, &found, NULL) == 0);
        fault_checkf(found.n > 0 && found.seq[0] == N_BEFORE + 1, "the new journal's first record is %" PRIu64,
                     found.n > 0 ? found.seq[0] : 0);
        if (c->flush_r == 0) {
                const char *h = found_hash(&found, c->seq);
                fault_checkf(h && streq(h, c->hash), "record %" PRIu64 " was reported durable and is gone", c->seq);
        }
        journal_close(j);
}

static void corrupt_teardown(void *userdata) {
        CorruptCtx *c = userdata;
        json_object_put(c->ev);
        free(c->path);
        free(c->dir);
        free(c);
}

static void test_journal_lifecycle(void **state) {
        static const FaultScenario s = {
                .name = "journal-lifecycle",
                .setup = lifecycle_setup,
                .run = lifecycle_run,
                .check = lifecycle_check,
                .teardown = lifecycle_teardown,
                .max_rounds = 2000,
        };
        assert_int_equal(fault_torture(&s), 0);
}

static void test_journal_corrupt(void **state) {
        static const FaultScenario s = {
                .name = "journal-corrupt",
                .setup = corrupt_setup,
                .run = corrupt_run,
                .check = corrupt_check,
                .teardown = corrupt_teardown,
                .max_rounds = 1000,
        };
        assert_int_equal(fault_torture(&s), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_journal_lifecycle),
                cmocka_unit_test(test_journal_corrupt),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
