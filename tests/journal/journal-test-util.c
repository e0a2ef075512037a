/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "journal-test-util.h"

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

char *jt_mkdtemp(void) {
        const char *t = getenv("TMPDIR");
        char *p = NULL;
        if (asprintf(&p, "%s/mnguard-jtest-XXXXXX", t && *t ? t : "/tmp") < 0 || !mkdtemp(p))
                abort();
        return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        if (flag == FTW_DP)
                rmdir(path);
        else
                unlink(path);
        return 0;
}

void jt_rm_rf(char *path) {
        if (!path)
                return;
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        free(path);
}

char *jt_path(const char *dir, const char *name) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                abort();
        return p;
}

static const char *const users[] = { "tanaka", "sato", "suzuki", "takahashi" };
static const char *const actions[] = { "device-blocked", "device-allowed", "device-connected", "file-written" };

json_object *jt_event(unsigned i, uint64_t ts_usec) {
        char ts[JOURNAL_TIMESTAMP_MAX], serial[32], product[8];
        json_object *ev = json_object_new_object(), *e = json_object_new_object(), *h = json_object_new_object(),
                    *u = json_object_new_object(), *d = json_object_new_object(), *m = json_object_new_object(),
                    *cls = json_object_new_array();
        snprintf(serial, sizeof(serial), "4C5300012301%08u", i % 50);
        snprintf(product, sizeof(product), "%04x", 0x5581 + i % 3);
        json_object_object_add(ev, "@timestamp", json_object_new_string(journal_timestamp_format(ts_usec, ts)));
        json_object_object_add(ev, "event", e);
        json_object_object_add(e, "action", json_object_new_string(actions[i % 4]));
        json_object_object_add(e, "outcome", json_object_new_string("success"));
        json_object_object_add(e, "reason", json_object_new_string("default storage block"));
        json_object_object_add(ev, "host", h);
        json_object_object_add(h, "id", json_object_new_string("5f0c2a8e9b7d4e1f8a3c6b2d1e0f9a8b"));
        json_object_object_add(h, "name", json_object_new_string("mn-pc-0123"));
        json_object_object_add(ev, "user", u);
        json_object_object_add(u, "name", json_object_new_string(users[i % 4]));
        json_object_object_add(u, "id", json_object_new_int(1001 + (int) (i % 4)));
        json_object_object_add(ev, "device", d);
        json_object_object_add(d, "vendor", json_object_new_string("0781"));
        json_object_object_add(d, "product", json_object_new_string(product));
        json_object_object_add(d, "serial", json_object_new_string(serial));
        json_object_object_add(d, "model", json_object_new_string("Cruzer Blade \"改\"\tß"));
        json_object_object_add(d, "bus", json_object_new_string("usb"));
        json_object_array_add(cls, json_object_new_string("storage"));
        json_object_object_add(d, "classes", cls);
        json_object_object_add(d, "syspath", json_object_new_string("/devices/pci0000:00/0000:00:14.0/usb1/1-2"));
        json_object_object_add(ev, "mnguard", m);
        json_object_object_add(m, "policy_serial", json_object_new_uint64(2026112601));
        json_object_object_add(m, "rule", json_object_new_string("default"));
        return ev;
}

void jt_append_n(Journal *j, unsigned n, uint64_t base_usec, uint64_t step_usec) {
        for (unsigned i = 0; i < n; i++) {
                json_object *ev = jt_event(i, base_usec + (uint64_t) i * step_usec);
                uint64_t seq = 0;
                assert_int_equal(journal_append(j, ev, &seq), 0);
                assert_true(seq > 0);
                json_object_put(ev);
        }
        assert_int_equal(journal_flush(j), 0);
}

sqlite3 *jt_sqlite_open(const char *path) {
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        return db;
}

void jt_sql(sqlite3 *db, const char *sql) {
        char *err = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
        if (rc != SQLITE_OK)
                fail_msg("%s: %s", sql, err ? err : "?");
}

int64_t jt_sql_int(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

JournalVerifyResult jt_verify(Journal *j) {
        JournalVerifyResult r;
        assert_int_equal(journal_verify(j, &r), 0);
        return r;
}

JournalVerifyResult jt_verify_path(const char *path) {
        Journal *j = NULL;
        assert_int_equal(journal_open_readonly(path, &j), 0);
        JournalVerifyResult r = jt_verify(j);
        journal_close(j);
        return r;
}

static int count_cb(const JournalRecord *r, void *userdata) {
        (void) r;
        (*(uint64_t *) userdata)++;
        return 0;
}

uint64_t jt_count(Journal *j, const JournalQuery *q) {
        uint64_t n = 0, reported = 0;
        assert_int_equal(journal_query(j, q, count_cb, &n, &reported), 0);
        assert_int_equal(n, reported);
        return n;
}

bool jt_exists(const char *path) {
        return access(path, F_OK) == 0;
}
