/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mnguard device URI: round trips, strict decoding, hostile inner URIs, export classification. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "print-queues.h"
#include "print-uri.h"

static void roundtrip(const char *inner, const char *expected) {
        _cleanup_free_ char *w = NULL, *back = NULL;
        assert_int_equal(print_uri_wrap(inner, &w), 0);
        if (expected)
                assert_string_equal(w, expected);
        assert_true(print_uri_is_wrapped(w));
        assert_int_equal(print_uri_unwrap(w, &back), 0);
        assert_string_equal(back, inner);
}

static void test_roundtrip(void **state) {
        roundtrip("socket://127.0.0.1:9100", "mnguard:/socket%3A%2F%2F127.0.0.1%3A9100");
        roundtrip("cups-pdf:/", "mnguard:/cups-pdf%3A%2F");
        roundtrip("ipp://printer.example.lg.jp/ipp/print?waitjob=false", NULL);
        roundtrip("usb://HP/LaserJet%20P2015?serial=00CNBW12345", NULL);
        roundtrip("dnssd://Brother%20MFC._ipp._tcp.local/?uuid=e3248000-80ce-11db-8000-30055c773bcf", NULL);
        roundtrip("beh:/1/3/5/socket://10.0.0.1:9100", NULL);
        /* user info is lifted out so that cupsd can hide the password */
        roundtrip("smb://tanaka:p%40ss@server/queue", "mnguard://tanaka:p%40ss@wrapped/smb%3A%2F%2Fserver%2Fqueue");
        roundtrip("ipp://user@host:631/printers/x", "mnguard://user@wrapped/ipp%3A%2F%2Fhost%3A631%2Fprinters%2Fx");
}

static void test_bad_inner(void **state) {
        _cleanup_free_ char *w = NULL;
        char big[PRINT_URI_MAX + 10];

        assert_int_equal(print_uri_wrap("mnguard:/socket%3A%2F%2Fx", &w), -ELOOP);
        assert_int_equal(print_uri_wrap("no-scheme", &w), -EINVAL);
        assert_int_equal(print_uri_wrap("/usr/lib/cups/backend/socket", &w), -EINVAL);
        assert_int_equal(print_uri_wrap("../x:/", &w), -EINVAL);
        assert_int_equal(print_uri_wrap("socket://a b", &w), -EINVAL);
        assert_int_equal(print_uri_wrap("socket://a\nb", &w), -EINVAL);
        assert_int_equal(print_uri_wrap("socket://\xe3\x81\x82", &w), -EINVAL);
        assert_int_equal(print_uri_wrap("", &w), -EINVAL);
        assert_int_equal(print_uri_wrap("so://@host", &w), -EINVAL);
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        memcpy(big, "socket://", 9);
        assert_int_equal(print_uri_wrap(big, &w), -ENAMETOOLONG);
        /* fits as inner, but not once escaped */
        big[PRINT_URI_MAX - 100] = 0;
        for (size_t i = 9; i < PRINT_URI_MAX - 100; i += 2)
                big[i] = '/';
        assert_int_equal(print_uri_wrap(big, &w), -ENAMETOOLONG);
        assert_null(w);
}

