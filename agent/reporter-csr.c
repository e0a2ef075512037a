/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The terminal's enrollment key and CSR, with GnuTLS. GnuTLS is dlopen()ed here, at enrollment (libcurl
 * loads it anyway when the daemon reports): linked, its relocations and p11-kit's cost every terminal
 * ~1.6 MiB of resident memory (curl-dl.h, docs/performance.md). */
#include "reporter-internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"

#define GNUTLS_SONAME "libgnutls.so.30"

static struct {
        int (*x509_privkey_init)(gnutls_x509_privkey_t *key);
        void (*x509_privkey_deinit)(gnutls_x509_privkey_t key);
        int (*x509_privkey_generate)(gnutls_x509_privkey_t key, gnutls_pk_algorithm_t algo, unsigned bits, unsigned flags);
        int (*x509_privkey_export2_pkcs8)(gnutls_x509_privkey_t key, gnutls_x509_crt_fmt_t format, const char *password,
                                          unsigned flags, gnutls_datum_t *out);
        int (*privkey_init)(gnutls_privkey_t *key);
        void (*privkey_deinit)(gnutls_privkey_t key);
        int (*privkey_import_x509)(gnutls_privkey_t pkey, gnutls_x509_privkey_t key, unsigned flags);
        int (*x509_crq_init)(gnutls_x509_crq_t *crq);
        void (*x509_crq_deinit)(gnutls_x509_crq_t crq);
        int (*x509_crq_set_version)(gnutls_x509_crq_t crq, unsigned version);
        int (*x509_crq_set_dn_by_oid)(gnutls_x509_crq_t crq, const char *oid, unsigned raw_flag, const void *data,
                                      unsigned sizeof_data);
        int (*x509_crq_set_key)(gnutls_x509_crq_t crq, gnutls_x509_privkey_t key);
        int (*x509_crq_privkey_sign)(gnutls_x509_crq_t crq, gnutls_privkey_t key, gnutls_digest_algorithm_t dig,
                                     unsigned flags);
        int (*x509_crq_export2)(gnutls_x509_crq_t crq, gnutls_x509_crt_fmt_t format, gnutls_datum_t *out);
        gnutls_free_function *free_fn;
} tls;

static int load_result;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
        void *h = dlopen(GNUTLS_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                log_error("Cannot load %s (Debian package libgnutls30): %s", GNUTLS_SONAME, dlerror());
                load_result = -ENOENT;
                return;
        }
        struct {
                void **slot;
                const char *name;
        } syms[] = {
                { (void **) &tls.x509_privkey_init, "gnutls_x509_privkey_init" },
                { (void **) &tls.x509_privkey_deinit, "gnutls_x509_privkey_deinit" },
                { (void **) &tls.x509_privkey_generate, "gnutls_x509_privkey_generate" },
                { (void **) &tls.x509_privkey_export2_pkcs8, "gnutls_x509_privkey_export2_pkcs8" },
                { (void **) &tls.privkey_init, "gnutls_privkey_init" },
                { (void **) &tls.privkey_deinit, "gnutls_privkey_deinit" },
                { (void **) &tls.privkey_import_x509, "gnutls_privkey_import_x509" },
                { (void **) &tls.x509_crq_init, "gnutls_x509_crq_init" },
                { (void **) &tls.x509_crq_deinit, "gnutls_x509_crq_deinit" },
                { (void **) &tls.x509_crq_set_version, "gnutls_x509_crq_set_version" },
                { (void **) &tls.x509_crq_set_dn_by_oid, "gnutls_x509_crq_set_dn_by_oid" },
                { (void **) &tls.x509_crq_set_key, "gnutls_x509_crq_set_key" },
                { (void **) &tls.x509_crq_privkey_sign, "gnutls_x509_crq_privkey_sign" },
                { (void **) &tls.x509_crq_export2, "gnutls_x509_crq_export2" },
                { (void **) &tls.free_fn, "gnutls_free" },      /* a variable holding the function */
        };
        for (size_t i = 0; i < ELEMENTSOF(syms); i++)
                if (!(*syms[i].slot = dlsym(h, syms[i].name))) {
                        log_error("%s lacks %s.", GNUTLS_SONAME, syms[i].name);
                        load_result = -ENOENT;
                        return;
                }
}

static int pem_string(const gnutls_datum_t *d, char **ret) {
        char *s = malloc(d->size + 1);
        if (!s)
                return -ENOMEM;
        memcpy(s, d->data, d->size);
        s[d->size] = 0;
        *ret = s;
        return 0;
}

int reporter_make_key_csr(const char *host_id, char **ret_key, char **ret_csr) {
        gnutls_x509_privkey_t xkey = NULL;
        gnutls_privkey_t pkey = NULL;
        gnutls_x509_crq_t crq = NULL;
        gnutls_datum_t kd = {}, cd = {};
        char *key = NULL, *csr = NULL;
        int r;

        pthread_once(&once, load);
        if (load_result < 0)
                return load_result;
        r = -ENOMEM;
        if (tls.x509_privkey_init(&xkey) < 0 || tls.privkey_init(&pkey) < 0 || tls.x509_crq_init(&crq) < 0)
                goto out;
        r = -EIO;
        if (tls.x509_privkey_generate(xkey, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
            tls.x509_crq_set_version(crq, 1) < 0 ||
            tls.x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, host_id, (unsigned) strlen(host_id)) < 0 ||
            tls.x509_crq_set_key(crq, xkey) < 0 || tls.privkey_import_x509(pkey, xkey, 0) < 0 ||
            tls.x509_crq_privkey_sign(crq, pkey, GNUTLS_DIG_SHA256, 0) < 0)
                goto out;
        /* PKCS#8 PEM, unencrypted: the file is 0600 in the root-only state directory */
        if (tls.x509_privkey_export2_pkcs8(xkey, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &kd) < 0 ||
            tls.x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &cd) < 0)
                goto out;
        r = pem_string(&kd, &key);
        if (r >= 0)
                r = pem_string(&cd, &csr);
        if (r < 0) {
                free(key);
                goto out;
        }
        *ret_key = key;
        *ret_csr = csr;
        r = 0;
out:
        if (kd.data) {
                explicit_bzero(kd.data, kd.size);
                (*tls.free_fn)(kd.data);
        }
        if (cd.data)
                (*tls.free_fn)(cd.data);
        if (crq)
                tls.x509_crq_deinit(crq);
        if (pkey)
                tls.privkey_deinit(pkey);
        if (xkey)
                tls.x509_privkey_deinit(xkey);
        return r;
}
