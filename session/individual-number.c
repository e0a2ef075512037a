/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "individual-number.h"

#include <string.h>

#include "strutil.h"

#define GROUP_DIGITS 4
#define CHAIN_GROUPS 3

enum {
        CH_OTHER,       /* also the start of the text */
        CH_DIGIT,
        CH_SEP_SPACE,
        CH_SEP_DASH,
};

unsigned mn_individual_number_check_digit(const uint8_t digits[MN_INDIVIDUAL_NUMBER_DIGITS - 1]) {
        unsigned sum = 0;
        /* P_n is the n-th digit from the lowest of the 11: digits[11 - n]. */
        for (unsigned n = 1; n <= MN_INDIVIDUAL_NUMBER_DIGITS - 1; n++) {
                unsigned q = n <= 6 ? n + 1 : n - 5;
                sum += digits[MN_INDIVIDUAL_NUMBER_DIGITS - 1 - n] * q;
        }
        unsigned rem = sum % 11;
        return rem <= 1 ? 0 : 11 - rem;
}

bool mn_individual_number_valid(const uint8_t digits[MN_INDIVIDUAL_NUMBER_DIGITS]) {
        for (size_t i = 0; i < MN_INDIVIDUAL_NUMBER_DIGITS; i++)
                if (digits[i] > 9)
                        return false;
        return mn_individual_number_check_digit(digits) == digits[MN_INDIVIDUAL_NUMBER_DIGITS - 1];
}

bool mn_individual_number_valid_string(const char *s) {
        uint8_t d[MN_INDIVIDUAL_NUMBER_DIGITS];
        if (!s || strlen(s) != MN_INDIVIDUAL_NUMBER_DIGITS)
                return false;
        for (size_t i = 0; i < MN_INDIVIDUAL_NUMBER_DIGITS; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                d[i] = (uint8_t) (s[i] - '0');
        }
        return mn_individual_number_valid(d);
}

void mn_number_scanner_init(MnNumberScanner *s, MnTextEncoding encoding) {
        *s = (MnNumberScanner) { .encoding = encoding, .prev = CH_OTHER };
}

/* Classifies a code point: CH_DIGIT with its value, a separator kind, or CH_OTHER. */
static int classify(uint32_t cp, uint8_t *ret_value) {
        if (cp >= '0' && cp <= '9') {
                *ret_value = (uint8_t) (cp - '0');
                return CH_DIGIT;
        }
        if (cp >= 0xFF10 && cp <= 0xFF19) { /* full-width ０-９ */
                *ret_value = (uint8_t) (cp - 0xFF10);
                return CH_DIGIT;
        }
        switch (cp) {
        case 0x20: case 0xA0: case 0x3000:                      /* space, no-break, ideographic */
                return CH_SEP_SPACE;
        case '-': case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015:
        case 0x2212: case 0xFF0D: case 0x30FC: case 0xFF70:     /* hyphens, dashes, minus, ー */
                return CH_SEP_DASH;
        }
        return CH_OTHER;
}

static void chain_end(MnNumberScanner *s) {
        if (s->chain_groups == CHAIN_GROUPS && s->chain_ok && mn_individual_number_valid(s->chain))
                s->found++;
        s->chain_groups = 0;
        s->chain_open = false;
}

static void chain_start(MnNumberScanner *s, const uint8_t *group, size_t len) {
        s->chain_groups = 1;
        s->chain_ok = len == GROUP_DIGITS;
        if (s->chain_ok)
                memcpy(s->chain, group, GROUP_DIGITS);
}

