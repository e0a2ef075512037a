/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Appending: sequence and hash assignment, continuation across reopen, meta table, read-only opens. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sodium.h>

#include <cmocka.h>

#include "journal-test-util.h"
#include "macro.h"

#define T0 UINT64_C(1795651200000000) /* 2026-11-26T00:00:00Z */

static int setup(void **state) {
        *state = jt_mkdtemp();
        return 0;
}

static int teardown(void **state) {
        jt_rm_rf(*state);
        return 0;
}

static const char *get_str(json_object *o, const char *a, const char *b) {
        json_object *x, *y;
        if (!json_object_object_get_ex(o, a, &x) || !json_object_object_get_ex(x, b, &y))
                return NULL;
        return json_object_get_string(y);
}

static void test_annotates_and_chains(void **state) {
        _cleanup_free_ char *path = jt_path(*state, "journal.db");
        Journal *j = NULL;
        char zeros[65];
        memset(zeros, '0', 64);
        zeros[64] = 0;

        assert_int_equal(journal_open(path, NULL, &j), 0);
        json_object *a = jt_event(0, T0), *b = jt_event(1, T0 + 1);
        uint64_t sa = 0, sb = 0;
        assert_int_equal(journal_append(j, a, &sa), 0);
        assert_int_equal(journal_append(j, b, &sb), 0);
        assert_int_equal(sa, 1);
        assert_int_equal(sb, 2);

        json_object *ev, *seq;
        assert_true(json_object_object_get_ex(a, "event", &ev) && json_object_object_get_ex(ev, "sequence", &seq));
        assert_int_equal(json_object_get_int64(seq), 1);
        assert_string_equal(get_str(a, "mnguard", "prev_hash"), zeros);
        assert_string_equal(get_str(b, "mnguard", "prev_hash"), get_str(a, "mnguard", "hash"));

        /* the hash is sha256(prev_hash hex || canonical record without mnguard.hash) */
        char hash[65];
        memcpy(hash, get_str(b, "mnguard", "hash"), 65);
        json_object *mn;
        json_object_object_get_ex(b, "mnguard", &mn);
        json_object_object_del(mn, "hash");
        _cleanup_free_ char *body = NULL;
        size_t len;
        assert_int_equal(journal_canonical_json(b, &body, &len), 0);
        crypto_hash_sha256_state st;
        unsigned char d[32];
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, (const unsigned char *) get_str(a, "mnguard", "hash"), 64);
        crypto_hash_sha256_update(&st, (const unsigned char *) body, len);
        crypto_hash_sha256_final(&st, d);
        char hex[65];
        sodium_bin2hex(hex, sizeof(hex), d, 32);
        assert_string_equal(hex, hash);

        /* nothing durable before the flush */
        assert_int_equal(journal_durable_sequence(j), 0);
        assert_true(journal_flush_deadline(j) != UINT64_MAX);
        assert_int_equal(journal_flush(j), 0);
        assert_int_equal(journal_durable_sequence(j), 2);
        assert_true(journal_flush_deadline(j) == UINT64_MAX);
        json_object_put(a);
        json_object_put(b);

        JournalVerifyResult r = jt_verify(j);
        assert_true(r.intact);
        assert_int_equal(r.n_records, 2);
        assert_int_equal(r.last_sequence, 2);
        journal_close(j);
}

static void test_rejects_bad_events(void **state) {
        _cleanup_free_ char *path = jt_path(*state, "journal.db");
        Journal *j = NULL;
        uint64_t s;
        assert_int_equal(journal_open(path, NULL, &j), 0);
        static const char *const bad[] = {
                "[]",
                "{}",
                "{\"event\":{}}",
                "{\"event\":{\"action\":\"\"}}",
                "{\"event\":{\"action\":\"x\"},\"@timestamp\":\"yesterday\"}",
                "{\"event\":{\"action\":\"x\"},\"n\":1.5}",
                "{\"event\":{\"action\":\"x\"},\"mnguard\":{\"Bad-Key\":1}}",
                "{\"event\":{\"action\":\"x\"},\"mnguard\":{\"anchor\":{\"sequence\":1}}}",
                "{\"event\":{\"action\":\"x\"},\"mnguard\":[]}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_object *o = json_tokener_parse(bad[i]);
                assert_non_null(o);
                assert_int_equal(journal_append(j, o, &s), -EINVAL);
                json_object_put(o);
        }
        /* a failed append hands out no sequence */
        json_object *ok = json_tokener_parse("{\"event\":{\"action\":\"agent-started\"}}");
        assert_int_equal(journal_append(j, ok, &s), 0);
        assert_int_equal(s, 1);
        /* @timestamp was added */
        json_object *ts;
        assert_true(json_object_object_get_ex(ok, "@timestamp", &ts));
        json_object_put(ok);
        journal_close(j);
}

