/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The collector's certificate authority with GnuTLS: creating it, issuing certificates, verifying peers. */
#include "ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fileio.h"

struct Ca {
        gnutls_x509_crt_t cert;
        gnutls_x509_privkey_t key;      /* NULL when loaded without the key */
        gnutls_x509_trust_list_t trust;
        char *pem;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(gnutls_x509_crt_t, gnutls_x509_crt_deinit);
DEFINE_TRIVIAL_CLEANUP_FUNC(gnutls_x509_privkey_t, gnutls_x509_privkey_deinit);
DEFINE_TRIVIAL_CLEANUP_FUNC(gnutls_x509_crq_t, gnutls_x509_crq_deinit);
DEFINE_TRIVIAL_CLEANUP_FUNC(gnutls_pubkey_t, gnutls_pubkey_deinit);

static int gnutls_errno(int rc) {
        switch (rc) {
        case GNUTLS_E_SUCCESS: return 0;
        case GNUTLS_E_MEMORY_ERROR: return -ENOMEM;
        case GNUTLS_E_BASE64_DECODING_ERROR:
        case GNUTLS_E_ASN1_DER_ERROR:
        case GNUTLS_E_ASN1_TAG_ERROR:
        case GNUTLS_E_BASE64_UNEXPECTED_HEADER_ERROR: return -EBADMSG;
        default: return -EIO;
        }
}

int ca_random(void *p, size_t n) {
        return gnutls_rnd(GNUTLS_RND_KEY, p, n) < 0 ? -EIO : 0;
}

void issued_cert_done(IssuedCert *c) {
        free(c->pem);
        if (c->key_pem) {
                explicit_bzero(c->key_pem, strlen(c->key_pem));
                free(c->key_pem);
        }
        *c = (IssuedCert) {};
}

static int export_pem_crt(gnutls_x509_crt_t crt, char **ret) {
        gnutls_datum_t d = {};
        int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);
        if (rc < 0)
                return gnutls_errno(rc);
        char *s = strndup((const char *) d.data, d.size);
        gnutls_free(d.data);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int export_pem_key(gnutls_x509_privkey_t key, char **ret) {
        gnutls_datum_t d = {};
        int rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d);
        if (rc < 0)
                return gnutls_errno(rc);
        char *s = strndup((const char *) d.data, d.size);
        gnutls_memset(d.data, 0, d.size);
        gnutls_free(d.data);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int new_key(gnutls_x509_privkey_t *ret) {
        gnutls_x509_privkey_t key;
        int rc = gnutls_x509_privkey_init(&key);
        if (rc < 0)
                return gnutls_errno(rc);
        rc = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
        if (rc < 0) {
                gnutls_x509_privkey_deinit(key);
                return gnutls_errno(rc);
        }
        *ret = key;
        return 0;
}

static void hex_encode(const uint8_t *p, size_t n, char *out) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[p[i] >> 4];
                out[2 * i + 1] = digits[p[i] & 15];
        }
        out[2 * n] = 0;
}

/* Version, random serial, validity, subject CN/OU: what every certificate here has. */
static int crt_common(gnutls_x509_crt_t crt, const char *cn, const char *ou, unsigned days, uint64_t now_usec,
                      char serial_hex[static CERT_SERIAL_HEX_MAX]) {
        uint8_t serial[16];
        int rc;
        if (ca_random(serial, sizeof(serial)) < 0)
                return -EIO;
        serial[0] &= 0x7f;      /* positive */
        serial[0] |= 0x01;      /* and without a leading zero byte */
        hex_encode(serial, sizeof(serial), serial_hex);
        time_t now = (time_t) (now_usec / 1000000u);
        if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
            (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
            (rc = gnutls_x509_crt_set_activation_time(crt, now - CA_CLOCK_SKEW_SEC)) < 0 ||
            (rc = gnutls_x509_crt_set_expiration_time(crt, now + (time_t) days * 86400)) < 0 ||
            (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned) strlen(cn))) < 0 ||
            (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, 0, ou, (unsigned) strlen(ou))) < 0)
                return gnutls_errno(rc);
        return 0;
}