static void test_strict_unwrap(void **state) {
        static const char *const bad[] = {
                "mnguard:",
                "mnguard:socket%3A%2F%2Fx",           /* no slash */
                "mnguard:/socket://x",                /* raw reserved characters */
                "mnguard:/socket%3a%2f%2fx%3A1",      /* fine hex case, see below */
                "mnguard:/socket%3A%2F%2Fx%",         /* truncated escape */
                "mnguard:/socket%3A%2F%2Fx%4",        /* truncated escape */
                "mnguard:/socket%3A%2F%2Fx%zz",       /* not hex */
                "mnguard:/%73ocket%3A%2F%2Fx",        /* escaped unreserved: not canonical */
                "mnguard:/socket%3A%2F%2Fx%00y",      /* NUL */
                "mnguard:/socket%3A%2F%2Fx%0Ay",      /* newline */
                "mnguard:/socket%3A%2F%2Fx%20y",      /* space */
                "mnguard:/%2E%2E%2Fbin%2Fsh%3A",      /* path as a scheme */
                "mnguard:/%2Fbin%2Fsh%3Ax",           /* absolute path */
                "mnguard:/..%2Fsocket%3Ax",           /* ".." */
                "mnguard:/mnguard%3A%2Fsocket%253A",  /* nested mnguard */
                "mnguard:/sh",                        /* no scheme inside */
                "mnguard://@wrapped/socket%3A%2F%2Fx",
                "mnguard://u@other/socket%3A%2F%2Fx",
                "mnguard://u@wrapped/cups-pdf%3A%2F",   /* user info for an URI without authority */
                "mnguard://u@wrapped/smb%3A%2F%2Fv%40server", /* two user infos */
                "mnguard:/smb%3A%2F%2Fv%40server",            /* user info escaped: not canonical */
                "mnguard:/so%3A%2F%2F%40i1",                  /* empty user info (found by fuzzing) */
                "mnguard://u%0a@wrapped/smb%3A%2F%2Fserver",  /* fine: stays escaped */
                "mnguard://u v@wrapped/smb%3A%2F%2Fserver",
                "socket://x",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *inner = NULL;
                int r = print_uri_unwrap(bad[i], &inner);
                if (i == 3) { /* lower-case hex is accepted */
                        assert_int_equal(r, 0);
                        assert_string_equal(inner, "socket://x:1");
                        continue;
                }
                if (strstr(bad[i], "u%0a@")) {
                        assert_int_equal(r, 0);
                        assert_string_equal(inner, "smb://u%0a@server");
                        continue;
                }
                if (r == 0)
                        fail_msg("accepted %s as %s", bad[i], inner);
                assert_null(inner);
        }
}

static void test_scheme_and_sanitize(void **state) {
        char s[PRINT_SCHEME_MAX + 1];
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        assert_int_equal(print_uri_scheme("cups-pdf:/", s, sizeof(s)), 0);
        assert_string_equal(s, "cups-pdf");
        assert_int_equal(print_uri_scheme("x", s, sizeof(s)), -EINVAL);
        assert_int_equal(print_uri_scheme("socket://x", s, 4), -ENAMETOOLONG);
        assert_int_equal(print_uri_sanitize("smb://u:secret@server/q", &a), 0);
        assert_string_equal(a, "smb://u@server/q");
        assert_int_equal(print_uri_sanitize("socket://h:9100", &b), 0);
        assert_string_equal(b, "socket://h:9100");
        assert_int_equal(print_uri_sanitize("ipp://u@h/x:y@z", &c), 0); /* '@' in the path is not user info */
        assert_string_equal(c, "ipp://u@h/x:y@z");
}

static void test_export(void **state) {
        assert_true(print_uri_is_export("file:///tmp/out.prn"));
        assert_true(print_uri_is_export("cups-pdf:/"));
        assert_true(print_uri_is_export("cups-brf:/"));
        assert_true(print_uri_is_export("beh:/1/3/5/cups-pdf:/"));
        assert_false(print_uri_is_export("beh:/1/3/5/socket://h"));
        assert_false(print_uri_is_export("beh:/1/3"));
        assert_false(print_uri_is_export("socket://h:9100"));
        assert_false(print_uri_is_export("filex:/"));
        assert_true(print_uri_is_discard("file:/dev/null"));
        assert_false(print_uri_is_discard("file:/dev/null2"));
}

static void test_queue_status(void **state) {
        assert_int_equal(print_queue_status("mnguard:/socket%3A%2F%2Fh"), PRINT_QUEUE_WRAPPED);
        assert_int_equal(print_queue_status("mnguard:/socket://h"), PRINT_QUEUE_BROKEN);
        assert_int_equal(print_queue_status("socket://h"), PRINT_QUEUE_UNGUARDED);
        assert_int_equal(print_queue_status(""), PRINT_QUEUE_UNGUARDED);
        assert_int_equal(print_queue_status("file:/dev/null"), PRINT_QUEUE_DISCARD);
        assert_int_equal(print_queue_can_wrap("socket://h:9100"), 0);
        assert_int_equal(print_queue_can_wrap("file:/tmp/x"), -EOPNOTSUPP);
        assert_int_equal(print_queue_can_wrap("smb://user@server/q"), 0);
        assert_int_equal(print_queue_status("mnguard://wrapped/smb%3A%2F%2Fserver"), PRINT_QUEUE_WRAPPED);
        assert_int_equal(print_queue_can_wrap("mnguard:/x"), -ELOOP);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_bad_inner),
                cmocka_unit_test(test_strict_unwrap),
                cmocka_unit_test(test_scheme_and_sanitize),
                cmocka_unit_test(test_export),
                cmocka_unit_test(test_queue_status),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
