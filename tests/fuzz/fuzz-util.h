/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Small helpers shared by the fuzz targets. An invariant that does not hold aborts, which libFuzzer
 * (and the standalone driver, through the sanitizers' and the C library's abort) reports as a crash. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                          \
        do {                                                                                      \
                if (!(cond)) {                                                                    \
                        dprintf(2, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                                  \
                }                                                                                 \
        } while (0)

/* A NUL-terminated copy of data[0..size) (the input may hold NULs: C-string consumers see a prefix). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                return NULL;
        if (size)
                memcpy(s, data, size);
        s[size] = 0;
        return s;
}

/* Splits data into at most max fields at sep bytes, each a new NUL-terminated string (missing fields
 * are NULL). Returns the number of fields found. Free with fuzz_fields_free(). */
static inline size_t fuzz_split(const uint8_t *data, size_t size, uint8_t sep, char **fields, size_t max) {
        size_t n = 0, start = 0;
        for (size_t i = 0; i < max; i++)
                fields[i] = NULL;
        for (size_t i = 0; i <= size && n < max; i++) {
                if (i < size && data[i] != sep)
                        continue;
                /* the last field takes the rest, separators included */
                size_t end = n + 1 == max ? size : i;
                fields[n++] = fuzz_strndup(data + start, end - start);
                start = i + 1;
                if (end == size)
                        break;
        }
        return n;
}

static inline void fuzz_fields_free(char **fields, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(fields[i]);
}
