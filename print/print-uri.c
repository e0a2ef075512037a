/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mnguard device URI (see print-uri.h). */
#include "print-uri.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

/* Backends that write files instead of paper. "file" is handled inside cupsd itself. */
static const char *const export_schemes[] = {
        "file", "cups-pdf", "cups-brf", "pdf", "pdf-writer", "vpdf",
};

/* Backends whose URI carries another device URI: beh:/DD/ATT/DELAY/URI (cups-filters). */
#define BEH_SCHEME "beh"
#define BEH_FIELDS 3

static const char hex_digits[] = "0123456789ABCDEF";

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_unreserved(char c) {
        return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_userinfo_char(char c) {
        return is_unreserved(c) || (c && strchr("%!$&'()*+,;=:", c));
}

static int hex_value(char c) {
        if (is_digit(c))
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Length of uri's scheme (before ':'), or 0 when it has none. */
static size_t scheme_length(const char *uri) {
        size_t n = 0;
        if (!is_alpha(uri[0]))
                return 0;
        while (is_alpha(uri[n]) || is_digit(uri[n]) || uri[n] == '+' || uri[n] == '-' || uri[n] == '.')
                n++;
        return uri[n] == ':' && n <= PRINT_SCHEME_MAX ? n : 0;
}

static bool scheme_is(const char *uri, const char *scheme) {
        size_t n = scheme_length(uri), l = strlen(scheme);
        return n == l && strncmp(uri, scheme, l) == 0;
}

int print_uri_scheme(const char *uri, char *buf, size_t size) {
        size_t n = uri ? scheme_length(uri) : 0;
        if (n == 0)
                return -EINVAL;
        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(buf, uri, n);
        buf[n] = 0;
        return 0;
}

bool print_uri_is_wrapped(const char *uri) {
        return uri && scheme_is(uri, PRINT_URI_SCHEME);
}

int print_uri_check_inner(const char *inner) {
        if (!inner)
                return -EINVAL;
        size_t n = strnlen(inner, PRINT_URI_MAX + 1);
        if (n > PRINT_URI_MAX)
                return -ENAMETOOLONG;
        for (size_t i = 0; i < n; i++)
                if (inner[i] < 0x21 || inner[i] > 0x7e)
                        return -EINVAL;
        if (scheme_length(inner) == 0)
                return -EINVAL;
        if (print_uri_is_wrapped(inner))
                return -ELOOP;
        return 0;
}

/* Finds the user info of an inner URI "scheme://userinfo@host…": *ret_start is its first byte,
 * *ret_len its length without the '@'. Returns false when there is none. */
static bool find_userinfo(const char *inner, size_t *ret_start, size_t *ret_len) {
        size_t s = scheme_length(inner);
        if (s == 0 || strncmp(inner + s, "://", 3) != 0)
                return false;
        const char *auth = inner + s + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < alen; i++)
                if (auth[i] == '@')
                        at = auth + i; /* the last '@' ends the user info */
        if (!at)
                return false;
        *ret_start = (size_t) (auth - inner);
        *ret_len = (size_t) (at - auth);
        return true;
}

int print_uri_wrap(const char *inner, char **ret) {
        size_t ui_start = 0, ui_len = 0, len, o = 0;
        int r = print_uri_check_inner(inner);
        if (r < 0)
                return r;
        bool has_ui = find_userinfo(inner, &ui_start, &ui_len);
        if (has_ui && ui_len == 0)
                return -EINVAL; /* "scheme://@host" */
        if (has_ui)
                for (size_t i = 0; i < ui_len; i++)
                        if (!is_userinfo_char(inner[ui_start + i]))
                                return -EINVAL;

        len = strlen(inner);
        /* worst case: every byte escaped, plus the prefix */
        size_t max = sizeof(PRINT_URI_SCHEME "://@" PRINT_URI_WRAPPED_HOST "/") + ui_len + 3 * len + 1;
        _cleanup_free_ char *out = malloc(max);
        if (!out)
                return -ENOMEM;
        if (has_ui) {
                int k = snprintf(out, max, "%s://%.*s@%s/", PRINT_URI_SCHEME, (int) ui_len, inner + ui_start,
                                 PRINT_URI_WRAPPED_HOST);
                if (k < 0 || (size_t) k >= max)
                        return -ENOMEM;
                o = (size_t) k;
        } else {
                int k = snprintf(out, max, "%s:/", PRINT_URI_SCHEME);
                if (k < 0 || (size_t) k >= max)
                        return -ENOMEM;
                o = (size_t) k;
        }
        for (size_t i = 0; i < len; i++) {
                if (has_ui && i == ui_start) {
                        i += ui_len; /* skip "userinfo" and, with the loop's i++, the '@' */
                        continue;
                }
                unsigned char c = (unsigned char) inner[i];
                if (is_unreserved((char) c))
                        out[o++] = (char) c;
                else {
                        out[o++] = '%';
                        out[o++] = hex_digits[c >> 4];
                        out[o++] = hex_digits[c & 15];
                }
        }
        out[o] = 0;
        if (o > PRINT_URI_MAX)
                return -ENAMETOOLONG;
        *ret = TAKE_PTR(out);
        return 0;
}

int print_uri_unwrap(const char *uri, char **ret_inner) {
        const char *p, *ui = NULL;
        size_t ui_len = 0, o = 0;

        if (!uri)
                return -EINVAL;
        if (strnlen(uri, PRINT_URI_MAX + 1) > PRINT_URI_MAX)
                return -ENAMETOOLONG;
        if (!print_uri_is_wrapped(uri))
                return -EINVAL;
        p = uri + strlen(PRINT_URI_SCHEME) + 1;
        if (strncmp(p, "//", 2) == 0) {
                /* "//USERINFO@wrapped/ENC", or "//wrapped/ENC" as cupsd shows it (without the user info) */
                const char *at = strchr(p + 2, '@');
                if (at && at < p + 2 + strcspn(p + 2, "/")) {
                        ui = p + 2;
                        ui_len = (size_t) (at - ui);
                        if (ui_len == 0)
                                return -EINVAL;
                        for (size_t i = 0; i < ui_len; i++)
                                if (!is_userinfo_char(ui[i]))
                                        return -EINVAL;
                        p = at + 1;
                } else
                        p += 2;
                if (strncmp(p, PRINT_URI_WRAPPED_HOST "/", strlen(PRINT_URI_WRAPPED_HOST) + 1) != 0)
                        return -EINVAL;
                p += strlen(PRINT_URI_WRAPPED_HOST) + 1;
        } else if (p[0] == '/')
                p++;
        else
                return -EINVAL;

        size_t n = strlen(p);
        _cleanup_free_ char *out = malloc(n + ui_len + 2);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (is_unreserved(p[i])) {
                        out[o++] = p[i];
                        continue;
                }
                if (p[i] != '%' || i + 2 >= n)
                        return -EINVAL;
                int hi = hex_value(p[i + 1]), lo = hi >= 0 ? hex_value(p[i + 2]) : -1;
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                char c = (char) (hi << 4 | lo);
                if (is_unreserved(c))
                        return -EINVAL; /* not canonical: one inner URI, one mnguard URI */
                if (c < 0x21 || c > 0x7e)
                        return -EINVAL; /* NUL, controls, spaces, non-ASCII: never in a device URI */
                out[o++] = c;
                i += 2;
        }
        out[o] = 0;

        int r = print_uri_check_inner(out);
        if (r < 0)
                return r == -ELOOP ? -EINVAL : r;
        size_t dummy_start, dummy_len;
        if (find_userinfo(out, &dummy_start, &dummy_len))
                return -EINVAL; /* user info belongs in the mnguard URI's authority, never escaped */
        if (ui) {
                /* Put the user info back: "scheme://" + userinfo + "@" + rest. The inner URI must have
                 * an authority and no user info of its own. */
                size_t s = scheme_length(out);
                if (strncmp(out + s, "://", 3) != 0)
                        return -EINVAL;
                memmove(out + s + 3 + ui_len + 1, out + s + 3, o - (s + 3) + 1);
                memcpy(out + s + 3, ui, ui_len);
                out[s + 3 + ui_len] = '@';
                if (strlen(out) > PRINT_URI_MAX)
                        return -ENAMETOOLONG;
        }
        *ret_inner = TAKE_PTR(out);
        return 0;
}

