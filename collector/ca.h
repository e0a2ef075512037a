/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The collector's certificate authority (GnuTLS): the CA that signs terminals' certificates at enrollment,
 * the server certificate, operators' certificates, and the verification of a peer's certificate chain.
 * Keys are ECDSA P-256. docs/collector.md "Certificates". */

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage.h"

#define CA_CERT_FILE "ca.crt"
#define CA_KEY_FILE "ca.key"
#define SERVER_CERT_FILE "server.crt"
#define SERVER_KEY_FILE "server.key"

#define CA_VALIDITY_DAYS (20u * 365u)
#define SERVER_VALIDITY_DAYS 825u
#define HOST_CERT_VALIDITY_DAYS_DEFAULT 730u
#define CERT_VALIDITY_DAYS_MAX (20u * 365u)
#define CA_SERVER_NAMES_MAX 32
#define CA_SERVER_NAME_MAX 253
#define CSR_PEM_MAX (16u * 1024u)
#define CERT_PEM_MAX (16u * 1024u)
#define CA_CLOCK_SKEW_SEC 3600          /* certificates start an hour in the past */

/* Subject OU of the certificates the CA issues: says what a certificate is for (the certs table in the
 * storage is the authority; the OU is only a readable hint). */
#define OU_HOST "mnguard-host"
#define OU_OPERATOR "mnguard-operator"
#define OU_SERVER "mnguard-collector"

typedef struct Ca Ca;

/* Creates DIR/ca.key (0600), ca.crt, server.key (0600) and server.crt (with the given DNS names and IP
 * addresses as subjectAltName). -EEXIST when DIR already holds a CA and force is false. */
int ca_init_dir(const char *dir, const char *const *server_names, size_t n_names, const char *ca_name, bool force);

/* Loads DIR/ca.crt and, if with_key, DIR/ca.key. */
int ca_load(const char *dir, bool with_key, Ca **ret);
Ca *ca_free(Ca *ca);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ca *, ca_free);

/* The CA certificate, PEM, NUL-terminated. */
const char *ca_cert_pem(const Ca *ca);

typedef struct IssuedCert {
        char *pem;                              /* the certificate */
        char *key_pem;                          /* ca_issue_keypair() only */
        char serial[CERT_SERIAL_HEX_MAX];
        char subject[OPERATOR_NAME_MAX + 1];    /* CN */
        uint64_t not_after_usec;
} IssuedCert;

void issued_cert_done(IssuedCert *c);

/* Signs a terminal's CSR: its self-signature must verify, its CN must be a host id (32 lowercase hex), its
 * key ECDSA (P-256/P-384), Ed25519 or RSA >= 2048 bits. The certificate carries only CN and OU=mnguard-host
 * (nothing else of the request's subject), clientAuth, and a random serial. -EBADMSG for a bad request,
 * -EINVAL for a bad CN, -EKEYREJECTED for a refused key; err says why. */
int ca_sign_csr(Ca *ca, const char *csr_pem, size_t len, unsigned days, uint64_t now_usec, IssuedCert *ret,
                char *err, size_t errsize);

/* Makes a key pair and a certificate for CN=name with the given OU (operators' certificates). */
int ca_issue_keypair(Ca *ca, const char *name, const char *ou, unsigned days, uint64_t now_usec, IssuedCert *ret);

typedef struct PeerCert {
        char serial[CERT_SERIAL_HEX_MAX];
        char cn[OPERATOR_NAME_MAX + 1];
        char ou[32];
} PeerCert;

/* Verifies the peer's certificate chain of a TLS session against this CA (signature, validity period,
 * clientAuth purpose). Returns 0 and the leaf's serial, CN and OU; -ENOKEY when the peer sent none;
 * -EKEYREJECTED when it does not verify. */
int ca_verify_peer(Ca *ca, gnutls_session_t session, PeerCert *ret);

/* Random bytes for tokens and serials (gnutls_rnd). */
int ca_random(void *p, size_t n);
