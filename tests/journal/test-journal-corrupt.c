/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A corrupt journal is set aside, never deleted; a new one starts with a journal-corrupt record and the
 * sequence goes on. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal-test-util.h"
#include "macro.h"

#define T0 UINT64_C(1795651200000000)

typedef struct Fixture {
        char *dir, *path;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        f->dir = jt_mkdtemp();
        f->path = jt_path(f->dir, "journal.db");
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        jt_rm_rf(f->dir);
        free(f->path);
        free(f);
        return 0;
}

static void make_journal(const char *path, unsigned n) {
        Journal *j = NULL;
        assert_int_equal(journal_open(path, NULL, &j), 0);
        jt_append_n(j, n, T0, 1000);
        journal_close(j);
}

static void write_file(const char *path, const void *data, size_t n) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        fclose(f);
}

static char *read_file(const char *path, size_t *ret_n) {
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char *buf = malloc(1 << 20);
        *ret_n = fread(buf, 1, 1 << 20, f);
        fclose(f);
        return buf;
}

static void garbage(char *buf, size_t n) {
        uint32_t x = 2463534242u;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf[i] = (char) x;
        }
}

/* The journal-corrupt record: the first record of the new journal. */
static int first_json(const JournalRecord *r, void *userdata) {
        *(json_object **) userdata = json_tokener_parse(r->json);
        return 1;
}

/* The journal-corrupt record: the first record of the new journal. */
static json_object *corrupt_record(Journal *j) {
        JournalQuery q = { .action = "journal-corrupt" };
        json_object *o = NULL;
        assert_int_equal(journal_query(j, &q, first_json, &o, NULL), 0);
        assert_non_null(o);
        return o;
}

static json_object *dig(json_object *o, const char *a, const char *b, const char *c) {
        json_object *x = o;
        const char *keys[] = { a, b, c };
        for (size_t i = 0; i < 3 && keys[i]; i++)
                if (!json_object_object_get_ex(x, keys[i], &x))
                        return NULL;
        return x;
}

static unsigned count_set_aside(const char *dir, const char *suffix) {
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;
        while ((de = readdir(d))) {
                const char *p = strstr(de->d_name, ".corrupt-");
                if (p && (suffix ? strlen(de->d_name) > strlen(suffix) &&
                                           streq(de->d_name + strlen(de->d_name) - strlen(suffix), suffix)
                                 : !strstr(p, "-wal") && !strstr(p, "-shm")))
                        n++;
        }
        closedir(d);
        return n;
}

static void test_garbage(void **state) {
        Fixture *f = *state;
        char junk[8192];
        size_t n;
        make_journal(f->path, 10);
        garbage(junk, sizeof(junk));
        write_file(f->path, junk, sizeof(junk));
        _cleanup_free_ char *wal = jt_path(f->dir, "journal.db-wal");
        write_file(wal, "leftover", 8);

        Journal *j = NULL;
        assert_int_equal(journal_open(f->path, NULL, &j), 0);
        const char *aside = journal_set_aside_path(j);
        assert_non_null(aside);
        assert_non_null(strstr(aside, "journal.db.corrupt-"));
        /* set aside as it was, with its WAL */
        _cleanup_free_ char *kept = read_file(aside, &n);
        assert_int_equal(n, sizeof(junk));
        assert_memory_equal(kept, junk, n);
        _cleanup_free_ char *aside_wal = NULL;
        assert_true(asprintf(&aside_wal, "%s-wal", aside) > 0);
        assert_true(jt_exists(aside_wal));

        /* the old file could not be read: the sequence goes on from the .head hint */
        json_object *rec = corrupt_record(j);
        assert_int_equal(json_object_get_int64(dig(rec, "event", "sequence", NULL)), 11);
        assert_string_equal(json_object_get_string(dig(rec, "file", "path", NULL)), aside);
        assert_null(dig(rec, "mnguard", "journal", "last_good_sequence"));
        assert_int_equal(json_object_get_int64(dig(rec, "mnguard", "journal", "head_sequence")), 10);
        assert_int_equal(json_object_get_int64(dig(rec, "mnguard", "anchor", "sequence")), 10);
        json_object_put(rec);

        uint64_t s;
        json_object *e = jt_event(0, T0);
        assert_int_equal(journal_append(j, e, &s), 0);
        json_object_put(e);
        assert_int_equal(s, 12);
        assert_int_equal(journal_flush(j), 0);
        JournalVerifyResult r = jt_verify(j);
        assert_true(r.intact);
        assert_int_equal(r.first_sequence, 11);
        assert_int_equal(r.last_sequence, 12);
        journal_close(j);
        assert_int_equal(count_set_aside(f->dir, NULL), 1);
}

static void test_garbage_without_hint(void **state) {
        Fixture *f = *state;
        char junk[4096];
        garbage(junk, sizeof(junk));
        write_file(f->path, junk, sizeof(junk));
        Journal *j = NULL;
        assert_int_equal(journal_open(f->path, NULL, &j), 0);
        assert_non_null(journal_set_aside_path(j));
        json_object *rec = corrupt_record(j);
        assert_int_equal(json_object_get_int64(dig(rec, "event", "sequence", NULL)), 1);
        assert_null(dig(rec, "mnguard", "anchor", NULL));
        json_object_put(rec);
        assert_true(jt_verify(j).intact);
        journal_close(j);
}

