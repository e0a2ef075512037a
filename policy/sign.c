/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "sign.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strutil.h"

static const char *const contexts[_SIGN_CONTEXT_MAX] = {
        [SIGN_CONTEXT_POLICY] = "policy",
        [SIGN_CONTEXT_TICKET] = "ticket",
};

#define SIGN_PREFIX "mnguard-signature-v1"

const char *sign_context_to_string(SignContext c) {
        return (unsigned) c < _SIGN_CONTEXT_MAX ? contexts[c] : "?";
}

static int init(void) {
        return sodium_init() < 0 ? -EIO : 0;
}

static void keyid_of(const unsigned char pk[32], char out[SIGN_KEYID_HEX + 1]) {
        unsigned char h[32];
        crypto_generichash(h, sizeof(h), pk, 32, NULL, 0);
        sodium_bin2hex(out, SIGN_KEYID_HEX + 1, h, SIGN_KEYID_HEX / 2);
}

int sign_keygen(SignSecretKey *ret_secret, SignPublicKey *ret_public) {
        if (init() < 0)
                return -EIO;
        SignPublicKey pk;
        SignSecretKey sk;
        crypto_sign_keypair(pk.key, sk.key);
        keyid_of(pk.key, pk.keyid);
        memcpy(sk.keyid, pk.keyid, sizeof(pk.keyid));
        *ret_secret = sk;
        *ret_public = pk;
        sodium_memzero(&sk, sizeof(sk));
        return 0;
}

void sign_public_from_secret(const SignSecretKey *sk, SignPublicKey *ret) {
        crypto_sign_ed25519_sk_to_pk(ret->key, sk->key);
        keyid_of(ret->key, ret->keyid);
}

void sign_secret_key_wipe(SignSecretKey *sk) {
        sodium_memzero(sk, sizeof(*sk));
}

static char *b64(const unsigned char *bin, size_t n) {
        size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
        char *s = malloc(len);
        if (s)
                sodium_bin2base64(s, len, bin, n, sodium_base64_VARIANT_ORIGINAL);
        return s;
}

static int unb64(const char *s, size_t n, unsigned char *out, size_t want) {
        size_t got = 0;
        if (sodium_base642bin(out, want, s, n, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) < 0 || got != want)
                return -EBADMSG;
        return 0;
}

int sign_secret_key_format(const SignSecretKey *sk, char **ret) {
        _cleanup_free_ char *s = b64(sk->key, sizeof(sk->key));
        if (!s)
                return -ENOMEM;
        int r = asprintf(ret, "mnguard-secret-key: 1\nkey-id: %s\nsecret: %s\n", sk->keyid, s);
        sodium_memzero(s, strlen(s));
        return r < 0 ? -ENOMEM : 0;
}

int sign_public_key_format(const SignPublicKey *pk, const char *comment, char **ret) {
        if (comment && strpbrk(comment, "\r\n"))
                return -EINVAL;
        _cleanup_free_ char *s = b64(pk->key, sizeof(pk->key));
        if (!s)
                return -ENOMEM;
        return asprintf(ret, "ed25519 %s %s%s%s\n", pk->keyid, s, comment ? " " : "", comment ?: "") < 0 ? -ENOMEM : 0;
}

/* Line-oriented "key: value" reader over a bounded text. */
typedef struct Fields {
        const char *keys[4];
        const char *val[4];
        size_t len[4];
        size_t n;
} Fields;

static int read_fields(const char *text, size_t n, Fields *f, unsigned *ret_line) {
        unsigned line = 0;
        size_t i = 0;
        if (n > SIGN_MAX_TEXT)
                return -EFBIG;
        while (i < n) {
                const char *start = text + i, *nl = memchr(start, '\n', n - i);
                size_t len = nl ? (size_t) (nl - start) : n - i;
                i += len + 1;
                line++;
                if (len == 0)
                        continue;
                const char *colon = memchr(start, ':', len);
                if (!colon || colon + 1 >= start + len || colon[1] != ' ') {
                        if (ret_line)
                                *ret_line = line;
                        return -EBADMSG;
                }
                size_t klen = (size_t) (colon - start);
                size_t k;
                for (k = 0; k < f->n; k++)
                        if (strlen(f->keys[k]) == klen && memcmp(f->keys[k], start, klen) == 0)
                                break;
                if (k == f->n || f->val[k]) {
                        if (ret_line)
                                *ret_line = line;
                        return -EBADMSG; /* unknown or repeated key */
                }
                f->val[k] = colon + 2;
                f->len[k] = len - klen - 2;
        }
        for (size_t k = 0; k < f->n; k++)
                if (!f->val[k]) {
                        if (ret_line)
                                *ret_line = 0;
                        return -EBADMSG;
                }
        return 0;
}

static bool field_is(const Fields *f, size_t k, const char *want) {
        return f->len[k] == strlen(want) && memcmp(f->val[k], want, f->len[k]) == 0;
}

static bool valid_keyid(const char *s, size_t n) {
        return n == SIGN_KEYID_HEX && lowercase_hex_valid(s, n);
}

