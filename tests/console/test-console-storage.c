/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the console's storage helpers: what ingest notes about a host (host_state_observe), the
 * agent version rule, and the SQL of the host list for both backends (placeholders, LIKE escaping, the
 * PostgreSQL page subquery). The SQL is also run against a real SQLite database here. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "storage-console.h"

static IngestRecord rec(uint64_t seq, const char *action, uint64_t serial, const char *version, bool ok) {
        IngestRecord r = { .sequence = seq, .policy_serial = serial, .hash_ok = ok };
        snprintf(r.action, sizeof(r.action), "%s", action);
        snprintf(r.agent_version, sizeof(r.agent_version), "%s", version ?: "");
        return r;
}

static void test_observe(void **state) {
        HostState h = { .policy_serial = 5 };
        snprintf(h.agent_version, sizeof(h.agent_version), "0.0.9");
        IngestRecord r[] = {
                rec(10, "agent-started", 6, "0.1.0", true),
                rec(11, "device-blocked", 6, NULL, true),
                rec(12, "policy-rejected", 9, NULL, true),      /* names the serial it refused */
                rec(13, "agent-started", 7, "6.6.6", false),    /* does not hash right: ignored */
        };
        IngestRecord *p[] = { &r[0], &r[1], &r[2], &r[3] };
        host_state_observe(&h, p, 4, 9);
        assert_int_equal(h.policy_serial, 6);
        assert_string_equal(h.agent_version, "0.1.0");

        /* a gap filled later (older than what is stored) changes nothing */
        IngestRecord old = rec(3, "agent-started", 2, "0.0.1", true);
        IngestRecord *po[] = { &old };
        host_state_observe(&h, po, 1, 13);
        assert_int_equal(h.policy_serial, 6);
        assert_string_equal(h.agent_version, "0.1.0");
}

static void test_agent_version(void **state) {
        assert_true(agent_version_is_valid("0.1.0", 5));
        assert_true(agent_version_is_valid("1.2.3~rc1+deb12_u1", 18));
        assert_false(agent_version_is_valid("", 0));
        assert_false(agent_version_is_valid(NULL, 0));
        assert_false(agent_version_is_valid("0.1 ", 4));
        assert_false(agent_version_is_valid("<script>", 8));
        assert_false(agent_version_is_valid("012345678901234567890123456789012", 33));
}

static unsigned count(const char *s, char c) {
        unsigned n = 0;
        for (; *s; s++)
                n += *s == c;
        return n;
}

static void test_sql(void **state) {
        ConsoleHostQuery q = { .text = "50%_x\\", .chain = "gap", .has_serial = true, .serial = 7,
                               .silent_before_usec = 99, .recent_since_usec = 1, .sort = CONSOLE_SORT_LAST_SEEN,
                               .descending = true, .limit = 100, .offset = 200 };
        ConsoleSql s;
        assert_int_equal(console_sql_hosts(&q, false, false, &s), 0);
        assert_string_equal(s.like, "%50\\%\\_x\\\\%");
        assert_int_equal(count(s.sql, '?'), s.n_params);
        assert_non_null(strstr(s.sql, "ORDER BY last_seen DESC, host_id DESC LIMIT ? OFFSET ?"));
        assert_null(strstr(s.sql, "ILIKE"));
        console_sql_done(&s);

        assert_int_equal(console_sql_hosts(&q, true, false, &s), 0);
        assert_non_null(strstr(s.sql, "ILIKE $"));
        assert_non_null(strstr(s.sql, ") p ORDER BY last_seen DESC"));          /* the page, then its counts */
        assert_non_null(strstr(s.sql, "$1"));
        assert_int_equal(s.n_params, 8);
        console_sql_done(&s);

        q.sort = CONSOLE_SORT_RECENT;
        assert_int_equal(console_sql_hosts(&q, true, false, &s), 0);
        assert_non_null(strstr(s.sql, "LEFT JOIN (SELECT host_key, count(*)"));
        console_sql_done(&s);

        assert_int_equal(console_sql_hosts(&q, false, true, &s), 0);
        assert_true(strncmp(s.sql, "SELECT count(*) FROM hosts WHERE", 32) == 0);
        assert_null(strstr(s.sql, "LIMIT"));
        console_sql_done(&s);

        q.sort = _CONSOLE_SORT_MAX;
        assert_int_equal(console_sql_hosts(&q, false, false, &s), -EINVAL);

        ConsoleHostSort k;
        assert_int_equal(console_host_sort_from_string("events_24h", &k), 0);
        assert_int_equal(k, CONSOLE_SORT_RECENT);
        assert_int_equal(console_host_sort_from_string("host_name; DROP TABLE hosts", &k), -EINVAL);
}

/* The generated SQL on a real SQLite database with the hosts table's columns: LIKE wildcards are literal. */
static void test_sql_runs(void **state) {
        sqlite3 *db;
        assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                "CREATE TABLE hosts (host_id TEXT, host_name TEXT, grp TEXT, enrolled INT, last_seen INT, first_seq INT,"
                " contiguous_seq INT, last_seq INT, n_events INT, n_broken INT, agent_version TEXT, policy_serial INT,"
                " chain TEXT);"
                "CREATE TABLE events (host_id TEXT, ts INT);"
                "INSERT INTO hosts VALUES ('a', 'MN-PC-50%', NULL, 0, 10, 0, 0, 0, 0, 0, '0.1', 7, 'gap');"
                "INSERT INTO hosts VALUES ('b', 'mn-pc-500', NULL, 0, 10, 0, 0, 0, 0, 0, '0.1', 7, 'gap');"
                "INSERT INTO events VALUES ('a', 5), ('b', 5), ('b', 6);", NULL, NULL, NULL), SQLITE_OK);
        ConsoleHostQuery q = { .text = "pc-50%", .group = "default", .chain = "gap", .sort = CONSOLE_SORT_RECENT,
                               .recent_since_usec = 1, .limit = 10 };
        ConsoleSql s;
        sqlite3_stmt *st;
        assert_int_equal(console_sql_hosts(&q, false, false, &s), 0);
        assert_int_equal(sqlite3_prepare_v2(db, s.sql, -1, &st, NULL), SQLITE_OK);
        for (unsigned i = 0; i < s.n_params; i++)
                if (s.text[i])
                        sqlite3_bind_text(st, (int) i + 1, s.text[i], -1, SQLITE_STATIC);
                else
                        sqlite3_bind_int64(st, (int) i + 1, s.number[i]);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *) sqlite3_column_text(st, 0), "a");    /* not "mn-pc-500" */
        assert_int_equal(sqlite3_column_int64(st, CONSOLE_HOST_N_COLUMNS), 1);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        console_sql_done(&s);
        sqlite3_close(db);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_observe),
                cmocka_unit_test(test_agent_version),
                cmocka_unit_test(test_sql),
                cmocka_unit_test(test_sql_runs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
