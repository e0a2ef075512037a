/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* Reads a whole regular file (or stdin for "-") of at most max_size bytes into a NUL-terminated
 * buffer. Returns 0, -EFBIG when larger than max_size, or another negative errno. */
int read_full_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size);

/* Writes data to path atomically: a temporary file in the same directory, fsync, rename over path,
 * fsync of the directory. The file gets mode. */
int write_file_atomic(const char *path, const void *data, size_t size, unsigned mode);

/* Creates dir (and not its parents) with mode if missing; checks it is a directory. */
int mkdir_safe(const char *dir, unsigned mode);