int sign_secret_key_parse(const char *text, size_t n, SignSecretKey *ret, unsigned *ret_line) {
        Fields f = { .keys = { "mnguard-secret-key", "key-id", "secret" }, .n = 3 };
        int r = read_fields(text, n, &f, ret_line);
        if (r < 0)
                return r;
        if (!field_is(&f, 0, "1") || !valid_keyid(f.val[1], f.len[1]))
                return -EBADMSG;
        SignSecretKey sk;
        if (unb64(f.val[2], f.len[2], sk.key, sizeof(sk.key)) < 0)
                return -EBADMSG;
        SignPublicKey pk;
        sign_public_from_secret(&sk, &pk);
        if (memcmp(pk.keyid, f.val[1], SIGN_KEYID_HEX) != 0) {
                sodium_memzero(&sk, sizeof(sk));
                return -EBADMSG; /* the key id does not belong to this key */
        }
        memcpy(sk.keyid, pk.keyid, sizeof(sk.keyid));
        *ret = sk;
        sodium_memzero(&sk, sizeof(sk));
        return 0;
}

int sign_trusted_keys_parse(const char *text, size_t n, SignPublicKey **ret, size_t *ret_n, unsigned *ret_line) {
        _cleanup_free_ SignPublicKey *v = NULL;
        size_t count = 0, i = 0;
        unsigned line = 0;
        if (init() < 0)
                return -EIO;
        if (n > SIGN_MAX_TEXT)
                return -EFBIG;
        v = calloc(SIGN_MAX_TRUSTED_KEYS, sizeof(SignPublicKey));
        if (!v)
                return -ENOMEM;
        while (i < n) {
                const char *start = text + i, *nl = memchr(start, '\n', n - i);
                size_t len = nl ? (size_t) (nl - start) : n - i;
                i += len + 1;
                line++;
                while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\r'))
                        len--;
                if (len == 0 || start[0] == '#')
                        continue;
                /* "ed25519 ID BASE64 [comment]" */
                if (len < 8 || memcmp(start, "ed25519 ", 8) != 0)
                        goto bad;
                const char *id = start + 8, *end = start + len;
                const char *sp = memchr(id, ' ', (size_t) (end - id));
                if (!sp || !valid_keyid(id, (size_t) (sp - id)))
                        goto bad;
                const char *k = sp + 1, *ksp = memchr(k, ' ', (size_t) (end - k));
                size_t klen = ksp ? (size_t) (ksp - k) : (size_t) (end - k);
                if (count >= SIGN_MAX_TRUSTED_KEYS) {
                        if (ret_line)
                                *ret_line = line;
                        return -E2BIG;
                }
                if (unb64(k, klen, v[count].key, 32) < 0)
                        goto bad;
                keyid_of(v[count].key, v[count].keyid);
                if (memcmp(v[count].keyid, id, SIGN_KEYID_HEX) != 0)
                        goto bad;
                count++;
                continue;
        bad:
                if (ret_line)
                        *ret_line = line;
                return -EBADMSG;
        }
        *ret = TAKE_PTR(v);
        *ret_n = count;
        return 0;
}

static int message(SignContext ctx, const void *data, size_t n, unsigned char **ret, size_t *ret_n) {
        const char *c = sign_context_to_string(ctx);
        size_t plen = sizeof(SIGN_PREFIX) + strlen(c) + 1;
        unsigned char *m = malloc(plen + n + 1);
        if (!m)
                return -ENOMEM;
        memcpy(m, SIGN_PREFIX, sizeof(SIGN_PREFIX)); /* with its NUL */
        memcpy(m + sizeof(SIGN_PREFIX), c, strlen(c) + 1);
        if (n)
                memcpy(m + plen, data, n);
        *ret = m;
        *ret_n = plen + n;
        return 0;
}

int sign_detached(const SignSecretKey *sk, SignContext ctx, const void *data, size_t n, char **ret_signature) {
        _cleanup_free_ unsigned char *m = NULL;
        size_t mn;
        unsigned char sig[crypto_sign_BYTES];
        if (init() < 0)
                return -EIO;
        int r = message(ctx, data, n, &m, &mn);
        if (r < 0)
                return r;
        crypto_sign_detached(sig, NULL, m, mn, sk->key);
        _cleanup_free_ char *s = b64(sig, sizeof(sig));
        if (!s)
                return -ENOMEM;
        return asprintf(ret_signature, "mnguard-signature: 1\ncontext: %s\nkey-id: %s\nsignature: %s\n",
                        sign_context_to_string(ctx), sk->keyid, s) < 0 ? -ENOMEM : 0;
}

int sign_verify(const SignPublicKey *trusted, size_t n_trusted, SignContext ctx, const void *data, size_t n,
                const char *signature, size_t signature_len, const char **ret_keyid) {
        Fields f = { .keys = { "mnguard-signature", "context", "key-id", "signature" }, .n = 4 };
        unsigned char sig[crypto_sign_BYTES];
        if (init() < 0)
                return -EIO;
        int r = read_fields(signature, signature_len, &f, NULL);
        if (r < 0)
                return r == -EFBIG ? -EBADMSG : r;
        if (!field_is(&f, 0, "1") || !valid_keyid(f.val[2], f.len[2]) ||
            unb64(f.val[3], f.len[3], sig, sizeof(sig)) < 0)
                return -EBADMSG;
        if (!field_is(&f, 1, sign_context_to_string(ctx)))
                return -EKEYREJECTED; /* a signature made for another kind of document */
        for (size_t i = 0; i < n_trusted; i++) {
                if (memcmp(trusted[i].keyid, f.val[2], SIGN_KEYID_HEX) != 0)
                        continue;
                _cleanup_free_ unsigned char *m = NULL;
                size_t mn;
                r = message(ctx, data, n, &m, &mn);
                if (r < 0)
                        return r;
                if (crypto_sign_verify_detached(sig, m, mn, trusted[i].key) != 0)
                        return -EKEYREJECTED;
                if (ret_keyid)
                        *ret_keyid = trusted[i].keyid;
                return 0;
        }
        return -ENOKEY;
}