static void test_damaged_page(void **state) {
        /* A valid database whose index page is damaged: quick_check fails, the records can still be read, so
         * the last good sequence is known and the new journal goes on after it. */
        Fixture *f = *state;
        _cleanup_free_ char *head = jt_path(f->dir, "journal.db.head");
        make_journal(f->path, 300);
        assert_int_equal(unlink(head), 0);
        sqlite3 *db = jt_sqlite_open(f->path);
        int64_t root = jt_sql_int(db, "SELECT rootpage FROM sqlite_master WHERE name = 'events_ts'");
        sqlite3_close(db);
        FILE *fp = fopen(f->path, "r+b");
        char junk[4096];
        garbage(junk, sizeof(junk));
        fseek(fp, (long) (root - 1) * 4096, SEEK_SET);
        fwrite(junk, 1, sizeof(junk), fp);
        fclose(fp);

        Journal *j = NULL;
        assert_int_equal(journal_open(f->path, NULL, &j), 0);
        assert_non_null(journal_set_aside_path(j));
        json_object *rec = corrupt_record(j);
        assert_int_equal(json_object_get_int64(dig(rec, "mnguard", "journal", "last_good_sequence")), 300);
        assert_int_equal(json_object_get_int64(dig(rec, "event", "sequence", NULL)), 301);
        json_object_put(rec);
        assert_true(jt_verify(j).intact);
        journal_close(j);
}

static void test_not_a_journal(void **state) {
        Fixture *f = *state;
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        jt_sql(db, "CREATE TABLE photos (name TEXT); INSERT INTO photos VALUES ('cat.jpg')");
        sqlite3_close(db);
        Journal *j = NULL;
        assert_int_equal(journal_open(f->path, NULL, &j), 0);
        const char *aside = journal_set_aside_path(j);
        assert_non_null(aside);
        db = jt_sqlite_open(aside);
        assert_int_equal(jt_sql_int(db, "SELECT count(*) FROM photos"), 1);
        sqlite3_close(db);
        json_object *rec = corrupt_record(j);
        assert_string_equal(json_object_get_string(dig(rec, "mnguard", "journal", "error")), "not a mnguard journal");
        json_object_put(rec);
        journal_close(j);
}

static void test_newer_format_left_alone(void **state) {
        Fixture *f = *state;
        make_journal(f->path, 3);
        sqlite3 *db = jt_sqlite_open(f->path);
        jt_sql(db, "UPDATE meta SET value = '99' WHERE key = 'format'");
        sqlite3_close(db);
        Journal *j = NULL;
        assert_int_equal(journal_open(f->path, NULL, &j), -EPROTONOSUPPORT);
        assert_int_equal(journal_open_readonly(f->path, &j), -EPROTONOSUPPORT);
        assert_int_equal(count_set_aside(f->dir, NULL), 0);
}

static void test_format1_converted(void **state) {
        /* A journal of format 1 (an index per search column, no runs): read-only, it is searched through
         * those indexes; opened for writing, it becomes format 2 with its runs, in place, still intact. */
        Fixture *f = *state;
        make_journal(f->path, 200);
        sqlite3 *db = jt_sqlite_open(f->path);
        jt_sql(db, "DROP TABLE runs; UPDATE meta SET value = '1' WHERE key = 'format';"
                   "CREATE INDEX events_user ON events (user_name, ts) WHERE user_name IS NOT NULL;"
                   "CREATE INDEX events_serial ON events (dev_serial, ts) WHERE dev_serial IS NOT NULL;"
                   "CREATE INDEX events_vidpid ON events (dev_vidpid, ts) WHERE dev_vidpid IS NOT NULL;");
        sqlite3_close(db);
        JournalQuery user = { .user = "sato" }, dev = { .device = "0781:5582", .user = "sato" };

        Journal *j = NULL;
        assert_int_equal(journal_open_readonly(f->path, &j), 0);
        assert_int_equal(jt_count(j, &user), 50);
        assert_int_equal(jt_count(j, &dev), 17); /* i % 4 == 1 and i % 3 == 1 */
        assert_true(jt_verify(j).intact);
        journal_close(j);

        assert_int_equal(journal_open(f->path, NULL, &j), 0);
        assert_int_equal(jt_count(j, &user), 50);
        assert_int_equal(jt_count(j, &dev), 17);
        jt_append_n(j, 10, T0 + 3600000000, 1000); /* appends go on after the conversion */
        assert_int_equal(jt_count(j, &user), 50 + 3);
        assert_true(jt_verify(j).intact);
        journal_close(j);
        assert_int_equal(count_set_aside(f->dir, NULL), 0);

        db = jt_sqlite_open(f->path);
        assert_int_equal(jt_sql_int(db, "SELECT value FROM meta WHERE key = 'format'"), 2);
        assert_int_equal(jt_sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('events_user', 'events_serial', "
                                        "'events_vidpid')"),
                         0);
        /* users change with every record: a run per record and kind */
        assert_int_equal(jt_sql_int(db, "SELECT count(*) FROM runs WHERE kind = 1"), 210);
        sqlite3_close(db);
        JournalVerifyResult r = jt_verify_path(f->path);
        assert_true(r.intact);
        assert_int_equal(r.n_records, 210);
}

static void test_twice(void **state) {
        Fixture *f = *state;
        char junk[4096];
        garbage(junk, sizeof(junk));
        for (int i = 0; i < 2; i++) {
                write_file(f->path, junk, sizeof(junk));
                _cleanup_free_ char *wal = jt_path(f->dir, "journal.db-wal"), *shm = jt_path(f->dir, "journal.db-shm");
                unlink(wal);
                unlink(shm);
                Journal *j = NULL;
                assert_int_equal(journal_open(f->path, NULL, &j), 0);
                journal_close(j);
        }
        assert_int_equal(count_set_aside(f->dir, NULL), 2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage_without_hint, setup, teardown),
                cmocka_unit_test_setup_teardown(test_damaged_page, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_a_journal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_format1_converted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_newer_format_left_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_twice, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
