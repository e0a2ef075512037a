/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "sign-io.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "policy-load.h"
#include "policy.h"

const char *sign_error_reason(int r) {
        switch (r) {
        case 0: return "good signature";
        case -ENOKEY: return "signed with a key that is not trusted";
        case -EKEYREJECTED: return "bad signature (forged, or made for other bytes or another kind of document)";
        case -EBADMSG: return "malformed signature file";
        case -ENOENT: return "no signature file";
        case -EFBIG: return "signature file too large";
        default: return "signature could not be checked";
        }
}

int sign_load_trusted(const char *path, SignPublicKey **ret, size_t *ret_n) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        unsigned line = 0;
        int r = read_full_file(path, SIGN_MAX_TEXT, &data, &size);
        if (r < 0)
                return r;
        r = sign_trusted_keys_parse(data, size, ret, ret_n, &line);
        if (r == -EBADMSG)
                fprintf(stderr, "%s:%u: error: expected \"ed25519 KEYID BASE64 [comment]\"\n", path, line);
        else if (r == -E2BIG)
                fprintf(stderr, "%s:%u: error: more than %d trusted keys\n", path, line, SIGN_MAX_TRUSTED_KEYS);
        return r;
}

int sign_verify_file_bytes(const SignPublicKey *trusted, size_t n_trusted, SignContext ctx, const char *data,
                           size_t n, const char *sig_path, const char **ret_keyid, const char **ret_reason) {
        _cleanup_free_ char *sig = NULL;
        size_t sig_size;
        int r = read_full_file(sig_path, SIGN_MAX_TEXT, &sig, &sig_size);
        if (r >= 0)
                r = sign_verify(trusted, n_trusted, ctx, data, n, sig, sig_size, ret_keyid);
        if (ret_reason)
                *ret_reason = sign_error_reason(r);
        return r;
}

int verb_keygen(int argc, char **argv) {
        if (argc != 1) {
                fprintf(stderr, "mnguard-policy keygen: expected PREFIX (writes PREFIX.key and PREFIX.pub)\n");
                return 2;
        }
        SignSecretKey sk;
        SignPublicKey pk;
        _cleanup_free_ char *kpath = NULL, *ppath = NULL, *ktext = NULL, *ptext = NULL;
        if (asprintf(&kpath, "%s.key", argv[0]) < 0 || asprintf(&ppath, "%s.pub", argv[0]) < 0)
                return 2;
        if (access(kpath, F_OK) == 0) {
                fprintf(stderr, "mnguard-policy keygen: %s exists; not overwriting a key\n", kpath);
                return 2;
        }
        if (sign_keygen(&sk, &pk) < 0 || sign_secret_key_format(&sk, &ktext) < 0 ||
            sign_public_key_format(&pk, argv[0], &ptext) < 0) {
                sign_secret_key_wipe(&sk);
                fprintf(stderr, "mnguard-policy keygen: cannot make a key\n");
                return 2;
        }
        sign_secret_key_wipe(&sk);
        int r = write_file_atomic(kpath, ktext, strlen(ktext), 0600);
        explicit_bzero(ktext, strlen(ktext));
        if (r >= 0)
                r = write_file_atomic(ppath, ptext, strlen(ptext), 0644);
        if (r < 0) {
                fprintf(stderr, "mnguard-policy keygen: cannot write the key files: %s\n", strerror(-r));
                return 2;
        }
        printf("key id %s\nsecret key: %s (keep it off the terminals)\npublic key: %s (install as "
               "/etc/mnguard/policy-signing.pub)\n", pk.keyid, kpath, ppath);
        return 0;
}

static int load_secret(const char *path, SignSecretKey *sk) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        unsigned line = 0;
        int r = read_full_file(path, SIGN_MAX_TEXT, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: error: cannot read: %s\n", path, strerror(-r));
                return r;
        }
        r = sign_secret_key_parse(data, size, sk, &line);
        explicit_bzero(data, size);
        if (r < 0)
                fprintf(stderr, "%s:%u: error: not a mnguard secret key\n", path, line);
        return r;
}