static void test_sequence_continues(void **state) {
        _cleanup_free_ char *path = jt_path(*state, "journal.db");
        Journal *j = NULL;
        for (int round = 0; round < 3; round++) {
                assert_int_equal(journal_open(path, NULL, &j), 0);
                jt_append_n(j, 10, T0 + (uint64_t) round * 100000000, 1000);
                assert_int_equal(journal_durable_sequence(j), 10 * (round + 1));
                journal_close(j);
        }
        /* journal_close() commits what is pending */
        assert_int_equal(journal_open(path, NULL, &j), 0);
        json_object *e = jt_event(7, T0);
        assert_int_equal(journal_append(j, e, NULL), 0);
        json_object_put(e);
        journal_close(j);
        JournalVerifyResult r = jt_verify_path(path);
        assert_true(r.intact);
        assert_int_equal(r.n_records, 31);
        assert_int_equal(r.last_sequence, 31);
}

static void test_group_commit_bound(void **state) {
        _cleanup_free_ char *path = jt_path(*state, "journal.db");
        Journal *j = NULL;
        JournalStats st;
        assert_int_equal(journal_open(path, NULL, &j), 0);
        for (unsigned i = 0; i < JOURNAL_FLUSH_MAX_EVENTS - 1; i++) {
                json_object *e = jt_event(i, T0 + i);
                assert_int_equal(journal_append(j, e, NULL), 0);
                json_object_put(e);
        }
        assert_int_equal(journal_durable_sequence(j), 0);
        json_object *e = jt_event(0, T0);
        assert_int_equal(journal_append(j, e, NULL), 0);
        json_object_put(e);
        /* the pending bound starts a commit by itself, which goes on while appends could continue: wait
         * for it (with a deadline) without flushing */
        struct timespec t0, now, tick = { 0, 1000000 };
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do {
                if (journal_durable_sequence(j) == JOURNAL_FLUSH_MAX_EVENTS)
                        break;
                nanosleep(&tick, NULL);
                clock_gettime(CLOCK_MONOTONIC, &now);
        } while (now.tv_sec - t0.tv_sec < 30);
        assert_int_equal(journal_durable_sequence(j), JOURNAL_FLUSH_MAX_EVENTS);
        assert_int_equal(journal_get_stats(j, &st), 0);
        assert_int_equal(st.n_pending, 0);
        assert_int_equal(st.first_sequence, 1);
        assert_int_equal(st.last_sequence, JOURNAL_FLUSH_MAX_EVENTS);
        assert_true(st.size_bytes > 0);
        journal_close(j);
}

static void test_meta(void **state) {
        _cleanup_free_ char *path = jt_path(*state, "journal.db");
        Journal *j = NULL;
        char *v = NULL;
        uint64_t acked;
        JournalOptions o = { .host_id = "5f0c2a8e", .host_name = "mn-pc-0123" };
        assert_int_equal(journal_open(path, &o, &j), 0);
        assert_int_equal(journal_meta_set(j, "enrolled_at", "2026-11-26"), 0);
        assert_int_equal(journal_meta_set(j, "last_seq", "1"), -EPERM);
        assert_int_equal(journal_meta_set(j, "anchor_hash", "x"), -EPERM);
        assert_int_equal(journal_meta_set(j, "Bad Key", "x"), -EINVAL);
        assert_int_equal(journal_meta_get(j, "nothing", &v), -ENOENT);
        jt_append_n(j, 5, T0, 1);
        assert_int_equal(journal_set_acked(j, 6), -ERANGE);
        assert_int_equal(journal_set_acked(j, 4), 0);
        assert_int_equal(journal_set_acked(j, 2), 0); /* never backwards */
        journal_close(j);

        assert_int_equal(journal_open(path, NULL, &j), 0);
        assert_int_equal(journal_meta_get(j, "enrolled_at", &v), 0);
        assert_string_equal(v, "2026-11-26");
        free(v);
        assert_int_equal(journal_get_acked(j, &acked), 0);
        assert_int_equal(acked, 4);
        char *id = NULL, *name = NULL;
        assert_int_equal(journal_get_host(j, &id, &name), 0);
        assert_string_equal(id, "5f0c2a8e");
        assert_string_equal(name, "mn-pc-0123");
        free(id);
        free(name);
        journal_close(j);
}

