/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* 個人番号 (individual number) detection: pure, no I/O, no allocation.
 *
 * An individual number is 11 digits and a check digit (施行令第八条; the check digit's formula is
 * 総務省令第八十五号 第五条): with P_n the n-th of the 11 digits counted from the lowest (rightmost)
 * and Q_n = n + 1 for 1 ≤ n ≤ 6, n − 5 for 7 ≤ n ≤ 11, the check digit is 11 − (Σ P_n·Q_n mod 11),
 * or 0 when that remainder is 0 or 1.
 *
 * The scanner finds candidates in text as it streams (selection data arrives in chunks):
 *   - a run of exactly 12 digits (ASCII or full-width ０-９) not touching another digit;
 *   - three groups of 4 digits joined by one kind of separator ("1234 5678 9012", "1234-5678-9012",
 *     full-width space and dashes too), the chain not extended by a further group.
 * A candidate counts when its check digit is valid; numbers with a wrong check digit do not.
 * 13-digit runs (法人番号) and 4-4-4-4 chains (card numbers) are not candidates. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MN_INDIVIDUAL_NUMBER_DIGITS 12

/* The check digit (0..9) for the first 11 digits (each 0..9, most significant first). */
unsigned mn_individual_number_check_digit(const uint8_t digits[MN_INDIVIDUAL_NUMBER_DIGITS - 1]);

/* Whether 12 digits (0..9, most significant first) end in their valid check digit. */
bool mn_individual_number_valid(const uint8_t digits[MN_INDIVIDUAL_NUMBER_DIGITS]);

/* Whether s is exactly 12 ASCII digits with a valid check digit. */
bool mn_individual_number_valid_string(const char *s);

typedef enum MnTextEncoding {
        MN_TEXT_UTF8,   /* UTF8_STRING, text/plain;charset=utf-8: invalid sequences count as "other" */
        MN_TEXT_LATIN1, /* STRING (ICCCM: ISO Latin-1), and other 8-bit text scanned for ASCII digits */
} MnTextEncoding;

typedef struct MnNumberScanner {
        MnTextEncoding encoding;
        uint8_t utf8[4];        /* a UTF-8 sequence split across chunks */
        uint8_t utf8_len, utf8_need;
        int prev;               /* class of the previous character (internal) */
        uint8_t run[MN_INDIVIDUAL_NUMBER_DIGITS];
        uint8_t run_len;        /* saturates at MN_INDIVIDUAL_NUMBER_DIGITS + 1 */
        uint8_t chain[MN_INDIVIDUAL_NUMBER_DIGITS];
        uint8_t chain_groups;   /* saturates at 4 */
        bool chain_ok;          /* every group so far has exactly 4 digits */
        bool chain_open;        /* the last character was the chain's separator, after a group */
        int chain_sep;
        uint64_t found;
} MnNumberScanner;

void mn_number_scanner_init(MnNumberScanner *s, MnTextEncoding encoding);
void mn_number_scanner_feed(MnNumberScanner *s, const void *data, size_t size);
/* Ends the text; returns how many valid individual numbers were found in all of it. */
uint64_t mn_number_scanner_finish(MnNumberScanner *s);

/* One-shot: how many valid individual numbers text holds. */
uint64_t mn_individual_numbers_count(const void *text, size_t size, MnTextEncoding encoding);
