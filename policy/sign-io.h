/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The I/O edge of signing: key files, signature files, and the verbs of mnguard-policy that use them. */

#include "sign.h"

/* Reads a trusted public keys file (policy-signing.pub). */
int sign_load_trusted(const char *path, SignPublicKey **ret, size_t *ret_n);

/* Verifies FILE's bytes against SIG with the trusted keys. On failure *ret_reason (static English). */
int sign_verify_file_bytes(const SignPublicKey *trusted, size_t n_trusted, SignContext ctx, const char *data,
                           size_t n, const char *sig_path, const char **ret_keyid, const char **ret_reason);

const char *sign_error_reason(int r);

/* mnguard-policy verbs; return the exit status. check_policy: the file must be a valid policy. */
int verb_keygen(int argc, char **argv);
int verb_sign(int argc, char **argv, SignContext ctx, bool check_policy);
int verb_verify(int argc, char **argv, SignContext ctx, bool check_policy);