/* Names and contents of the files in dir, to show that nothing was written. */
static char *dir_fingerprint(const char *dir) {
        char *out = NULL;
        size_t outlen = 0;
        FILE *f = open_memstream(&out, &outlen);
        struct dirent **list = NULL;
        int n = scandir(dir, &list, NULL, alphasort);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *p = jt_path(dir, list[i]->d_name);
                struct stat st;
                if (list[i]->d_name[0] != '.' && stat(p, &st) == 0) {
                        unsigned char h[32] = {};
                        FILE *in = fopen(p, "rb");
                        crypto_hash_sha256_state s;
                        crypto_hash_sha256_init(&s);
                        char buf[4096];
                        size_t k;
                        while (in && (k = fread(buf, 1, sizeof(buf), in)) > 0)
                                crypto_hash_sha256_update(&s, (unsigned char *) buf, k);
                        crypto_hash_sha256_final(&s, h);
                        if (in)
                                fclose(in);
                        fprintf(f, "%s %lld %lld.%09ld %02x%02x%02x%02x\n", list[i]->d_name, (long long) st.st_size,
                                (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec, h[0], h[1], h[2], h[3]);
                }
                free(list[i]);
        }
        free(list);
        fclose(f);
        return out;
}

static void copy(const char *from, const char *to) {
        FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
        char buf[65536];
        size_t n;
        assert_non_null(a);
        assert_non_null(b);
        while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
                assert_int_equal(fwrite(buf, 1, n, b), n);
        fclose(a);
        fclose(b);
}

static void check_readonly_copy(const char *dir, uint64_t expect_last) {
        _cleanup_free_ char *path = jt_path(dir, "copy.db");
        _cleanup_free_ char *before = dir_fingerprint(dir);
        Journal *r = NULL;
        assert_int_equal(journal_open_readonly(path, &r), 0);
        JournalVerifyResult v = jt_verify(r);
        assert_true(v.intact);
        assert_int_equal(v.last_sequence, expect_last);
        JournalQuery q = { .user = "tanaka" };
        assert_true(jt_count(r, &q) > 0);
        json_object *e = jt_event(0, T0);
        assert_int_equal(journal_append(r, e, NULL), -EROFS);
        json_object_put(e);
        assert_int_equal(journal_meta_set(r, "x", "y"), -EROFS);
        JournalRetention rt = { .max_age_usec = 1, .ignore_ack = true };
        assert_int_equal(journal_prune(r, &rt, T0), -EROFS);
        journal_close(r);
        _cleanup_free_ char *after = dir_fingerprint(dir);
        assert_string_equal(before, after);
}

static void test_readonly_never_writes(void **state) {
        _cleanup_free_ char *path = jt_path(*state, "journal.db");
        _cleanup_free_ char *wal = jt_path(*state, "journal.db-wal");
        _cleanup_free_ char *shm = jt_path(*state, "journal.db-shm");
        Journal *j = NULL;

        assert_int_equal(journal_open(path, NULL, &j), 0);
        jt_append_n(j, 200, T0, 1000);
        assert_true(jt_exists(wal));

        /* a copy of the file alone (taken with the daemon down) */
        char *d1 = jt_mkdtemp();
        _cleanup_free_ char *c1 = jt_path(d1, "copy.db");
        /* a copy taken while the daemon runs: db + wal, no shm: the newest records are only in the WAL */
        char *d2 = jt_mkdtemp();
        _cleanup_free_ char *c2 = jt_path(d2, "copy.db"), *c2w = jt_path(d2, "copy.db-wal");
        /* db + wal + shm */
        char *d3 = jt_mkdtemp();
        _cleanup_free_ char *c3 = jt_path(d3, "copy.db"), *c3w = jt_path(d3, "copy.db-wal"), *c3s = jt_path(d3, "copy.db-shm");
        copy(path, c2);
        copy(wal, c2w);
        copy(path, c3);
        copy(wal, c3w);
        copy(shm, c3s);
        check_readonly_copy(d2, 200);
        check_readonly_copy(d3, 200);

        /* the live journal, read by a second connection while the writer has it open */
        Journal *r = NULL;
        assert_int_equal(journal_open_readonly(path, &r), 0);
        assert_int_equal(journal_durable_sequence(r), 200);
        journal_close(r);

        journal_close(j); /* checkpoints: all in the main file */
        copy(path, c1);
        check_readonly_copy(d1, 200);
        jt_rm_rf(d1);
        jt_rm_rf(d2);
        jt_rm_rf(d3);

        /* not a journal */
        _cleanup_free_ char *junk = jt_path(*state, "junk");
        FILE *f = fopen(junk, "w");
        fputs("this is not a database, not at all, it is just text that goes on for a while\n", f);
        fclose(f);
        assert_int_equal(journal_open_readonly(junk, &r), -EBADMSG);
        _cleanup_free_ char *none = jt_path(*state, "none.db");
        assert_int_equal(journal_open_readonly(none, &r), -ENOENT);
        assert_false(jt_exists(none));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_annotates_and_chains, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rejects_bad_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sequence_continues, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_commit_bound, setup, teardown),
                cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
                cmocka_unit_test_setup_teardown(test_readonly_never_writes, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