int print_uri_sanitize(const char *inner, char **ret) {
        size_t start, len;
        char *s = strdup(inner);
        if (!s)
                return -ENOMEM;
        if (find_userinfo(s, &start, &len)) {
                char *colon = memchr(s + start, ':', len);
                if (colon) /* drop ":password", keep "user@" */
                        memmove(colon, s + start + len, strlen(s + start + len) + 1);
        }
        *ret = s;
        return 0;
}

int print_uri_strip_userinfo(const char *uri, char **ret) {
        size_t start, len;
        char *s = strdup(uri);
        if (!s)
                return -ENOMEM;
        if (find_userinfo(s, &start, &len))
                memmove(s + start, s + start + len + 1, strlen(s + start + len + 1) + 1);
        *ret = s;
        return 0;
}

bool print_uri_is_export(const char *inner) {
        const char *u = inner;
        for (unsigned depth = 0; u && depth <= PRINT_URI_NEST_MAX; depth++) {
                for (size_t i = 0; i < ELEMENTSOF(export_schemes); i++)
                        if (scheme_is(u, export_schemes[i]))
                                return true;
                if (!scheme_is(u, BEH_SCHEME))
                        return false;
                /* beh:/DD/ATT/DELAY/URI: what follows the third field is the wrapped URI */
                const char *p = u + strlen(BEH_SCHEME) + 1;
                for (unsigned f = 0; p && f < BEH_FIELDS; f++)
                        p = *p == '/' ? strchr(p + 1, '/') : NULL;
                u = p ? p + 1 : NULL;
        }
        return false;
}

bool print_uri_is_discard(const char *inner) {
        return inner && (streq(inner, "file:/dev/null") || streq(inner, "file:///dev/null"));
}
