/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* Decompresses a gzip body (one or more members) of at most max bytes when inflated. Returns 0 and a
 * NUL-terminated buffer; -EFBIG when the output would exceed max; -EBADMSG for data that is not gzip. */
int gzip_inflate(const void *in, size_t in_len, size_t max, char **ret, size_t *ret_len);
