/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* Reads a whole regular file (or stdin for "-") of at most max_size bytes into a NUL-terminated
 * buffer. Returns 0, -EFBIG when larger than max_size, or another negative errno. */
int read_full_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size);