static int parse_key_opts(int argc, char **argv, const char **ret_key, const char **ret_out, int *ret_optind) {
        static const struct option options[] = {
                { "key", required_argument, NULL, 'k' }, { "output", required_argument, NULL, 'o' }, {} };
        int c;
        optind = 0;
        *ret_key = NULL;
        if (ret_out)
                *ret_out = NULL;
        while ((c = getopt_long(argc, argv, "k:o:", options, NULL)) >= 0)
                switch (c) {
                case 'k': *ret_key = optarg; break;
                case 'o':
                        if (!ret_out)
                                return -EINVAL;
                        *ret_out = optarg;
                        break;
                default: return -EINVAL;
                }
        *ret_optind = optind;
        return *ret_key ? 0 : -EINVAL;
}

int verb_sign(int argc, char **argv, SignContext ctx, bool check_policy) {
        const char *key, *out;
        int first;
        /* getopt wants argv[0] to be a program name */
        if (parse_key_opts(argc + 1, argv - 1, &key, &out, &first) < 0 || argc + 1 - first != 1) {
                fprintf(stderr, "mnguard-policy sign: expected FILE --key KEY [-o SIG]\n");
                return 2;
        }
        const char *file = argv[first - 1];
        _cleanup_free_ char *data = NULL, *sig = NULL, *sig_path = NULL;
        size_t size;
        int r = read_full_file(file, POLICY_MAX_FILE_SIZE, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: error: cannot read: %s\n", file, strerror(-r));
                return 2;
        }
        if (check_policy) {
                Policy *p = NULL;
                PolicyDiagnostics d;
                r = policy_parse(data, size, &p, &d);
                if (r < 0) {
                        policy_print_diagnostics(stderr, file, &d);
                        policy_diagnostics_clear(&d);
                        fprintf(stderr, "mnguard-policy sign: refusing to sign an invalid policy\n");
                        return 1;
                }
                policy_free(p);
                policy_diagnostics_clear(&d);
        }
        SignSecretKey sk;
        if (load_secret(key, &sk) < 0)
                return 2;
        r = sign_detached(&sk, ctx, data, size, &sig);
        sign_secret_key_wipe(&sk);
        if (r < 0)
                return 2;
        if (!out && asprintf(&sig_path, "%s.sig", file) < 0)
                return 2;
        r = write_file_atomic(out ?: sig_path, sig, strlen(sig), 0644);
        if (r < 0) {
                fprintf(stderr, "mnguard-policy sign: cannot write %s: %s\n", out ?: sig_path, strerror(-r));
                return 2;
        }
        printf("%s: signed (%s)\n", out ?: sig_path, sign_context_to_string(ctx));
        return 0;
}

int verb_verify(int argc, char **argv, SignContext ctx, bool check_policy) {
        const char *key;
        int first;
        if (parse_key_opts(argc + 1, argv - 1, &key, NULL, &first) < 0 || argc + 1 - first != 2) {
                fprintf(stderr, "mnguard-policy verify: expected FILE SIG --key PUB\n");
                return 2;
        }
        const char *file = argv[first - 1], *sig_path = argv[first];
        _cleanup_free_ SignPublicKey *trusted = NULL;
        size_t n_trusted = 0;
        int r = sign_load_trusted(key, &trusted, &n_trusted);
        if (r < 0) {
                if (r != -EBADMSG && r != -E2BIG)
                        fprintf(stderr, "%s: error: cannot read: %s\n", key, strerror(-r));
                return 2;
        }
        _cleanup_free_ char *data = NULL;
        size_t size;
        r = read_full_file(file, POLICY_MAX_FILE_SIZE, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: error: cannot read: %s\n", file, strerror(-r));
                return 2;
        }
        const char *keyid = NULL, *reason = NULL;
        r = sign_verify_file_bytes(trusted, n_trusted, ctx, data, size, sig_path, &keyid, &reason);
        if (r < 0) {
                fprintf(stderr, "%s: error: %s\n", sig_path, reason);
                return 1;
        }
        if (check_policy) {
                Policy *p = NULL;
                PolicyDiagnostics d;
                r = policy_parse(data, size, &p, &d);
                if (r < 0) {
                        policy_print_diagnostics(stderr, file, &d);
                        policy_diagnostics_clear(&d);
                        return 1;
                }
                printf("%s: good signature by key %s; policy serial %llu\n", file, keyid,
                       (unsigned long long) p->serial);
                policy_free(p);
                policy_diagnostics_clear(&d);
        } else
                printf("%s: good signature by key %s\n", file, keyid);
        return 0;
}
