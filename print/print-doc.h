/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the backend learns about a print document while reading it once: its SHA-256, its size, and
 * where that can be told cheaply, its page count. Fed in chunks of any size (the document is read
 * from a pipe); no I/O, no logging.
 *
 * Page counts (docs/print.md): PDF — the larger of the number of "/Type /Page" objects and the largest
 * "/Count" of a page tree node; PostScript — the larger of the "%%Pages: N" comments and the number of
 * "%%Page:" comments. Anything else, or a PDF whose page tree is inside compressed object streams: 0,
 * unknown. A document is untrusted: the counts are what it claims, capped at PRINT_DOC_PAGES_MAX. */

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRINT_DOC_SNIFF_MAX  4096     /* bytes at the start where "%PDF-" or "%!" is looked for */
#define PRINT_DOC_NAME_MAX   16       /* bytes of a PDF name kept (longer names match nothing) */
#define PRINT_DOC_LINE_MAX   32       /* bytes of a PostScript line kept to read a DSC comment */
#define PRINT_DOC_PAGES_MAX  10000000 /* page counts saturate here */
#define PRINT_SHA256_HEX     65       /* 64 hex digits and the NUL */

typedef enum PrintDocFormat {
        PRINT_DOC_UNKNOWN,
        PRINT_DOC_PDF,
        PRINT_DOC_POSTSCRIPT,
} PrintDocFormat;

typedef struct PrintDocScanner {
        crypto_hash_sha256_state sha;
        uint64_t size;

        /* the first bytes, to tell the format */
        char head[PRINT_DOC_SNIFF_MAX];
        size_t n_head;

        /* PDF tokens */
        enum { PDF_NONE, PDF_COMMENT, PDF_NAME, PDF_NUMBER } pdf_state;
        enum { PDF_PREV_OTHER, PDF_PREV_TYPE, PDF_PREV_COUNT } pdf_prev;
        char pdf_name[PRINT_DOC_NAME_MAX + 1];
        size_t pdf_name_len;
        bool pdf_name_long;
        uint64_t pdf_number;
        uint64_t pdf_page_objects, pdf_count_max;

        /* PostScript DSC comments, at the start of a line */
        char ps_line[PRINT_DOC_LINE_MAX];
        size_t ps_line_len;
        bool ps_line_done; /* kept enough of this line, skipping to its end */
        uint64_t ps_page_comments, ps_pages_max;
} PrintDocScanner;

typedef struct PrintDocInfo {
        char sha256[PRINT_SHA256_HEX];
        uint64_t size;
        PrintDocFormat format;
        uint32_t pages; /* 0 = unknown */
} PrintDocInfo;

void print_doc_scanner_init(PrintDocScanner *s);
void print_doc_scanner_feed(PrintDocScanner *s, const void *data, size_t n);
void print_doc_scanner_finish(PrintDocScanner *s, PrintDocInfo *ret);

const char *print_doc_format_to_string(PrintDocFormat f);
