/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Typed readers of YAML values for the policy parser, each reporting what it expected. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"
#include "strutil.h"

_printf_(4, 5) void policy_report(Ctx *c, unsigned line, unsigned column, const char *fmt, ...) {
        PolicyDiagnostics *d = c->diags;
        if (d->n >= POLICY_MAX_DIAGNOSTICS) {
                d->truncated = true;
                return;
        }
        if (d->n % 16 == 0) {
                PolicyDiagnostic *v = realloc(d->items, (d->n + 16) * sizeof(PolicyDiagnostic));
                if (!v) {
                        c->oom = true;
                        return;
                }
                d->items = v;
        }
        va_list ap;
        va_start(ap, fmt);
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0) {
                c->oom = true;
                msg = NULL;
        }
        va_end(ap);
        if (!msg)
                return;
        d->items[d->n++] = (PolicyDiagnostic) { .line = line, .column = column, .message = msg };
}



/* --- scalar helpers --- */

static bool is_digit(char ch) {
        return ch >= '0' && ch <= '9';
}

/* Whether a plain (unquoted) scalar would be typed as something other than a string by YAML 1.1 or
 * 1.2: a number, boolean or null. Identifiers written that way lose leading zeros in other tools. */
bool plain_is_non_string(const char *s) {
        static const char *const words[] = {
                "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
                "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
                ".inf", ".Inf", ".INF", "-.inf", "+.inf", ".nan", ".NaN", ".NAN",
        };
        if (!*s)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (streq(s, words[i]))
                        return true;
        const char *p = s;
        if (*p == '+' || *p == '-')
                p++;
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o' || p[1] == 'b') && p[2])
                return true;
        bool digits = false;
        while (is_digit(*p) || *p == '_') {
                digits |= is_digit(*p);
                p++;
        }
        if (*p == '.') {
                p++;
                while (is_digit(*p) || *p == '_') {
                        digits = true;
                        p++;
                }
        }
        if (!digits)
                return false;
        if (*p == 'e' || *p == 'E') {
                p++;
                if (*p == '+' || *p == '-')
                        p++;
                if (!is_digit(*p))
                        return false;
                while (is_digit(*p))
                        p++;
        }
        return *p == 0;
}

static bool has_control(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return true;
        return false;
}

bool expect_type(Ctx *c, const YNode *n, YNodeType t, const char *what) {
        if (n->type == t)
                return true;
        report(c, at(n), "%s must be %s, not %s", what, ytree_type_name(t), ytree_type_name(n->type));
        return false;
}

/* Text value. identifier: refuse unquoted values YAML would type as number/bool/null. */
bool get_text(Ctx *c, const YNode *n, const char *what, size_t max, bool identifier, char **ret) {
        if (!expect_type(c, n, YNODE_SCALAR, what))
                return false;
        if (n->plain && identifier && plain_is_non_string(n->value)) {
                report(c, at(n), "%s must be a quoted string: write %s: \"%s\" (unquoted, YAML reads it as a "
                       "number or boolean and leading zeros are lost)", what, what, n->value);
                return false;
        }
        if (n->plain && !identifier && (streq(n->value, "~") || streq(n->value, "null") || !*n->value)) {
                report(c, at(n), "%s must not be empty", what);
                return false;
        }
        if (n->length == 0) {
                report(c, at(n), "%s must not be empty", what);
                return false;
        }
        if (n->length > max) {
                report(c, at(n), "%s is %zu bytes long, at most %zu are allowed", what, n->length, max);
                return false;
        }
        if (has_control(n->value)) {
                report(c, at(n), "%s contains a control character", what);
                return false;
        }
        char *v = strdup(n->value);
        if (!v) {
                c->oom = true;
                return false;
        }
        *ret = v;
        return true;
}

bool get_bool(Ctx *c, const YNode *n, const char *what, bool *ret) {
        if (!expect_type(c, n, YNODE_SCALAR, what))
                return false;
        if (n->plain && streq(n->value, "true"))
                *ret = true;
        else if (n->plain && streq(n->value, "false"))
                *ret = false;
        else {
                report(c, at(n), "%s must be true or false, not '%s'", what, n->value);
                return false;
        }
        return true;
}

