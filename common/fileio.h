/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* Reads from fd into buf until size bytes or the end of the file, going on after EINTR; the bytes read
 * into *ret_n. 0 or a negative errno. */
int read_up_to(int fd, void *buf, size_t size, size_t *ret_n);

/* Reads a whole regular file (or stdin for "-") of at most max_size bytes into a NUL-terminated
 * buffer. Returns 0, -EFBIG when larger than max_size, or another negative errno. */
int read_full_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size);

/* Writes data to path atomically: a temporary file in the same directory, fsync, rename over path,
 * fsync of the directory. The file gets mode. */
int write_file_atomic(const char *path, const void *data, size_t size, unsigned mode);

/* Creates dir (and not its parents) with mode if missing; checks it is a directory. */
int mkdir_safe(const char *dir, unsigned mode);
