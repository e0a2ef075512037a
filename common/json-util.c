/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "json-util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int mn_json_to_string(json_object *o, int flags, char **ret) {
        static const char hex[] = "0123456789abcdef";
        const char *s = json_object_to_json_string_ext(o, flags);
        size_t n, extra = 0;

        if (!s)
                return -ENOMEM;
        n = strlen(s);
        /* DEL and C1 occur only inside strings (JSON syntax is printable ASCII), so escaping them
         * byte by byte keeps the document valid. json-c has escaped C0 already. */
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] == 0x7f)
                        extra += 5; /* 1 byte -> \u007f */
                else if ((unsigned char) s[i] == 0xc2 && i + 1 < n && (unsigned char) s[i + 1] >= 0x80 &&
                         (unsigned char) s[i + 1] <= 0x9f)
                        extra += 4; /* 2 bytes -> \u00XX */

        char *out = malloc(n + extra + 1), *p = out;
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == 0x7f || (c == 0xc2 && i + 1 < n && (unsigned char) s[i + 1] >= 0x80 &&
                                  (unsigned char) s[i + 1] <= 0x9f)) {
                        unsigned char v = c == 0x7f ? c : (unsigned char) s[++i];
                        memcpy(p, "\\u00", 4);
                        p[4] = hex[v >> 4];
                        p[5] = hex[v & 15];
                        p += 6;
                } else
                        *p++ = (char) c;
        }
        *p = 0;
        *ret = out;
        return 0;
}