bool get_uint(Ctx *c, const YNode *n, const char *what, uint64_t min, uint64_t max, uint64_t *ret) {
        uint64_t v;
        if (!expect_type(c, n, YNODE_SCALAR, what))
                return false;
        if (!n->plain || parse_u64(n->value, &v) < 0) {
                report(c, at(n), "%s must be a whole number, not '%s'", what, n->value);
                return false;
        }
        if (v < min || v > max) {
                report(c, at(n), "%s must be between %llu and %llu, not %llu", what, (unsigned long long) min,
                       (unsigned long long) max, (unsigned long long) v);
                return false;
        }
        *ret = v;
        return true;
}

/* One of a fixed set of words; returns its index. */
bool get_word(Ctx *c, const YNode *n, const char *what, const char *const *words, size_t n_words,
                     int *ret) {
        if (!expect_type(c, n, YNODE_SCALAR, what))
                return false;
        for (size_t i = 0; i < n_words; i++)
                if (streq(n->value, words[i])) {
                        *ret = (int) i;
                        return true;
                }
        char expected[256] = "";
        size_t o = 0;
        for (size_t i = 0; i < n_words && o < sizeof(expected); i++)
                o += (size_t) snprintf(expected + o, sizeof(expected) - o, "%s%s", i ? ", " : "", words[i]);
        report(c, at(n), "%s must be one of %s, not '%s'", what, expected, n->value);
        return false;
}

bool get_date(Ctx *c, const YNode *n, const char *what, int64_t *ret) {
        if (!expect_type(c, n, YNODE_SCALAR, what))
                return false;
        const char *s = n->value;
        bool shape = n->length == 10 && s[4] == '-' && s[7] == '-';
        for (int i = 0; shape && i < 10; i++)
                if (i != 4 && i != 7 && !is_digit(s[i]))
                        shape = false;
        if (shape) {
                int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
                int m = (s[5] - '0') * 10 + (s[6] - '0');
                int d = (s[8] - '0') * 10 + (s[9] - '0');
                if (civil_to_days(y, m, d, ret) >= 0)
                        return true;
                report(c, at(n), "%s: there is no such date as %s", what, s);
                return false;
        }
        report(c, at(n), "%s must be a date written YYYY-MM-DD, not '%s'", what, s);
        return false;
}

/* Known keys of a mapping: reports unknown and duplicate keys. values[i] gets the node of keys[i]. */
bool walk_map(Ctx *c, const YNode *map, const char *what, const char *const *keys, size_t n_keys,
                     const YNode **values) {
        bool ok = true;
        for (size_t k = 0; k < n_keys; k++)
                values[k] = NULL;
        for (size_t i = 0; i < ytree_map_size(map); i++) {
                const YNode *key = map->items[2 * i], *val = map->items[2 * i + 1];
                size_t k;
                for (k = 0; k < n_keys; k++)
                        if (streq(key->value, keys[k]))
                                break;
                if (k == n_keys) {
                        char expected[512] = "";
                        size_t o = 0;
                        for (size_t j = 0; j < n_keys && o < sizeof(expected); j++)
                                o += (size_t) snprintf(expected + o, sizeof(expected) - o, "%s%s", j ? ", " : "",
                                                       keys[j]);
                        _cleanup_free_ char *shown = terminal_escape(key->value, 64);
                        report(c, at(key), "unknown key '%s' in %s (expected one of: %s)", shown ?: "?", what,
                               expected);
                        ok = false;
                        continue;
                }
                if (values[k]) {
                        report(c, at(key), "duplicate key '%s' in %s (first at line %u)", keys[k], what,
                               values[k]->line);
                        ok = false;
                        continue;
                }
                values[k] = val;
        }
        return ok;
}

/* --- principals --- */

