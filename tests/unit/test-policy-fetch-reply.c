/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Decoding of GET /v1/policy replies (agent/policy-fetch-reply.c): what the agent takes from the network
 * before the manager checks it. Malformed replies are refused whole; a bad policy or ticket inside a good
 * reply is kept with its reason so that its refusal is recorded; bounds hold. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "policy-fetch.h"
#include "policy.h"
#include "test-helpers.h"

static char *b64(const char *data, size_t n) {
        size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
        char *s = malloc(len);
        assert_non_null(s);
        sodium_bin2base64(s, len, (const unsigned char *) data, n, sodium_base64_VARIANT_ORIGINAL);
        return s;
}

static int parse(const char *body, uint64_t after, PolicyFetchReply *r, const char **error) {
        return policy_fetch_reply_parse(body, strlen(body), after, r, error);
}

static void test_policy_and_tickets(void **state) {
        char *pol = b64("mnguard-policy: 1\nserial: 7\n", 28), *sig = b64("sig\n", 4), *t1 = b64("ticket-one", 10),
             *t2 = b64("ticket-two", 10);
        TextBuf b = {};
        tb_printf(&b, "{\"group\":\"default\",\"serial\":7,\"policy\":{\"serial\":7,\"name\":\"x\",\"data\":\"%s\","
                  "\"signature\":\"%s\"},\"tickets\":[{\"id\":9,\"data\":\"%s\"},{\"id\":4,\"data\":\"%s\"}],"
                  "\"tickets_after\":9}", pol, sig, t2, t1);
        PolicyFetchReply r;
        const char *error = NULL;
        assert_int_equal(parse(b.data, 3, &r, &error), 0);
        assert_int_equal(r.group_serial, 7);
        assert_true(r.has_policy);
        assert_int_equal(r.policy_serial, 7);
        assert_int_equal(r.policy_size, 28);
        assert_memory_equal(r.policy, "mnguard-policy: 1\nserial: 7\n", 28);
        assert_string_equal(r.signature, "sig\n");
        assert_int_equal(r.n_tickets, 2);
        assert_int_equal(r.tickets[0].id, 4); /* in id order */
        assert_string_equal(r.tickets[0].data, "ticket-one");
        assert_int_equal(r.tickets[1].id, 9);
        assert_int_equal(r.tickets_after, 9);
        policy_fetch_reply_clear(&r);
        tb_free(&b);
        free(pol);
        free(sig);
        free(t1);
        free(t2);
}

static void test_nothing_new(void **state) {
        PolicyFetchReply r;
        assert_int_equal(parse("{\"group\":\"g\",\"serial\":5,\"tickets\":[],\"tickets_after\":12}", 12, &r, NULL), 0);
        assert_false(r.has_policy);
        assert_int_equal(r.n_tickets, 0);
        assert_int_equal(r.tickets_after, 12);
        policy_fetch_reply_clear(&r);
        /* tickets_after never goes back */
        assert_int_equal(parse("{\"serial\":5,\"tickets_after\":2}", 12, &r, NULL), 0);
        assert_int_equal(r.tickets_after, 12);
        policy_fetch_reply_clear(&r);
        /* a ticket received before is not offered again */
        assert_int_equal(parse("{\"serial\":5,\"tickets\":[{\"id\":3,\"data\":\"YQ==\"}],\"tickets_after\":3}", 12, &r,
                               NULL), 0);
        assert_int_equal(r.n_tickets, 0);
        assert_int_equal(r.tickets_after, 12);
        policy_fetch_reply_clear(&r);
}

static void test_malformed_replies(void **state) {
        static const char *const bad[] = {
                "",
                "null",
                "[]",
                "\"serial\"",
                "{}",                                           /* no serial */
                "{\"serial\":-1}",
                "{\"serial\":\"7\"}",
                "{\"serial\":1.5}",
                "{\"serial\":7,\"tickets\":{}}",
                "{\"serial\":7,\"tickets_after\":-3}",
                "{\"serial\":7,\"tickets_after\":\"9\"}",
                "{\"serial\":7} trailing",
                "{\"serial\":7",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                PolicyFetchReply r;
                const char *error = NULL;
                int k = parse(bad[i], 0, &r, &error);
                if (k != -EBADMSG)
                        print_message("accepted: %s\n", bad[i]);
                assert_int_equal(k, -EBADMSG);
                assert_non_null(error);
        }
        /* an embedded NUL does not cut the document short */
        PolicyFetchReply r;
        assert_int_equal(policy_fetch_reply_parse("{\"serial\":7}\0{}", 15, 0, &r, NULL), -EBADMSG);
}

static void expect_policy_error(const char *policy_json, const char *why, uint64_t serial) {
        TextBuf b = {};
        tb_printf(&b, "{\"serial\":11,\"policy\":%s,\"tickets\":[],\"tickets_after\":0}", policy_json);
        PolicyFetchReply r;
        assert_int_equal(parse(b.data, 0, &r, NULL), 0);
        assert_true(r.has_policy);
        assert_null(r.policy);
        assert_null(r.signature);
        assert_non_null(r.policy_error);
        if (!strstr(r.policy_error, why))
                print_message("%s: %s\n", policy_json, r.policy_error);
        assert_non_null(strstr(r.policy_error, why));
        /* a refusal skips this serial: the collector then holds the request until a newer one */
        assert_int_equal(r.policy_serial, serial);
        policy_fetch_reply_clear(&r);
        tb_free(&b);
}