/* A digit run ended: check it alone, and add it to the separator chain. */
static void run_end(MnNumberScanner *s) {
        size_t len = s->run_len;
        if (len == MN_INDIVIDUAL_NUMBER_DIGITS && mn_individual_number_valid(s->run))
                s->found++;
        if (s->chain_groups > 0 && s->chain_open) {
                if (s->chain_groups <= CHAIN_GROUPS)
                        s->chain_groups++;
                if (len != GROUP_DIGITS)
                        s->chain_ok = false;
                else if (s->chain_groups <= CHAIN_GROUPS)
                        memcpy(s->chain + GROUP_DIGITS * (s->chain_groups - 1), s->run, GROUP_DIGITS);
        } else {
                chain_end(s);
                chain_start(s, s->run, len);
        }
        s->chain_open = false;
        s->run_len = 0;
}

static void put(MnNumberScanner *s, uint32_t cp) {
        uint8_t value = 0;
        int c = classify(cp, &value);

        switch (c) {
        case CH_DIGIT:
                if (s->run_len < MN_INDIVIDUAL_NUMBER_DIGITS)
                        s->run[s->run_len] = value;
                if (s->run_len <= MN_INDIVIDUAL_NUMBER_DIGITS)
                        s->run_len++;
                break;
        case CH_SEP_SPACE:
        case CH_SEP_DASH:
                if (s->prev != CH_DIGIT) {
                        chain_end(s);
                        break;
                }
                {
                        /* the group that ends here, should the chain restart with it */
                        uint8_t group[GROUP_DIGITS];
                        size_t len = s->run_len;
                        if (len == GROUP_DIGITS)
                                memcpy(group, s->run, GROUP_DIGITS);
                        run_end(s);
                        if (s->chain_groups > 1 && s->chain_sep != c) {
                                chain_end(s);
                                chain_start(s, group, len);
                        }
                }
                s->chain_sep = c;
                s->chain_open = true;
                break;
        default:
                if (s->prev == CH_DIGIT)
                        run_end(s);
                chain_end(s);
        }
        s->prev = c;
}

static void put_utf8_pending(MnNumberScanner *s) {
        size_t n = s->utf8_len;
        s->utf8_len = s->utf8_need = 0;
        if (utf8_sequence_length(s->utf8, n) != n) {
                put(s, 0xFFFD);
                return;
        }
        uint32_t cp = n == 2 ? (s->utf8[0] & 0x1Fu) : n == 3 ? (s->utf8[0] & 0x0Fu) : (s->utf8[0] & 0x07u);
        for (size_t i = 1; i < n; i++)
                cp = (cp << 6) | (s->utf8[i] & 0x3Fu);
        put(s, cp);
}

void mn_number_scanner_feed(MnNumberScanner *s, const void *data, size_t size) {
        const uint8_t *p = data;
        for (size_t i = 0; i < size; i++) {
                uint8_t b = p[i];
                if (s->encoding == MN_TEXT_LATIN1) {
                        put(s, b);
                        continue;
                }
                if (s->utf8_need > 0) {
                        if ((b & 0xC0) == 0x80) {
                                s->utf8[s->utf8_len++] = b;
                                if (s->utf8_len == s->utf8_need)
                                        put_utf8_pending(s);
                                continue;
                        }
                        /* cut short: the broken sequence is one "other" character */
                        s->utf8_len = s->utf8_need = 0;
                        put(s, 0xFFFD);
                }
                if (b < 0x80)
                        put(s, b);
                else if (b >= 0xC2 && b <= 0xF4) {
                        s->utf8[0] = b;
                        s->utf8_len = 1;
                        s->utf8_need = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
                } else
                        put(s, 0xFFFD);
        }
}

uint64_t mn_number_scanner_finish(MnNumberScanner *s) {
        if (s->utf8_need > 0) {
                s->utf8_len = s->utf8_need = 0;
                put(s, 0xFFFD);
        }
        put(s, 0); /* end of text: a boundary like any other character */
        s->prev = CH_OTHER;
        return s->found;
}

uint64_t mn_individual_numbers_count(const void *text, size_t size, MnTextEncoding encoding) {
        MnNumberScanner s;
        mn_number_scanner_init(&s, encoding);
        mn_number_scanner_feed(&s, text, size);
        return mn_number_scanner_finish(&s);
}
