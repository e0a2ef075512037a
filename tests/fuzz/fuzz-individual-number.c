/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the clipboard guard's 個人番号 scanner (session/individual-number.c) over selection
 * data, which any X client can put on the clipboard. The first byte picks the encoding (even UTF-8, odd
 * Latin-1) and the chunk size; the rest is the text.
 * Invariant: the count does not depend on how the text arrives (one piece, or chunks of any size, which
 * split UTF-8 sequences); it is at most one number per 12 digits of text. */
#include "fuzz-util.h"
#include "individual-number.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size == 0)
                return 0;
        MnTextEncoding enc = data[0] % 2 ? MN_TEXT_LATIN1 : MN_TEXT_UTF8;
        size_t chunk = (size_t) (data[0] >> 1) % 13 + 1;
        const uint8_t *text = data + 1;
        size_t n = size - 1;

        uint64_t whole = mn_individual_numbers_count(text, n, enc);

        MnNumberScanner s;
        mn_number_scanner_init(&s, enc);
        for (size_t o = 0; o < n; o += chunk)
                mn_number_scanner_feed(&s, text + o, n - o < chunk ? n - o : chunk);
        FUZZ_CHECK(mn_number_scanner_finish(&s) == whole);

        mn_number_scanner_init(&s, enc);
        for (size_t o = 0; o < n; o++)
                mn_number_scanner_feed(&s, text + o, 1);
        FUZZ_CHECK(mn_number_scanner_finish(&s) == whole);

        FUZZ_CHECK(whole <= n / 12);
        return 0;
}
