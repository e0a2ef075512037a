/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "strutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t utf8_sequence_length(const uint8_t *s, size_t n) {
        if (n == 0)
                return 0;
        uint8_t c = s[0];
        if (c < 0x80)
                return 1;

        size_t len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) {
                len = 2;
                cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
                len = 3;
                cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
                len = 4;
                cp = c & 0x07;
        } else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3F);
        }
        static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return 0;
        return len;
}

bool utf8_is_valid(const char *s, size_t n, size_t *ret_offset) {
        const uint8_t *p = (const uint8_t *) s;
        size_t i = 0;
        while (i < n) {
                size_t l = utf8_sequence_length(p + i, n - i);
                if (l == 0) {
                        if (ret_offset)
                                *ret_offset = i;
                        return false;
                }
                i += l;
        }
        return true;
}

static bool is_control(uint32_t first, const uint8_t *p, size_t l) {
        if (l == 1)
                return first < 0x20 || first == 0x7F;
        /* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F */
        return l == 2 && p[0] == 0xC2 && p[1] < 0xA0;
}

static char *sanitize(const char *s, size_t n, size_t max_bytes, bool escape_controls) {
        static const char ellipsis[] = "\xe2\x80\xa6";   /* U+2026 */
        static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
        const uint8_t *p = (const uint8_t *) (s ?: "");

        /* Worst case every input byte becomes 4 output bytes ("\xNN"); the cap bounds it anyway. */
        size_t cap = max_bytes + sizeof(ellipsis);
        char *out = malloc(cap + 1);
        if (!out)
                return NULL;

        size_t o = 0, i = 0;
        while (i < n) {
                const char *piece;
                char buf[5];
                size_t plen, l = utf8_sequence_length(p + i, n - i);

                if (l == 0) {
                        piece = replacement;
                        plen = 3;
                        l = 1;
                } else if (p[i] == 0) {
                        i++;
                        continue;
                } else if (escape_controls && p[i] == '\\') {
                        /* so that an escaped byte and a literal "\x01" in the input look different */
                        piece = "\\\\";
                        plen = 2;
                } else if (escape_controls && is_control(p[i], p + i, l)) {
                        static const char hex[] = "0123456789abcdef";
                        uint8_t v = l == 1 ? p[i] : p[i + 1];
                        buf[0] = '\\';
                        buf[1] = 'x';
                        buf[2] = hex[v >> 4];
                        buf[3] = hex[v & 15];
                        piece = buf;
                        plen = 4;
                } else {
                        piece = (const char *) p + i;
                        plen = l;
                }
                if (o + plen > max_bytes) {
                        memcpy(out + o, ellipsis, 3);
                        o += 3;
                        break;
                }
                memcpy(out + o, piece, plen);
                o += plen;
                i += l;
        }
        out[o] = 0;
        /* The buffer was sized for the worst case: give back what the string does not use (with many
         * devices present, these add up). */
        char *shrunk = realloc(out, o + 1);
        return shrunk ?: out;
}

char *untrusted_sanitize(const char *s, size_t n, size_t max_bytes) {
        return sanitize(s, n, max_bytes, false);
}

char *terminal_escape(const char *s, size_t max_bytes) {
        return sanitize(s, s ? strlen(s) : 0, max_bytes, true);
}

bool lowercase_hex_valid(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

int parse_hex4(const char *s, uint16_t *ret) {
        uint16_t v = 0;
        if (!s)
                return -EINVAL;
        for (int i = 0; i < 4; i++) {
                char c = s[i];
                int d;
                if (c >= '0' && c <= '9')
                        d = c - '0';
                else if (c >= 'a' && c <= 'f')
                        d = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        d = c - 'A' + 10;
                else
                        return -EINVAL;
                v = (uint16_t) (v << 4 | d);
        }
        if (s[4] != 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_u64(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        if (!s || !*s)
                return -EINVAL;
        for (const char *c = s; *c; c++) {
                if (*c < '0' || *c > '9')
                        return -EINVAL;
                unsigned d = (unsigned) (*c - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static bool is_leap(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int civil_to_days(int y, int m, int d, int64_t *ret_days) {
        static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
                return -EINVAL;
        if (d > mdays[m - 1] + (m == 2 && is_leap(y)))
                return -EINVAL;
        /* Howard Hinnant's days_from_civil */
        int64_t yy = y - (m <= 2);
        int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
        int64_t yoe = yy - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        *ret_days = era * 146097 + doe - 719468;
        return 0;
}

void days_to_civil(int64_t z, int *ret_y, int *ret_m, int *ret_d) {
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t y = yoe + era * 400;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        int64_t d = doy - (153 * mp + 2) / 5 + 1;
        int64_t m = mp + (mp < 10 ? 3 : -9);
        *ret_y = (int) (y + (m <= 2));
        *ret_m = (int) m;
        *ret_d = (int) d;
}

/* Decodes one UTF-8 sequence (the input is valid UTF-8); returns its length. */
static size_t utf8_decode(const unsigned char *p, uint32_t *ret) {
        if (p[0] < 0x80) {
                *ret = p[0];
                return 1;
        }
        if ((p[0] & 0xe0) == 0xc0 && p[1]) {
                *ret = (uint32_t) (p[0] & 0x1f) << 6 | (p[1] & 0x3f);
                return 2;
        }
        if ((p[0] & 0xf0) == 0xe0 && p[1] && p[2]) {
                *ret = (uint32_t) (p[0] & 0x0f) << 12 | (uint32_t) (p[1] & 0x3f) << 6 | (p[2] & 0x3f);
                return 3;
        }
        if ((p[0] & 0xf8) == 0xf0 && p[1] && p[2] && p[3]) {
                *ret = (uint32_t) (p[0] & 0x07) << 18 | (uint32_t) (p[1] & 0x3f) << 12 | (uint32_t) (p[2] & 0x3f) << 6 |
                       (p[3] & 0x3f);
                return 4;
        }
        *ret = 0xfffd;
        return 1;
}

static unsigned codepoint_width(uint32_t c) {
        if ((c >= 0x0300 && c <= 0x036f) || (c >= 0x3099 && c <= 0x309a) || c == 0x200b || (c >= 0xfe00 && c <= 0xfe0f))
                return 0;       /* combining marks, dakuten, zero-width space, variation selectors */
        if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0x303e) || (c >= 0x3041 && c <= 0x33ff) ||
            (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xa000 && c <= 0xa4cf) ||
            (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) ||
            (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
            (c >= 0x20000 && c <= 0x3fffd))
                return 2;
        return 1;
}

size_t utf8_display_width(const char *s) {
        size_t w = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                uint32_t c;
                p += utf8_decode(p, &c);
                w += codepoint_width(c);
        }
        return w;
}

char *display_pad(const char *s, size_t columns) {
        size_t w = utf8_display_width(s), n = strlen(s), pad = w < columns ? columns - w : 0;
        char *out = malloc(n + pad + 1);
        if (!out)
                return NULL;
        memcpy(out, s, n);
        memset(out + n, ' ', pad);
        out[n + pad] = 0;
        return out;
}
