/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by the unit tests: growable text buffer and corpus listing. */

#include <stdarg.h>
#include <stddef.h>

typedef struct TextBuf {
        char *data;
        size_t len, cap;
} TextBuf;

void tb_printf(TextBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tb_free(TextBuf *b);

/* Sorted list of the *.yaml files in dir (full paths), NULL-terminated. */
char **list_yaml_files(const char *dir, size_t *ret_n);
void strv_free(char **v);
