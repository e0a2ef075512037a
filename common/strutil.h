/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest untrusted string (device attribute, file name, user input) that mnguard keeps, in bytes.
 * Longer input is cut at a character boundary and marked with "…". */
#define MN_UNTRUSTED_MAX 512

/* Length of the valid UTF-8 sequence starting at s (at most n bytes), or 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
size_t utf8_sequence_length(const uint8_t *s, size_t n);

/* Whether s[0..n) is valid UTF-8. On failure *ret_offset (if non-NULL) is the first bad byte. */
bool utf8_is_valid(const char *s, size_t n, size_t *ret_offset);

/* Makes an untrusted byte string safe to store and to put into JSON: invalid UTF-8 bytes become
 * U+FFFD, NUL bytes are dropped, and the result is cut to at most max_bytes (plus the "…" marker)
 * at a character boundary. Control characters are kept: JSON encoders escape them, and
 * terminal_escape() does for terminals. Returns a new string or NULL on allocation failure. */
char *untrusted_sanitize(const char *s, size_t n, size_t max_bytes);

/* Like untrusted_sanitize(), then replaces control characters (C0, DEL, C1) by "\xNN" and a backslash
 * by "\\" so the string can be written to a terminal without acting on it, unambiguously. */
char *terminal_escape(const char *s, size_t max_bytes);

/* Columns a valid UTF-8 string takes on a terminal: East Asian wide and fullwidth characters (漢字,
 * かな, ＡＢＣ, 한글) count two, combining marks none, everything else one. */
size_t utf8_display_width(const char *s);

/* s followed by spaces up to `columns` display columns (s unchanged when it is as wide or wider): table
 * columns that line up with Japanese text, which printf's %-Ns counts in bytes. A new string. */
char *display_pad(const char *s, size_t columns);

/* Whether s[0..n) are all lowercase hex digits (ids, key ids, hashes). */
bool lowercase_hex_valid(const char *s, size_t n);

/* Parses exactly 4 hex digits into *ret. Returns 0 or -EINVAL. */
int parse_hex4(const char *s, uint16_t *ret);

/* Strict decimal parse of an unsigned 64-bit value: digits only, no sign, no spaces, no overflow. */
int parse_u64(const char *s, uint64_t *ret);

/* Days since 1970-01-01 of a proleptic Gregorian date; -EINVAL if the date does not exist. */
int civil_to_days(int year, int month, int day, int64_t *ret_days);
void days_to_civil(int64_t days, int *ret_year, int *ret_month, int *ret_day);
