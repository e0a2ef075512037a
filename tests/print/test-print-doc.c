/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The document scanner (hash, format, page count, in chunks of any size), job strings, the messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "print-doc.h"
#include "print-job.h"
#include "print-message.h"

/* Scans data fed in pieces of chunk bytes. */
static void scan(const char *data, size_t n, size_t chunk, PrintDocInfo *ret) {
        PrintDocScanner s;
        print_doc_scanner_init(&s);
        for (size_t o = 0; o < n; o += chunk)
                print_doc_scanner_feed(&s, data + o, n - o < chunk ? n - o : chunk);
        print_doc_scanner_finish(&s, ret);
}

static void expect(const char *data, PrintDocFormat format, uint32_t pages) {
        size_t n = strlen(data);
        PrintDocInfo first;
        scan(data, n, n ?: 1, &first);
        assert_int_equal(first.format, format);
        assert_int_equal(first.pages, pages);
        /* the same whatever the chunking */
        for (size_t chunk = 1; chunk < 8; chunk++) {
                PrintDocInfo i;
                scan(data, n, chunk, &i);
                assert_int_equal(i.format, format);
                assert_int_equal(i.pages, pages);
                assert_string_equal(i.sha256, first.sha256);
                assert_int_equal(i.size, n);
        }
}

static void test_sha256(void **state) {
        PrintDocInfo i;
        scan("", 0, 1, &i);
        assert_string_equal(i.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        scan("abc", 3, 1, &i);
        assert_string_equal(i.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_int_equal(i.format, PRINT_DOC_UNKNOWN);
        assert_int_equal(i.pages, 0);
}

static void test_pdf(void **state) {
        expect("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
               "2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 >> endobj\n"
               "3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n"
               "4 0 obj <</Type/Page/Parent 2 0 R>> endobj\n"
               "5 0 obj <<\n/Type\r\n/Page\n>> endobj\n%%EOF\n",
               PRINT_DOC_PDF, 3);
        /* the page tree says more than the objects seen (object streams): the larger wins */
        expect("%PDF-1.5\n2 0 obj << /Type /Pages /Count 12 >> endobj\n", PRINT_DOC_PDF, 12);
        /* /Count lies low: the objects seen win */
        expect("%PDF-1.4\n<< /Type /Pages /Count 1 >> << /Type /Page >> << /Type /Page >>\n", PRINT_DOC_PDF, 2);
        /* /Pages and /PageLabel are not pages; a comment hides a token */
        expect("%PDF-1.4\n<< /Type /Pages >> << /Type /PageLabel >> %/Type /Page\n<< /Typex /Page >>\n",
               PRINT_DOC_PDF, 0);
        /* page tree in compressed streams: unknown */
        expect("%PDF-1.7\n1 0 obj << /Type /ObjStm /N 5 >> stream\nx\x9c\x01\x02\nendstream\n", PRINT_DOC_PDF, 0);
        /* junk before the header (PJL) */
        expect("\x1b%-12345X@PJL ENTER LANGUAGE=PDF\n%PDF-1.4\n<</Type/Page>>", PRINT_DOC_PDF, 1);
        /* absurd counts saturate */
        expect("%PDF-1.4\n<< /Type /Pages /Count 99999999999999999999999 >>", PRINT_DOC_PDF, PRINT_DOC_PAGES_MAX);
}

static void test_postscript(void **state) {
        expect("%!PS-Adobe-3.0\n%%Pages: 2\n%%EndComments\n%%Page: 1 1\nshowpage\n%%Page: 2 2\nshowpage\n%%EOF\n",
               PRINT_DOC_POSTSCRIPT, 2);
        expect("%!PS-Adobe-3.0\r\n%%Pages: (atend)\r\n%%Page: 1 1\r\n%%Trailer\r\n%%Pages: 5\r\n",
               PRINT_DOC_POSTSCRIPT, 5);
        /* more %%Page: comments than %%Pages claims */
        expect("%!PS\n%%Pages: 1\n%%Page: a 1\n%%Page: b 2\n%%Page: c 3\n", PRINT_DOC_POSTSCRIPT, 3);
        /* not at the start of a line: not a comment */
        expect("%!PS\nfoo %%Page: 1 1\n", PRINT_DOC_POSTSCRIPT, 0);
        expect("\x1b%-12345X@PJL ENTER LANGUAGE=POSTSCRIPT\n%!PS-Adobe-3.0\n%%Page: 1 1\n", PRINT_DOC_POSTSCRIPT, 1);
        expect("plain text, %!PS not at a line start\n", PRINT_DOC_UNKNOWN, 0);
}

static void test_job_strings(void **state) {
        _cleanup_(print_job_done) PrintJob job = {};
        char big[5000];

        assert_int_equal(print_job_set_string(&job.title, "a\"b\\c\x01\x7f\xff\xfe", PRINT_TITLE_MAX), 0);
        assert_string_equal(job.title, "a\"b\\c\x01\x7f\xef\xbf\xbd\xef\xbf\xbd");
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        assert_int_equal(print_job_set_string(&job.title, big, PRINT_TITLE_MAX), 0);
        assert_int_equal(strlen(job.title), PRINT_TITLE_MAX + 3);

        job.doc.pages = 3;
        job.copies = 4;
        assert_int_equal(print_job_total_pages(&job), 12);
        job.copies = 0;
        assert_int_equal(print_job_total_pages(&job), 3);
        job.doc.pages = 0;
        job.copies = 5;
        assert_int_equal(print_job_total_pages(&job), 0);
        job.doc.pages = PRINT_DOC_PAGES_MAX;
        job.copies = UINT64_MAX;
        assert_int_equal(print_job_total_pages(&job), UINT32_MAX);
}

static void test_messages(void **state) {
        PrintVerdict v = { .rule = (char *) "2F 複合機\n\x1b[31m", .reason = (char *) "blocked by rule" };
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

        assert_int_equal(print_message_build(PRINT_PROBLEM_DENIED, &v, 0, NULL, NULL, &a), 0);
        assert_non_null(strstr(a, "セキュリティポリシーにより禁止"));
        assert_non_null(strstr(a, "Printing is blocked by the security policy"));
        assert_non_null(strstr(a, "情報政策課"));
        assert_null(strchr(a, '\n'));
        assert_null(strchr(a, '\x1b'));
        assert_non_null(strstr(a, "\\x0a\\x1b[31m"));

        v.reason = (char *) "page count unknown and the rule limits pages";
        assert_int_equal(print_message_build(PRINT_PROBLEM_DENIED, &v, 0, "総務課 (内線 1234)", NULL, &b), 0);
        assert_non_null(strstr(b, "ページ数を確認できない"));
        assert_non_null(strstr(b, "総務課 (内線 1234)に申請"));

        v.reason = (char *) "more pages than the rule allows";
        assert_int_equal(print_message_build(PRINT_PROBLEM_DENIED, &v, 120, NULL, NULL, &c), 0);
        assert_non_null(strstr(c, "120 pages"));

        assert_int_equal(print_message_build(PRINT_PROBLEM_NO_POLICY, NULL, 0, NULL, NULL, &d), 0);
        assert_non_null(strstr(d, "mnguard"));
        assert_non_null(strstr(d, "not running"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sha256),
                cmocka_unit_test(test_pdf),
                cmocka_unit_test(test_postscript),
                cmocka_unit_test(test_job_strings),
                cmocka_unit_test(test_messages),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