static int crt_set_key_ids(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer) {
        uint8_t id[64];
        size_t n = sizeof(id);
        int rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, id, &n);
        if (rc >= 0)
                rc = gnutls_x509_crt_set_subject_key_id(crt, id, n);
        if (rc >= 0 && issuer) {
                n = sizeof(id);
                rc = gnutls_x509_crt_get_subject_key_id(issuer, id, &n, NULL);
                if (rc >= 0)
                        rc = gnutls_x509_crt_set_authority_key_id(crt, id, n);
        }
        return gnutls_errno(rc < 0 ? rc : 0);
}

/* An end-entity certificate for key (or pubkey), signed by the CA. */
static int issue(Ca *ca, gnutls_x509_privkey_t key, gnutls_pubkey_t pubkey, const char *cn, const char *ou,
                 const char *purpose, unsigned days, uint64_t now_usec, gnutls_x509_crt_t *ret, char serial[static CERT_SERIAL_HEX_MAX]) {
        _cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
        int rc = gnutls_x509_crt_init(&crt);
        if (rc < 0)
                return gnutls_errno(rc);
        int r = crt_common(crt, cn, ou, days, now_usec, serial);
        if (r < 0)
                return r;
        rc = key ? gnutls_x509_crt_set_key(crt, key) : gnutls_x509_crt_set_pubkey(crt, pubkey);
        if (rc >= 0)
                rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
        if (rc >= 0)
                rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT);
        if (rc >= 0)
                rc = gnutls_x509_crt_set_key_purpose_oid(crt, purpose, 1);
        if (rc < 0)
                return gnutls_errno(rc);
        r = crt_set_key_ids(crt, ca->cert);
        if (r < 0)
                return r;
        rc = gnutls_x509_crt_sign2(crt, ca->cert, ca->key, GNUTLS_DIG_SHA256, 0);
        if (rc < 0)
                return gnutls_errno(rc);
        *ret = TAKE_PTR(crt);
        return 0;
}

static int write_pem(const char *dir, const char *name, const char *pem, unsigned mode) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        return write_file_atomic(path, pem, strlen(pem), mode);
}

static bool file_exists(const char *dir, const char *name) {
        _cleanup_free_ char *path = NULL;
        struct stat st;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return false;
        return stat(path, &st) == 0;
}

static int add_server_names(gnutls_x509_crt_t crt, const char *const *names, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint8_t addr[16];
                int rc;
                if (inet_pton(AF_INET, names[i], addr) == 1)
                        rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, 4, GNUTLS_FSAN_APPEND);
                else if (inet_pton(AF_INET6, names[i], addr) == 1)
                        rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, 16, GNUTLS_FSAN_APPEND);
                else
                        rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, names[i],
                                                                  (unsigned) strlen(names[i]), GNUTLS_FSAN_APPEND);
                if (rc < 0)
                        return gnutls_errno(rc);
        }
        return 0;
}

