/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writes the seeds that need the fuzz targets' fixed key (fuzz-keys.h) to be useful: exception tickets
 * signed with it (corpus/fuzz-exception) and key and signature files (corpus/fuzz-sign). Ed25519 is
 * deterministic, so the files are the same on every run; they are committed, this is how to remake them:
 *   make-fuzz-seeds tests/fuzz/corpus */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exception.h"
#include "fileio.h"
#include "fuzz-keys.h"
#include "journal.h"
#include "macro.h"
#include "sign.h"

#define FUZZ_SIGNED_DOCUMENT "mnguard-policy: 1\nserial: 1\nname: fuzz\n" /* as in fuzz-sign.c */

static const char *corpus;
static SignSecretKey secret;
static SignPublicKey trusted;

/* Writes mode byte + body to corpus/target/name. */
static int put(const char *target, const char *name, char mode, const char *body, size_t n) {
        _cleanup_free_ char *path = NULL, *data = malloc(n + 1);
        if (!data || asprintf(&path, "%s/%s/%s", corpus, target, name) < 0)
                return -ENOMEM;
        data[0] = mode;
        memcpy(data + 1, body, n);
        int r = write_file_atomic(path, data, n + 1, 0644);
        if (r < 0)
                fprintf(stderr, "make-fuzz-seeds: %s: %s\n", path, strerror(-r));
        return r;
}

static int ticket(const char *name, const Exception *e, SignContext ctx, bool corrupt) {
        _cleanup_free_ char *line = NULL, *sig = NULL, *file = NULL;
        int r = exception_format(e, &line);
        if (r < 0 || (r = sign_detached(&secret, ctx, line, strlen(line), &sig)) < 0)
                return r;
        if (asprintf(&file, "%s\n%s", line, sig) < 0)
                return -ENOMEM;
        if (corrupt)
                file[strlen(file) - 3] ^= 1; /* inside the signature's base64 */
        r = put("fuzz-exception", name, '0', file, strlen(file));
        if (r >= 0 && !corrupt && ctx == SIGN_CONTEXT_TICKET) {
                /* the same JSON for the odd mode, which signs it itself */
                _cleanup_free_ char *jname = NULL;
                if (asprintf(&jname, "json-%s", name) < 0)
                        return -ENOMEM;
                r = put("fuzz-exception", jname, '1', line, strlen(line));
        }
        return r;
}

static int tickets(void) {
        uint64_t nb, na;
        int r;
        if (journal_timestamp_parse("2026-11-26T09:00:00+09:00", 25, &nb) < 0 ||
            journal_timestamp_parse("2026-11-26T17:00:00+09:00", 25, &na) < 0)
                return -EINVAL;
        Exception e = {
                .id = "0123456789abcdef",
                .host_id = "0123456789abcdef0123456789abcdef",
                .vendor = 0x0781,
                .product = 0x5581,
                .serial = (char *) "4C530001230101117384",
                .access = MEDIA_READ_ONLY,
                .not_before_usec = nb,
                .not_after_usec = na,
                .reason = (char *) "申請 #123 (持ち出し)",
        };
        if ((r = ticket("read-only", &e, SIGN_CONTEXT_TICKET, false)) < 0)
                return r;
        e.access = MEDIA_READ_WRITE;
        e.reason = NULL;
        e.serial = (char *) "AA\\\"BB\tCC";
        if ((r = ticket("read-write-no-reason", &e, SIGN_CONTEXT_TICKET, false)) < 0)
                return r;
        if ((r = ticket("policy-context", &e, SIGN_CONTEXT_POLICY, false)) < 0)
                return r;
        if ((r = ticket("bad-signature", &e, SIGN_CONTEXT_TICKET, true)) < 0)
                return r;
        return 0;
}

static int keys(void) {
        _cleanup_free_ char *pub = NULL, *pub2 = NULL, *sec = NULL, *two = NULL, *sig_p = NULL, *sig_t = NULL;
        SignSecretKey s2;
        SignPublicKey p2;
        int r;

        /* a second key, derived from the first's public key so that it is fixed too */
        crypto_sign_seed_keypair(p2.key, s2.key, trusted.key);
        sign_public_from_secret(&s2, &p2);
        if ((r = sign_public_key_format(&trusted, "fuzz key", &pub)) < 0 ||
            (r = sign_public_key_format(&p2, NULL, &pub2)) < 0 || (r = sign_secret_key_format(&secret, &sec)) < 0)
                return r;
        if (asprintf(&two, "# policy-signing.pub\n\n%s%s", pub, pub2) < 0)
                return -ENOMEM;
        if ((r = put("fuzz-sign", "trusted-one", '0', pub, strlen(pub))) < 0 ||
            (r = put("fuzz-sign", "trusted-two", '0', two, strlen(two))) < 0 ||
            (r = put("fuzz-sign", "secret", '1', sec, strlen(sec))) < 0)
                return r;
        const char *doc = FUZZ_SIGNED_DOCUMENT;
        if ((r = sign_detached(&secret, SIGN_CONTEXT_POLICY, doc, strlen(doc), &sig_p)) < 0 ||
            (r = sign_detached(&secret, SIGN_CONTEXT_TICKET, doc, strlen(doc), &sig_t)) < 0)
                return r;
        if ((r = put("fuzz-sign", "signature-policy", '2', sig_p, strlen(sig_p))) < 0 ||
            (r = put("fuzz-sign", "signature-ticket", '3', sig_t, strlen(sig_t))) < 0 ||
            (r = put("fuzz-sign", "signature-wrong-context", '3', sig_p, strlen(sig_p))) < 0)
                return r;
        sign_secret_key_wipe(&s2);
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc != 2) {
                fprintf(stderr, "usage: make-fuzz-seeds CORPUS_DIR (tests/fuzz/corpus)\n");
                return 2;
        }
        corpus = argv[1];
        if (fuzz_keys(&secret, &trusted) < 0)
                return 1;
        int r = tickets();
        if (r >= 0)
                r = keys();
        if (r < 0) {
                fprintf(stderr, "make-fuzz-seeds: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
