/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hash and cheap page count of a print document, in one pass (see print-doc.h). */
#include "print-doc.h"

#include <string.h>

#include "macro.h"

static bool pdf_is_space(unsigned char c) {
        return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

static bool pdf_is_delimiter(unsigned char c) {
        return c && strchr("()<>[]{}/%", c);
}

static bool is_digit(unsigned char c) {
        return c >= '0' && c <= '9';
}

static uint64_t saturating_max(uint64_t a, uint64_t b) {
        uint64_t m = a > b ? a : b;
        return m > PRINT_DOC_PAGES_MAX ? PRINT_DOC_PAGES_MAX : m;
}

void print_doc_scanner_init(PrintDocScanner *s) {
        *s = (PrintDocScanner) {};
        crypto_hash_sha256_init(&s->sha);
}

static void pdf_end_token(PrintDocScanner *s) {
        if (s->pdf_state == PDF_NAME) {
                s->pdf_name[s->pdf_name_len] = 0;
                if (s->pdf_name_long)
                        s->pdf_prev = PDF_PREV_OTHER;
                else {
                        if (s->pdf_prev == PDF_PREV_TYPE && streq(s->pdf_name, "Page"))
                                s->pdf_page_objects = saturating_max(s->pdf_page_objects + 1, 0);
                        s->pdf_prev = streq(s->pdf_name, "Type")    ? PDF_PREV_TYPE
                                      : streq(s->pdf_name, "Count") ? PDF_PREV_COUNT
                                                                    : PDF_PREV_OTHER;
                }
        } else if (s->pdf_state == PDF_NUMBER) {
                if (s->pdf_prev == PDF_PREV_COUNT)
                        s->pdf_count_max = saturating_max(s->pdf_count_max, s->pdf_number);
                s->pdf_prev = PDF_PREV_OTHER;
        }
        s->pdf_state = PDF_NONE;
}

static void pdf_byte(PrintDocScanner *s, unsigned char c) {
        switch (s->pdf_state) {
        case PDF_COMMENT:
                if (c == '\n' || c == '\r')
                        s->pdf_state = PDF_NONE;
                return;
        case PDF_NAME:
                if (!pdf_is_space(c) && !pdf_is_delimiter(c)) {
                        if (s->pdf_name_len < PRINT_DOC_NAME_MAX)
                                s->pdf_name[s->pdf_name_len++] = (char) c;
                        else
                                s->pdf_name_long = true;
                        return;
                }
                pdf_end_token(s);
                break;
        case PDF_NUMBER:
                if (is_digit(c)) {
                        s->pdf_number = saturating_max(s->pdf_number * 10 + (uint64_t) (c - '0'), 0);
                        return;
                }
                pdf_end_token(s);
                break;
        case PDF_NONE:
                break;
        }

        if (pdf_is_space(c))
                return;
        if (c == '%')
                s->pdf_state = PDF_COMMENT;
        else if (c == '/') {
                s->pdf_state = PDF_NAME;
                s->pdf_name_len = 0;
                s->pdf_name_long = false;
        } else if (is_digit(c)) {
                s->pdf_state = PDF_NUMBER;
                s->pdf_number = (uint64_t) (c - '0');
        } else
                s->pdf_prev = PDF_PREV_OTHER;
}

static bool has_prefix(const char *s, size_t n, const char *prefix) {
        size_t l = strlen(prefix);
        return n >= l && memcmp(s, prefix, l) == 0;
}

static void ps_end_line(PrintDocScanner *s) {
        const char *l = s->ps_line;
        size_t n = s->ps_line_len;

        if (has_prefix(l, n, "%%Pages:")) {
                size_t i = strlen("%%Pages:");
                uint64_t v = 0;
                bool any = false;
                while (i < n && (l[i] == ' ' || l[i] == '\t'))
                        i++;
                for (; i < n && is_digit((unsigned char) l[i]); i++) {
                        v = saturating_max(v * 10 + (uint64_t) (l[i] - '0'), 0);
                        any = true;
                }
                if (any) /* "(atend)" says the number comes in the trailer */
                        s->ps_pages_max = saturating_max(s->ps_pages_max, v);
        } else if (has_prefix(l, n, "%%Page:"))
                s->ps_page_comments = saturating_max(s->ps_page_comments + 1, 0);

        s->ps_line_len = 0;
        s->ps_line_done = false;
}

static void ps_byte(PrintDocScanner *s, unsigned char c) {
        if (c == '\n' || c == '\r') {
                ps_end_line(s);
                return;
        }
        if (s->ps_line_done)
                return;
        s->ps_line[s->ps_line_len++] = (char) c;
        /* Lines that cannot be DSC page comments are skipped after their first bytes. */
        if (s->ps_line_len == sizeof(s->ps_line) || (s->ps_line_len <= 2 && c != '%'))
                s->ps_line_done = true;
}

void print_doc_scanner_feed(PrintDocScanner *s, const void *data, size_t n) {
        const unsigned char *p = data;

        crypto_hash_sha256_update(&s->sha, p, n);
        s->size += n;
        if (s->n_head < sizeof(s->head)) {
                size_t k = sizeof(s->head) - s->n_head;
                if (k > n)
                        k = n;
                memcpy(s->head + s->n_head, p, k);
                s->n_head += k;
        }
        for (size_t i = 0; i < n; i++) {
                pdf_byte(s, p[i]);
                ps_byte(s, p[i]);
        }
}

/* Offset of the first occurrence of needle in the head, or SIZE_MAX. */
static size_t head_find(const PrintDocScanner *s, const char *needle, bool line_start) {
        size_t l = strlen(needle);
        for (size_t i = 0; i + l <= s->n_head; i++)
                if (memcmp(s->head + i, needle, l) == 0 &&
                    (!line_start || i == 0 || s->head[i - 1] == '\n' || s->head[i - 1] == '\r'))
                        return i;
        return SIZE_MAX;
}

void print_doc_scanner_finish(PrintDocScanner *s, PrintDocInfo *ret) {
        unsigned char digest[crypto_hash_sha256_BYTES];
        static const char hex[] = "0123456789abcdef";

        pdf_end_token(s);
        ps_end_line(s);
        crypto_hash_sha256_final(&s->sha, digest);
        for (size_t i = 0; i < sizeof(digest); i++) {
                ret->sha256[2 * i] = hex[digest[i] >> 4];
                ret->sha256[2 * i + 1] = hex[digest[i] & 15];
        }
        ret->sha256[2 * sizeof(digest)] = 0;
        ret->size = s->size;

        size_t pdf = head_find(s, "%PDF-", false), ps = head_find(s, "%!", true);
        if (pdf == SIZE_MAX && ps == SIZE_MAX) {
                ret->format = PRINT_DOC_UNKNOWN;
                ret->pages = 0;
        } else if (pdf < ps) {
                ret->format = PRINT_DOC_PDF;
                ret->pages = (uint32_t) saturating_max(s->pdf_page_objects, s->pdf_count_max);
        } else {
                ret->format = PRINT_DOC_POSTSCRIPT;
                ret->pages = (uint32_t) saturating_max(s->ps_page_comments, s->ps_pages_max);
        }
}

const char *print_doc_format_to_string(PrintDocFormat f) {
        switch (f) {
        case PRINT_DOC_PDF: return "application/pdf";
        case PRINT_DOC_POSTSCRIPT: return "application/postscript";
        case PRINT_DOC_UNKNOWN: break;
        }
        return "application/octet-stream";
}