static void test_bad_policy_kept_for_refusal(void **state) {
        expect_policy_error("\"x\"", "not an object", 11);
        expect_policy_error("{\"serial\":12,\"signature\":\"YQ==\"}", "no data", 12);
        expect_policy_error("{\"serial\":12,\"data\":\"YQ==\"}", "no signature", 12);
        expect_policy_error("{\"serial\":12,\"data\":\"YQ=\",\"signature\":\"YQ==\"}", "not valid base64", 12);
        expect_policy_error("{\"serial\":12,\"data\":\"Y Q==\",\"signature\":\"YQ==\"}", "not valid base64", 12);
        expect_policy_error("{\"serial\":12,\"data\":\"YQ==\\n\",\"signature\":\"YQ==\"}", "not valid base64", 12);
        expect_policy_error("{\"serial\":12,\"data\":\"Y-_=\",\"signature\":\"YQ==\"}", "not valid base64", 12);
        expect_policy_error("{\"serial\":12,\"data\":\"YQ==\",\"signature\":\"%%%%\"}", "signature is not valid", 12);
        expect_policy_error("{\"serial\":\"12\",\"data\":\"YQ==\",\"signature\":7}", "no signature", 11);

        /* larger than a policy may be: refused before decoding */
        size_t n = POLICY_MAX_FILE_SIZE + 1;
        char *big = malloc(n);
        assert_non_null(big);
        memset(big, 'a', n);
        char *enc = b64(big, n);
        TextBuf p = {};
        tb_printf(&p, "{\"serial\":12,\"data\":\"%s\",\"signature\":\"YQ==\"}", enc);
        expect_policy_error(p.data, "larger than a policy", 12);
        tb_free(&p);
        free(enc);
        /* exactly the largest policy passes */
        enc = b64(big, n - 1);
        tb_printf(&p, "{\"serial\":12,\"data\":\"%s\",\"signature\":\"YQ==\"}", enc);
        TextBuf b = {};
        tb_printf(&b, "{\"serial\":12,\"policy\":%s}", p.data);
        PolicyFetchReply r;
        assert_int_equal(parse(b.data, 0, &r, NULL), 0);
        assert_int_equal(r.policy_size, n - 1);
        policy_fetch_reply_clear(&r);
        tb_free(&b);
        tb_free(&p);
        free(enc);
        free(big);
}

static void test_bad_tickets_kept_for_refusal(void **state) {
        PolicyFetchReply r;
        assert_int_equal(parse("{\"serial\":1,\"tickets\":[{\"id\":5,\"data\":\"!!\"},{\"data\":\"YQ==\"},7,"
                               "{\"id\":6},{\"id\":8,\"data\":\"YQ==\"}],\"tickets_after\":8}", 0, &r, NULL), 0);
        assert_int_equal(r.n_tickets, 5);
        /* the two without an id first (id 0), then 5, 6, 8 */
        assert_int_equal(r.tickets[0].id, 0);
        assert_null(r.tickets[0].data);
        assert_non_null(strstr(r.tickets[0].error, "without an id"));
        assert_int_equal(r.tickets[1].id, 0);
        assert_int_equal(r.tickets[2].id, 5);
        assert_null(r.tickets[2].data);
        assert_non_null(strstr(r.tickets[2].error, "base64"));
        assert_int_equal(r.tickets[3].id, 6);
        assert_non_null(strstr(r.tickets[3].error, "without data"));
        assert_int_equal(r.tickets[4].id, 8);
        assert_string_equal(r.tickets[4].data, "a");
        assert_int_equal(r.tickets_after, 8);
        policy_fetch_reply_clear(&r);
}

static void test_ticket_bound(void **state) {
        TextBuf b = {};
        tb_printf(&b, "{\"serial\":0,\"tickets\":[");
        for (unsigned i = 1; i <= POLICY_FETCH_TICKETS_MAX + 10; i++)
                tb_printf(&b, "%s{\"id\":%u,\"data\":\"YQ==\"}", i > 1 ? "," : "", 1000 - i);
        tb_printf(&b, "],\"tickets_after\":999}");
        PolicyFetchReply r;
        assert_int_equal(parse(b.data, 0, &r, NULL), 0);
        assert_int_equal(r.n_tickets, POLICY_FETCH_TICKETS_MAX);
        /* the lowest ids are taken; the rest come with the next request */
        assert_int_equal(r.tickets[0].id, 1000 - POLICY_FETCH_TICKETS_MAX - 10);
        assert_int_equal(r.tickets_after, r.tickets[POLICY_FETCH_TICKETS_MAX - 1].id);
        policy_fetch_reply_clear(&r);
        tb_free(&b);
}

int main(void) {
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_policy_and_tickets),
                cmocka_unit_test(test_nothing_new),
                cmocka_unit_test(test_malformed_replies),
                cmocka_unit_test(test_bad_policy_kept_for_refusal),
                cmocka_unit_test(test_bad_tickets_kept_for_refusal),
                cmocka_unit_test(test_ticket_bound),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
