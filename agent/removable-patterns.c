/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Extra removable-media patterns from agent.conf (see removable-patterns.h). */
#include "removable-patterns.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

static bool is_literal(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '.' || c == ':' || c == '+' || c == '-';
}

static bool is_glob(char c) {
        return c == '*' || c == '?' || c == '[' || c == ']' || c == '!' || c == '^';
}

bool mn_removable_pattern_valid(const char *pattern) {
        size_t n;
        bool in_bracket = false;

        if (!pattern)
                return false;
        n = strnlen(pattern, MN_REMOVABLE_PATTERN_MAX + 1);
        if (n < 2 || n > MN_REMOVABLE_PATTERN_MAX)
                return false;
        if (!is_literal(pattern[0]) || !is_literal(pattern[1]))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = pattern[i];
                if (!is_literal(c) && !is_glob(c))
                        return false;
                if (c == '[') {
                        if (in_bracket)
                                return false;
                        in_bracket = true;
                } else if (c == ']') {
                        if (!in_bracket)
                                return false;
                        in_bracket = false;
                } else if ((c == '!' || c == '^') && !(in_bracket && pattern[i - 1] == '['))
                        return false; /* negation only right after '[' */
        }
        return !in_bracket;
}

int mn_removable_patterns_add(MnRemovablePatterns *p, const char *pattern) {
        if (!mn_removable_pattern_valid(pattern))
                return -EINVAL;
        for (size_t i = 0; i < p->n; i++)
                if (streq(p->patterns[i], pattern))
                        return 0;
        if (p->n >= MN_REMOVABLE_PATTERNS_MAX)
                return -E2BIG;
        char *c = strdup(pattern);
        if (!c)
                return -ENOMEM;
        p->patterns[p->n++] = c;
        return 0;
}

void mn_removable_patterns_clear(MnRemovablePatterns *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++)
                free(p->patterns[i]);
        *p = (MnRemovablePatterns) {};
}

static bool is_separator(char c) {
        return c == ' ' || c == '\t' || c == ',';
}

int mn_removable_patterns_parse(const char *value, MnRemovablePatterns *ret, size_t *ret_bad_offset) {
        _cleanup_(mn_removable_patterns_clear) MnRemovablePatterns p = {};
        char word[MN_REMOVABLE_PATTERN_MAX + 1];
        size_t len, i = 0;
        int r;

        if (!value)
                return -EINVAL;
        len = strnlen(value, MN_REMOVABLE_LIST_MAX + 1);
        if (len > MN_REMOVABLE_LIST_MAX)
                return -E2BIG;

        while (i < len) {
                while (i < len && is_separator(value[i]))
                        i++;
                if (i >= len)
                        break;
                size_t start = i;
                while (i < len && !is_separator(value[i]))
                        i++;
                size_t n = i - start;
                if (n > MN_REMOVABLE_PATTERN_MAX) {
                        if (ret_bad_offset)
                                *ret_bad_offset = start;
                        return -EINVAL;
                }
                memcpy(word, value + start, n);
                word[n] = 0;
                r = mn_removable_patterns_add(&p, word);
                if (r == -EINVAL && ret_bad_offset)
                        *ret_bad_offset = start;
                if (r < 0)
                        return r;
        }

        mn_removable_patterns_clear(ret);
        *ret = p;
        p = (MnRemovablePatterns) {};
        return 0;
}

bool mn_removable_patterns_match(const MnRemovablePatterns *p, const char *sysname) {
        if (!p || isempty(sysname))
                return false;
        for (size_t i = 0; i < p->n; i++)
                if (fnmatch(p->patterns[i], sysname, FNM_PATHNAME | FNM_PERIOD) == 0)
                        return true;
        return false;
}
