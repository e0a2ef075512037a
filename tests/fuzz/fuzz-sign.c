/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the text formats of policy/sign.c. The first byte picks the parser, the rest is the
 * file: 0 a trusted public keys file (policy-signing.pub, sign_trusted_keys_parse), 1 a secret key file
 * (sign_secret_key_parse), 2 and 3 a signature file over a fixed document (sign_verify, policy and ticket
 * context) with the fixed trusted key of fuzz-keys.h; the seeds hold valid signatures (make-fuzz-seeds).
 * Invariants: every key read formats back to a line that reads to the same key; a secret key read signs
 * what its public half verifies; a signature is accepted only for its own context and document. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-keys.h"
#include "fuzz-util.h"
#include "macro.h"
#include "sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The document make-fuzz-seeds signs for the signature seeds. */
#define FUZZ_SIGNED_DOCUMENT "mnguard-policy: 1\nserial: 1\nname: fuzz\n"

static SignSecretKey secret;
static SignPublicKey trusted;

static void check_trusted_keys(const char *text, size_t n) {
        SignPublicKey *keys = NULL;
        size_t n_keys = 0;
        unsigned line = 0;
        int r = sign_trusted_keys_parse(text, n, &keys, &n_keys, &line);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG || r == -E2BIG || r == -EFBIG || r == -ENOMEM);
                return;
        }
        FUZZ_CHECK(n_keys <= SIGN_MAX_TRUSTED_KEYS);
        for (size_t i = 0; i < n_keys; i++) {
                char *again = NULL;
                SignPublicKey *back = NULL;
                size_t n_back = 0;
                FUZZ_CHECK(strlen(keys[i].keyid) == SIGN_KEYID_HEX);
                if (sign_public_key_format(&keys[i], "comment", &again) < 0)
                        continue;
                r = sign_trusted_keys_parse(again, strlen(again), &back, &n_back, NULL);
                FUZZ_CHECK(r == 0 || r == -ENOMEM);
                if (r == 0) {
                        FUZZ_CHECK(n_back == 1 && memcmp(&back[0], &keys[i], sizeof(SignPublicKey)) == 0);
                        free(back);
                }
                free(again);
        }
        free(keys);
}

static void check_secret_key(const char *text, size_t n) {
        SignSecretKey sk;
        SignPublicKey pk;
        unsigned line = 0;
        char *sig = NULL, *formatted = NULL;
        int r = sign_secret_key_parse(text, n, &sk, &line);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG || r == -EFBIG);
                return;
        }
        sign_public_from_secret(&sk, &pk);
        FUZZ_CHECK(streq(sk.keyid, pk.keyid));
        if (sign_detached(&sk, SIGN_CONTEXT_POLICY, text, n, &sig) == 0) {
                /* a secret key whose public half is not its own (the last 32 bytes) signs what that half
                 * rejects: sign_secret_key_parse() only checks the key id against the stored half */
                r = sign_verify(&pk, 1, SIGN_CONTEXT_POLICY, text, n, sig, strlen(sig), NULL);
                FUZZ_CHECK(r == 0 || r == -EKEYREJECTED);
                free(sig);
        }
        if (sign_secret_key_format(&sk, &formatted) == 0) {
                SignSecretKey back;
                FUZZ_CHECK(sign_secret_key_parse(formatted, strlen(formatted), &back, NULL) == 0);
                FUZZ_CHECK(memcmp(&back, &sk, sizeof(sk)) == 0);
                sign_secret_key_wipe(&back);
                free(formatted);
        }
        sign_secret_key_wipe(&sk);
}

static void check_signature(SignContext ctx, const char *text, size_t n) {
        static const char doc[] = FUZZ_SIGNED_DOCUMENT;
        const char *keyid = NULL;
        int r = sign_verify(&trusted, 1, ctx, doc, strlen(doc), text, n, &keyid);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOKEY || r == -EKEYREJECTED || r == -ENOMEM);
        if (r != 0)
                return;
        FUZZ_CHECK(keyid && streq(keyid, trusted.keyid));
        /* not for another context, another document, or an untrusted key */
        SignContext other = ctx == SIGN_CONTEXT_POLICY ? SIGN_CONTEXT_TICKET : SIGN_CONTEXT_POLICY;
        FUZZ_CHECK(sign_verify(&trusted, 1, other, doc, strlen(doc), text, n, NULL) == -EKEYREJECTED);
        FUZZ_CHECK(sign_verify(&trusted, 1, ctx, doc, strlen(doc) - 1, text, n, NULL) == -EKEYREJECTED);
        FUZZ_CHECK(sign_verify(&trusted, 0, ctx, doc, strlen(doc), text, n, NULL) == -ENOKEY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static bool ready;
        if (!ready) {
                FUZZ_CHECK(fuzz_keys(&secret, &trusted) == 0);
                ready = true;
        }
        if (size == 0)
                return 0;
        const char *text = (const char *) data + 1;
        size_t n = size - 1;
        switch (data[0] % 4) {
        case 0:
                check_trusted_keys(text, n);
                break;
        case 1:
                check_secret_key(text, n);
                break;
        case 2:
                check_signature(SIGN_CONTEXT_POLICY, text, n);
                break;
        case 3:
                check_signature(SIGN_CONTEXT_TICKET, text, n);
                break;
        }
        return 0;
}
