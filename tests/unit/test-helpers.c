/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "test-helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tb_printf(TextBuf *b, const char *fmt, ...) {
        va_list ap;
        for (;;) {
                va_start(ap, fmt);
                int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
                va_end(ap);
                if (n < 0)
                        abort();
                if (b->data && b->len + (size_t) n < b->cap) {
                        b->len += (size_t) n;
                        return;
                }
                size_t ncap = (b->cap ? b->cap * 2 : 4096) + (size_t) n;
                b->data = realloc(b->data, ncap);
                if (!b->data)
                        abort();
                b->cap = ncap;
        }
}

void tb_free(TextBuf *b) {
        free(b->data);
        *b = (TextBuf) {};
}

static int cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

char **list_yaml_files(const char *dir, size_t *ret_n) {
        DIR *d = opendir(dir);
        size_t n = 0;
        char **v = calloc(1, sizeof(char *));
        if (!d || !v)
                abort();
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0)
                        continue;
                v = realloc(v, (n + 2) * sizeof(char *));
                if (!v || asprintf(&v[n], "%s/%s", dir, de->d_name) < 0)
                        abort();
                v[++n] = NULL;
        }
        closedir(d);
        qsort(v, n, sizeof(char *), cmp);
        *ret_n = n;
        return v;
}

void strv_free(char **v) {
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}
