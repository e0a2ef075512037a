/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Enrollment tokens: "mngt-" and 64 hex digits (256 random bits). Only their SHA-256 is stored. */

#include <stddef.h>
#include <stdint.h>

#include "storage.h"

#define TOKEN_PREFIX "mngt-"
#define TOKEN_LEN (sizeof(TOKEN_PREFIX) - 1 + 64)
#define TOKEN_TTL_DEFAULT_USEC (24ull * 3600u * 1000000u)
#define TOKEN_TTL_MAX_USEC (366ull * 86400u * 1000000u)
#define TOKEN_USES_MAX 100000u

/* A new random token (NUL-terminated) and its hash. */
int token_generate(char out[static TOKEN_LEN + 1], uint8_t hash[static SHA256_SIZE]);
/* The hash of a token; -EINVAL when it is not of the token's form. */
int token_hash(const char *token, size_t len, uint8_t hash[static SHA256_SIZE]);
