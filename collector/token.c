/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "token.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <string.h>

#include "ca.h"

int token_hash(const char *token, size_t len, uint8_t hash[static SHA256_SIZE]) {
        size_t plen = strlen(TOKEN_PREFIX);
        if (len != TOKEN_LEN || memcmp(token, TOKEN_PREFIX, plen) != 0)
                return -EINVAL;
        for (size_t i = plen; i < len; i++)
                if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
                        return -EINVAL;
        return gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, hash) < 0 ? -EIO : 0;
}

int token_generate(char out[static TOKEN_LEN + 1], uint8_t hash[static SHA256_SIZE]) {
        static const char digits[] = "0123456789abcdef";
        uint8_t raw[32];
        size_t plen = strlen(TOKEN_PREFIX);
        if (ca_random(raw, sizeof(raw)) < 0)
                return -EIO;
        memcpy(out, TOKEN_PREFIX, plen);
        for (size_t i = 0; i < sizeof(raw); i++) {
                out[plen + 2 * i] = digits[raw[i] >> 4];
                out[plen + 2 * i + 1] = digits[raw[i] & 15];
        }
        out[TOKEN_LEN] = 0;
        explicit_bzero(raw, sizeof(raw));
        return token_hash(out, TOKEN_LEN, hash);
}