int ca_init_dir(const char *dir, const char *const *server_names, size_t n_names, const char *ca_name, bool force) {
        _cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t ca_crt = NULL, srv = NULL;
        _cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t ca_key = NULL, srv_key = NULL;
        _cleanup_free_ char *ca_pem = NULL, *ca_key_pem = NULL, *srv_pem = NULL, *srv_key_pem = NULL;
        char serial[CERT_SERIAL_HEX_MAX];
        uint64_t now = (uint64_t) time(NULL) * 1000000u;
        int r, rc;

        if (n_names == 0 || n_names > CA_SERVER_NAMES_MAX)
                return -EINVAL;
        if (!force && (file_exists(dir, CA_KEY_FILE) || file_exists(dir, CA_CERT_FILE)))
                return -EEXIST;
        r = mkdir_safe(dir, 0700);
        if (r < 0)
                return r;

        r = new_key(&ca_key);
        if (r < 0)
                return r;
        rc = gnutls_x509_crt_init(&ca_crt);
        if (rc < 0)
                return gnutls_errno(rc);
        r = crt_common(ca_crt, ca_name, "mnguard-ca", CA_VALIDITY_DAYS, now, serial);
        if (r < 0)
                return r;
        if ((rc = gnutls_x509_crt_set_key(ca_crt, ca_key)) < 0 ||
            (rc = gnutls_x509_crt_set_basic_constraints(ca_crt, 1, 0)) < 0 ||
            (rc = gnutls_x509_crt_set_key_usage(ca_crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0)
                return gnutls_errno(rc);
        r = crt_set_key_ids(ca_crt, NULL);
        if (r < 0)
                return r;
        rc = gnutls_x509_crt_sign2(ca_crt, ca_crt, ca_key, GNUTLS_DIG_SHA256, 0);
        if (rc < 0)
                return gnutls_errno(rc);

        Ca ca = { .cert = ca_crt, .key = ca_key };
        r = new_key(&srv_key);
        if (r < 0)
                return r;
        /* The server certificate: built like an end-entity one, with serverAuth and the names. */
        rc = gnutls_x509_crt_init(&srv);
        if (rc < 0)
                return gnutls_errno(rc);
        r = crt_common(srv, server_names[0], OU_SERVER, SERVER_VALIDITY_DAYS, now, serial);
        if (r < 0)
                return r;
        if ((rc = gnutls_x509_crt_set_key(srv, srv_key)) < 0 ||
            (rc = gnutls_x509_crt_set_basic_constraints(srv, 0, -1)) < 0 ||
            (rc = gnutls_x509_crt_set_key_usage(srv, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT)) < 0 ||
            (rc = gnutls_x509_crt_set_key_purpose_oid(srv, GNUTLS_KP_TLS_WWW_SERVER, 1)) < 0)
                return gnutls_errno(rc);
        r = add_server_names(srv, server_names, n_names);
        if (r < 0)
                return r;
        r = crt_set_key_ids(srv, ca.cert);
        if (r < 0)
                return r;
        rc = gnutls_x509_crt_sign2(srv, ca.cert, ca.key, GNUTLS_DIG_SHA256, 0);
        if (rc < 0)
                return gnutls_errno(rc);

        if ((r = export_pem_crt(ca_crt, &ca_pem)) < 0 || (r = export_pem_key(ca_key, &ca_key_pem)) < 0 ||
            (r = export_pem_crt(srv, &srv_pem)) < 0 || (r = export_pem_key(srv_key, &srv_key_pem)) < 0)
                return r;
        r = write_pem(dir, CA_KEY_FILE, ca_key_pem, 0600);
        if (r >= 0)
                r = write_pem(dir, CA_CERT_FILE, ca_pem, 0644);
        if (r >= 0)
                r = write_pem(dir, SERVER_KEY_FILE, srv_key_pem, 0600);
        if (r >= 0)
                r = write_pem(dir, SERVER_CERT_FILE, srv_pem, 0644);
        explicit_bzero(ca_key_pem, strlen(ca_key_pem));
        explicit_bzero(srv_key_pem, strlen(srv_key_pem));
        return r;
}

static int read_datum(const char *dir, const char *name, size_t max, gnutls_datum_t *ret, char **ret_buf) {
        _cleanup_free_ char *path = NULL;
        char *data = NULL;
        size_t size = 0;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        int r = read_full_file(path, max, &data, &size);
        if (r < 0)
                return r;
        *ret = (gnutls_datum_t) { .data = (unsigned char *) data, .size = (unsigned) size };
        *ret_buf = data;
        return 0;
}

Ca *ca_free(Ca *ca) {
        if (!ca)
                return NULL;
        if (ca->trust)
                gnutls_x509_trust_list_deinit(ca->trust, 1);
        else if (ca->cert)
                gnutls_x509_crt_deinit(ca->cert);
        if (ca->key)
                gnutls_x509_privkey_deinit(ca->key);
        free(ca->pem);
        free(ca);
        return NULL;
}

int ca_load(const char *dir, bool with_key, Ca **ret) {
        _cleanup_(ca_freep) Ca *ca = calloc(1, sizeof(*ca));
        gnutls_datum_t d;
        char *buf = NULL;
        int r, rc;

        if (!ca)
                return -ENOMEM;
        r = read_datum(dir, CA_CERT_FILE, CERT_PEM_MAX, &d, &buf);
        if (r < 0)
                return r;
        ca->pem = buf;
        if ((rc = gnutls_x509_crt_init(&ca->cert)) < 0 || (rc = gnutls_x509_crt_import(ca->cert, &d, GNUTLS_X509_FMT_PEM)) < 0)
                return gnutls_errno(rc);
        if (with_key) {
                r = read_datum(dir, CA_KEY_FILE, CERT_PEM_MAX, &d, &buf);
                if (r < 0)
                        return r;
                rc = gnutls_x509_privkey_init(&ca->key);
                if (rc >= 0)
                        rc = gnutls_x509_privkey_import(ca->key, &d, GNUTLS_X509_FMT_PEM);
                explicit_bzero(buf, d.size);
                free(buf);
                if (rc < 0)
                        return gnutls_errno(rc);
        }
        /* The trust list takes the certificate over (deinit with all=1 frees it). */
        if ((rc = gnutls_x509_trust_list_init(&ca->trust, 0)) < 0 ||
            (rc = gnutls_x509_trust_list_add_cas(ca->trust, &ca->cert, 1, 0)) < 0)
                return gnutls_errno(rc);
        *ret = TAKE_PTR(ca);
        return 0;
}

const char *ca_cert_pem(const Ca *ca) {
        return ca->pem;
}

_printf_(3, 4) static int fail(char *err, size_t errsize, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
        return 0;
}

static int finish_issued(gnutls_x509_crt_t crt, const char *cn, const char serial[static CERT_SERIAL_HEX_MAX],
                         IssuedCert *ret) {
        IssuedCert c = {};
        int r = export_pem_crt(crt, &c.pem);
        if (r < 0)
                return r;
        memcpy(c.serial, serial, CERT_SERIAL_HEX_MAX);
        snprintf(c.subject, sizeof(c.subject), "%s", cn);
        time_t exp = gnutls_x509_crt_get_expiration_time(crt);
        c.not_after_usec = exp > 0 ? (uint64_t) exp * 1000000u : 0;
        *ret = c;
        return 0;
}

int ca_sign_csr(Ca *ca, const char *csr_pem, size_t len, unsigned days, uint64_t now_usec, IssuedCert *ret,
                char *err, size_t errsize) {
        _cleanup_(gnutls_x509_crq_deinitp) gnutls_x509_crq_t crq = NULL;
        _cleanup_(gnutls_pubkey_deinitp) gnutls_pubkey_t pub = NULL;
        _cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
        char serial[CERT_SERIAL_HEX_MAX], cn[HOST_ID_LEN + 8];
        size_t cn_size = sizeof(cn);
        unsigned bits = 0;
        int rc, r;

        if (!ca->key)
                return -ENOKEY;
        if (len > CSR_PEM_MAX) {
                fail(err, errsize, "certificate request larger than %u bytes", CSR_PEM_MAX);
                return -EBADMSG;
        }
        gnutls_datum_t d = { .data = (unsigned char *) csr_pem, .size = (unsigned) len };
        if ((rc = gnutls_x509_crq_init(&crq)) < 0)
                return gnutls_errno(rc);
        if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_PEM) < 0) {
                fail(err, errsize, "not a PEM certificate request");
                return -EBADMSG;
        }
        if (gnutls_x509_crq_verify(crq, 0) < 0) {
                fail(err, errsize, "the certificate request's signature does not verify");
                return -EBADMSG;
        }
        rc = gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_size);
        if (rc < 0 || !host_id_is_valid(cn)) {
                fail(err, errsize, "the request's subject CN must be the host id (32 lowercase hex digits)");
                return -EINVAL;
        }
        int pk = gnutls_x509_crq_get_pk_algorithm(crq, &bits);
        bool ok = (pk == GNUTLS_PK_RSA && bits >= 2048 && bits <= 8192) || pk == GNUTLS_PK_EDDSA_ED25519 ||
                  (pk == GNUTLS_PK_ECDSA && (bits == 256 || bits == 384));
        if (!ok) {
                fail(err, errsize, "key type not accepted (ECDSA P-256/P-384, Ed25519 or RSA of 2048 bits or more)");
                return -EKEYREJECTED;
        }
        if ((rc = gnutls_pubkey_init(&pub)) < 0 || (rc = gnutls_pubkey_import_x509_crq(pub, crq, 0)) < 0)
                return gnutls_errno(rc);
        r = issue(ca, NULL, pub, cn, OU_HOST, GNUTLS_KP_TLS_WWW_CLIENT, days, now_usec, &crt, serial);
        if (r < 0)
                return r;
        return finish_issued(crt, cn, serial, ret);
}