static bool valid_principal(const char *s) {
        const char *name = s[0] == '@' ? s + 1 : s;
        if (!*name)
                return false;
        for (const char *p = name; *p; p++)
                if (*p == ' ' || *p == ':' || *p == ',' || *p == '@' || *p == '/')
                        return false;
        return true;
}

bool get_principals(Ctx *c, const YNode *n, const char *what, PolicyPrincipals *ret) {
        if (!expect_type(c, n, YNODE_SEQUENCE, what))
                return false;
        if (n->n_items == 0) {
                report(c, at(n), "%s is empty: leave the key out to apply the rule to every user", what);
                return false;
        }
        if (n->n_items > POLICY_MAX_LIST_ITEMS) {
                report(c, at(n), "%s has %zu entries, at most %d are allowed", what, n->n_items,
                       POLICY_MAX_LIST_ITEMS);
                return false;
        }
        ret->names = calloc(n->n_items, sizeof(char *));
        if (!ret->names) {
                c->oom = true;
                return false;
        }
        bool ok = true;
        for (size_t i = 0; i < n->n_items; i++) {
                char *v = NULL;
                if (!get_text(c, n->items[i], "user", POLICY_MAX_NAME, true, &v)) {
                        ok = false;
                        continue;
                }
                if (!valid_principal(v)) {
                        report(c, at(n->items[i]), "'%s' is not a user name or @group", v);
                        free(v);
                        ok = false;
                        continue;
                }
                ret->names[ret->n++] = v;
        }
        return ok;
}

bool get_mode(Ctx *c, const YNode *n, const char *what, PolicyMode *ret) {
        static const char *const words[] = { "enforce", "audit" };
        int i;
        if (!get_word(c, n, what, words, ELEMENTSOF(words), &i))
                return false;
        *ret = i == 0 ? POLICY_MODE_ENFORCE : POLICY_MODE_AUDIT;
        return true;
}

bool get_class_list(Ctx *c, const YNode *n, const char *what, UsbClassMask *ret) {
        if (!expect_type(c, n, YNODE_SEQUENCE, what))
                return false;
        if (n->n_items > POLICY_MAX_LIST_ITEMS) {
                report(c, at(n), "%s has %zu entries, at most %d are allowed", what, n->n_items,
                       POLICY_MAX_LIST_ITEMS);
                return false;
        }
        UsbClassMask m = 0;
        bool ok = true;
        for (size_t i = 0; i < n->n_items; i++) {
                const YNode *it = n->items[i];
                if (!expect_type(c, it, YNODE_SCALAR, "a class name")) {
                        ok = false;
                        continue;
                }
                int cls = usb_class_from_string(it->value);
                if (cls < 0) {
                        _cleanup_free_ char *shown = terminal_escape(it->value, 64);
                        report(c, at(it), "unknown USB class '%s' (expected one of: storage, still-image, "
                               "network, wireless, hid, printer, audio, video, smart-card, vendor, ...; "
                               "see docs/policy.md)", shown ?: "?");
                        ok = false;
                        continue;
                }
                m |= USB_CLASS_BIT(cls);
        }
        *ret = m;
        return ok;
}

bool get_app_list(Ctx *c, const YNode *n, const char *what, char ***ret, size_t *ret_n) {
        if (!expect_type(c, n, YNODE_SEQUENCE, what))
                return false;
        if (n->n_items > POLICY_MAX_LIST_ITEMS) {
                report(c, at(n), "%s has %zu entries, at most %d are allowed", what, n->n_items,
                       POLICY_MAX_LIST_ITEMS);
                return false;
        }
        *ret = calloc(n->n_items + 1, sizeof(char *));
        if (!*ret) {
                c->oom = true;
                return false;
        }
        bool ok = true;
        for (size_t i = 0; i < n->n_items; i++) {
                char *s;
                if (get_text(c, n->items[i], "an application class name", POLICY_MAX_NAME, true, &s))
                        (*ret)[(*ret_n)++] = s;
                else
                        ok = false;
        }
        return ok;
}

