/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Ed25519 signatures (libsodium) for policies and exception tickets (docs/signing.md).
 *
 * A signature covers the exact bytes of the signed file, prefixed with a context so that a signature
 * made for one kind of document can never pass as another's:
 *     "mnguard-signature-v1" NUL CONTEXT NUL BYTES
 * Keys are named by a key id: the first 8 bytes of BLAKE2b-256 of the public key, as 16 hex digits.
 * Text formats:
 *   secret key  "mnguard-secret-key: 1\nkey-id: ID\nsecret: BASE64\n"           (file mode 0600)
 *   public keys one per line "ed25519 ID BASE64 [comment]", '#' comments    (policy-signing.pub)
 *   signature   "mnguard-signature: 1\ncontext: policy\nkey-id: ID\nsignature: BASE64\n"
 * Pure functions over buffers: no I/O. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIGN_KEYID_HEX 16
#define SIGN_MAX_TRUSTED_KEYS 64
#define SIGN_MAX_TEXT (16 * 1024) /* key and signature files */

typedef enum SignContext {
        SIGN_CONTEXT_POLICY,
        SIGN_CONTEXT_TICKET,
        _SIGN_CONTEXT_MAX,
} SignContext;

typedef struct SignPublicKey {
        char keyid[SIGN_KEYID_HEX + 1];
        unsigned char key[32];
} SignPublicKey;

typedef struct SignSecretKey {
        char keyid[SIGN_KEYID_HEX + 1];
        unsigned char key[64];
} SignSecretKey;

const char *sign_context_to_string(SignContext c);

/* Makes a new key pair. */
int sign_keygen(SignSecretKey *ret_secret, SignPublicKey *ret_public);

/* The public half of a secret key. */
void sign_public_from_secret(const SignSecretKey *sk, SignPublicKey *ret);

/* Text forms (new strings). comment may be NULL; it must not contain a newline. */
int sign_secret_key_format(const SignSecretKey *sk, char **ret);
int sign_public_key_format(const SignPublicKey *pk, const char *comment, char **ret);

/* Parsers. -EBADMSG for a malformed text, with the 1-based line in *ret_line where known. */
int sign_secret_key_parse(const char *text, size_t n, SignSecretKey *ret, unsigned *ret_line);
int sign_trusted_keys_parse(const char *text, size_t n, SignPublicKey **ret, size_t *ret_n, unsigned *ret_line);

/* Signs data; returns the signature text. */
int sign_detached(const SignSecretKey *sk, SignContext ctx, const void *data, size_t n, char **ret_signature);

/* Verifies signature text over data with any of the trusted keys. Returns 0 (*ret_keyid, when not NULL,
 * gets the key id, static storage of trusted[]), -ENOKEY when the signature names a key not trusted,
 * -EKEYREJECTED when it does not verify (forged, another file, another context), -EBADMSG when the
 * signature text is malformed. */
int sign_verify(const SignPublicKey *trusted, size_t n_trusted, SignContext ctx, const void *data, size_t n,
                const char *signature, size_t signature_len, const char **ret_keyid);

/* Wipes a secret key. */
void sign_secret_key_wipe(SignSecretKey *sk);