int ca_issue_keypair(Ca *ca, const char *name, const char *ou, unsigned days, uint64_t now_usec, IssuedCert *ret) {
        _cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t key = NULL;
        _cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
        char serial[CERT_SERIAL_HEX_MAX];
        IssuedCert c = {};
        if (!ca->key)
                return -ENOKEY;
        int r = new_key(&key);
        if (r < 0)
                return r;
        r = issue(ca, key, NULL, name, ou, GNUTLS_KP_TLS_WWW_CLIENT, days, now_usec, &crt, serial);
        if (r < 0)
                return r;
        r = finish_issued(crt, name, serial, &c);
        if (r < 0)
                return r;
        r = export_pem_key(key, &c.key_pem);
        if (r < 0) {
                issued_cert_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

#define PEER_CHAIN_MAX 4

int ca_verify_peer(Ca *ca, gnutls_session_t session, PeerCert *ret) {
        gnutls_x509_crt_t chain[PEER_CHAIN_MAX] = {};
        unsigned n_raw = 0, n = 0, status = 0;
        PeerCert p = {};
        int r = 0, rc;

        if (gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
                return -ENOKEY;
        const gnutls_datum_t *raw = gnutls_certificate_get_peers(session, &n_raw);
        if (!raw || n_raw == 0)
                return -ENOKEY;
        if (n_raw > PEER_CHAIN_MAX)
                return -EKEYREJECTED;
        for (n = 0; n < n_raw; n++) {
                if (gnutls_x509_crt_init(&chain[n]) < 0 || gnutls_x509_crt_import(chain[n], &raw[n], GNUTLS_X509_FMT_DER) < 0) {
                        n++;
                        r = -EKEYREJECTED;
                        goto out;
                }
        }
        gnutls_typed_vdata_st purpose = { .type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (void *) GNUTLS_KP_TLS_WWW_CLIENT };
        rc = gnutls_x509_trust_list_verify_crt2(ca->trust, chain, n, &purpose, 1, 0, &status, NULL);
        if (rc < 0 || status != 0) {
                r = -EKEYREJECTED;
                goto out;
        }
        uint8_t serial[20];
        size_t serial_size = sizeof(serial), cn_size = sizeof(p.cn), ou_size = sizeof(p.ou);
        if (gnutls_x509_crt_get_serial(chain[0], serial, &serial_size) < 0 || serial_size == 0 ||
            gnutls_x509_crt_get_dn_by_oid(chain[0], GNUTLS_OID_X520_COMMON_NAME, 0, 0, p.cn, &cn_size) < 0) {
                r = -EKEYREJECTED;
                goto out;
        }
        if (gnutls_x509_crt_get_dn_by_oid(chain[0], GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, 0, 0, p.ou, &ou_size) < 0)
                p.ou[0] = 0;
        hex_encode(serial, serial_size, p.serial);
        *ret = p;
out:
        for (unsigned i = 0; i < n; i++)
                if (chain[i])
                        gnutls_x509_crt_deinit(chain[i]);
        return r;
}
