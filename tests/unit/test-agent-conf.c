/* SPDX-License-Identifier: GPL-2.0-or-later */
/* agent.conf: values, defaults and errors with line and column. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent-conf.h"

static int parse(const char *text, AgentConf *c, PolicyDiagnostics *d) {
        return agent_conf_parse(text, strlen(text), c, d);
}

static void test_values(void **state) {
        AgentConf c;
        PolicyDiagnostics d;
        assert_int_equal(parse("journal:\n  max-age-days: 30\n  max-size-mb: 64\n"
                               "collector:\n  url: https://collector.example:8443\n  ca: /etc/mnguard/ca.pem\n"
                               "  enrollment-token: abc\n  batch-records: 500\n"
                               "removable-media: [\"loop*\", \"nbd?\"]\n", &c, &d), 0);
        assert_int_equal(c.journal_max_age_days, 30);
        assert_int_equal(c.journal_max_size_mb, 64);
        assert_string_equal(c.collector_url, "https://collector.example:8443");
        assert_string_equal(c.collector_ca, "/etc/mnguard/ca.pem");
        assert_string_equal(c.enrollment_token, "abc");
        assert_int_equal(c.collector_batch_records, 500);
        assert_int_equal(c.n_removable_patterns, 2);
        assert_string_equal(c.removable_patterns[1], "nbd?");
        agent_conf_clear(&c);
        policy_diagnostics_clear(&d);
}

static void test_defaults(void **state) {
        AgentConf c;
        PolicyDiagnostics d;
        assert_int_equal(parse("# nothing set\n", &c, &d), 0);
        assert_int_equal(c.journal_max_age_days, AGENT_CONF_DEFAULT_MAX_AGE_DAYS);
        assert_int_equal(c.journal_max_size_mb, AGENT_CONF_DEFAULT_MAX_SIZE_MB);
        assert_null(c.collector_url);
        assert_int_equal(c.collector_batch_records, 0);        /* the reporter's default */
        assert_int_equal(c.n_removable_patterns, 0);
        agent_conf_clear(&c);
        policy_diagnostics_clear(&d);
}

static void expect_error(const char *text, unsigned line, unsigned col, const char *msg) {
        AgentConf c;
        PolicyDiagnostics d;
        assert_int_equal(parse(text, &c, &d), -EINVAL);
        bool found = false;
        for (size_t i = 0; i < d.n; i++) {
                if (d.items[i].line == line && d.items[i].column == col && strstr(d.items[i].message, msg))
                        found = true;
                else
                        print_message("got %u:%u: %s\n", d.items[i].line, d.items[i].column, d.items[i].message);
        }
        assert_true(found);
        policy_diagnostics_clear(&d);
}

static void test_errors(void **state) {
        expect_error("jornal: {}\n", 1, 1, "unknown key 'jornal'");
        expect_error("journal:\n  max-age-days: -1\n", 2, 17, "max-age-days must be a whole number");
        expect_error("collector:\n  url: http://x\n", 2, 8, "must start with https://");
        expect_error("collector:\n  batch-records: 99\n", 2, 18, "batch-records");
        expect_error("collector:\n  batch-records: 10001\n", 2, 18, "batch-records");
        expect_error("removable-media: loop*\n", 1, 18, "must be a list");
        expect_error("journal: [\n", 2, 1, "invalid YAML");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_errors),
        };
        return cmocka_run_group_tests_name("agent-conf", tests, NULL, NULL);
}
