/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "gzip.h"

#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

#include "macro.h"

int gzip_inflate(const void *in, size_t in_len, size_t max, char **ret, size_t *ret_len) {
        z_stream z = {};
        size_t cap = in_len * 4 + 1024, len = 0;
        int zr;

        if (cap > max + 1)
                cap = max + 1;
        _cleanup_free_ char *out = malloc(cap);
        if (!out)
                return -ENOMEM;
        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)       /* gzip wrapper only */
                return -ENOMEM;
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) in_len;
        for (;;) {
                if (len + 1 >= cap) {
                        if (cap > max) {
                                inflateEnd(&z);
                                return -EFBIG;
                        }
                        size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
                        char *n = realloc(out, ncap);
                        if (!n) {
                                inflateEnd(&z);
                                return -ENOMEM;
                        }
                        out = n;
                        cap = ncap;
                }
                z.next_out = (Bytef *) out + len;
                z.avail_out = (uInt) (cap - 1 - len);
                zr = inflate(&z, Z_NO_FLUSH);
                len = cap - 1 - z.avail_out;
                if (len > max) {
                        inflateEnd(&z);
                        return -EFBIG;
                }
                if (zr == Z_STREAM_END) {
                        if (z.avail_in == 0)
                                break;
                        /* concatenated members (gzip -c a b) */
                        if (inflateReset(&z) != Z_OK) {
                                inflateEnd(&z);
                                return -EBADMSG;
                        }
                        continue;
                }
                if (zr == Z_BUF_ERROR && z.avail_in == 0) {
                        inflateEnd(&z);
                        return -EBADMSG;        /* truncated */
                }
                if (zr != Z_OK && zr != Z_BUF_ERROR) {
                        inflateEnd(&z);
                        return zr == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
                }
        }
        inflateEnd(&z);
        out[len] = 0;
        *ret = TAKE_PTR(out);
        *ret_len = len;
        return 0;
}
