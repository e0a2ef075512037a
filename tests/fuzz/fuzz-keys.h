/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The fixed Ed25519 key pair of the fuzz targets that verify signatures (fuzz-exception, fuzz-sign) and of
 * make-fuzz-seeds, which signs their seed tickets and signatures with it. Derived from a constant seed:
 * a test key, trusted nowhere else. */

#include <sodium.h>
#include <string.h>

#include "sign.h"

static inline int fuzz_keys(SignSecretKey *ret_secret, SignPublicKey *ret_public) {
        static const unsigned char seed[crypto_sign_SEEDBYTES] = "mnguard fuzz key: trust nowhere";
        SignSecretKey sk = {};
        SignPublicKey pk = {};

        if (sodium_init() < 0)
                return -1;
        crypto_sign_seed_keypair(pk.key, sk.key, seed);
        sign_public_from_secret(&sk, &pk);
        memcpy(sk.keyid, pk.keyid, sizeof(sk.keyid));
        *ret_secret = sk;
        *ret_public = pk;
        return 0;
}
