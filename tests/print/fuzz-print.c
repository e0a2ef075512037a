/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target for the backend's parsers of untrusted input: the mnguard device URI (first byte even)
 * and the document scanner (odd). Invariants: a URI that decodes re-encodes to one that decodes to the
 * same inner URI; the scanner gives the same answer whatever the chunking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "print-doc.h"
#include "print-uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_uri(const uint8_t *data, size_t size) {
        char *uri = malloc(size + 1), *inner = NULL, *again = NULL, *inner2 = NULL;
        if (!uri)
                return;
        memcpy(uri, data, size);
        uri[size] = 0;
        if (print_uri_unwrap(uri, &inner) == 0) {
                if (print_uri_check_inner(inner) != 0)
                        abort();
                if (print_uri_wrap(inner, &again) == 0) {
                        if (print_uri_unwrap(again, &inner2) != 0 || strcmp(inner, inner2) != 0)
                                abort();
                }
        }
        free(uri);
        free(inner);
        free(again);
        free(inner2);
}

static void check_doc(const uint8_t *data, size_t size) {
        PrintDocScanner a, b;
        PrintDocInfo ia, ib;
        size_t chunk = size ? (size_t) data[0] % 7 + 1 : 1;

        print_doc_scanner_init(&a);
        print_doc_scanner_feed(&a, data, size);
        print_doc_scanner_finish(&a, &ia);
        print_doc_scanner_init(&b);
        for (size_t o = 0; o < size; o += chunk)
                print_doc_scanner_feed(&b, data + o, size - o < chunk ? size - o : chunk);
        print_doc_scanner_finish(&b, &ib);
        if (ia.pages != ib.pages || ia.format != ib.format || strcmp(ia.sha256, ib.sha256) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size == 0)
                return 0;
        if (data[0] % 2 == 0)
                check_uri(data + 1, size - 1);
        else
                check_doc(data + 1, size - 1);
        return 0;
}
