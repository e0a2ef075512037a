/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The reporter's HTTPS requests (libcurl, pinned CA, client certificate, gzip) and enrollment: a P-256
 * key generated here, a CSR with CN = host id, POST /v1/enroll. Nothing secret is logged. */
#include "reporter-internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"

#define REPORTER_GZIP_WINDOW_BITS (15 + 16)     /* zlib: 15-bit window, gzip wrapper */
#define REPORTER_GZIP_LEVEL 6
#define REPORTER_HOST_ID_MAX 64

static char *path_join(const char *dir, const char *file) {
        char *p = NULL;
        return asprintf(&p, "%s/%s", dir, file) < 0 ? NULL : p;
}

static size_t on_write(char *data, size_t size, size_t n, void *userdata) {
        ReporterReply *reply = userdata;
        size_t len = size * n, room = REPORTER_REPLY_MAX - reply->size;
        memcpy(reply->body + reply->size, data, len < room ? len : room);
        reply->size += len < room ? len : room;
        reply->body[reply->size] = 0;
        return len; /* the rest is dropped, not an error */
}

static int on_progress(void *userdata, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
        const ReporterHttp *h = userdata;
        return atomic_load(h->stop) ? 1 : 0;
}

static int gzip_compress(const void *data, size_t size, unsigned char **ret, size_t *ret_size) {
        z_stream z = {};
        if (deflateInit2(&z, REPORTER_GZIP_LEVEL, Z_DEFLATED, REPORTER_GZIP_WINDOW_BITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        uLong bound = deflateBound(&z, size) + 32;
        _cleanup_free_ unsigned char *out = malloc(bound);
        if (!out) {
                deflateEnd(&z);
                return -ENOMEM;
        }
        z.next_in = (unsigned char *) data;
        z.avail_in = size;
        z.next_out = out;
        z.avail_out = bound;
        int zr = deflate(&z, Z_FINISH);
        size_t n = z.total_out;
        deflateEnd(&z);
        if (zr != Z_STREAM_END)
                return -EIO;
        *ret = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}

int reporter_http_post(ReporterHttp *h, const char *url, const char *ca, const char *cert, const char *key,
                       const char *content_type, bool gzip, const void *body, size_t size, ReporterReply *reply) {
        _cleanup_free_ unsigned char *packed = NULL;
        size_t packed_size = 0;
        int r;

        reply->status = 0;
        reply->size = 0;
        reply->body[0] = 0;
        reply->error[0] = 0;
        if (gzip && size > 0) {
                r = gzip_compress(body, size, &packed, &packed_size);
                if (r < 0)
                        return r;
                body = packed;
                size = packed_size;
        }

        char ctype[128];
        if ((size_t) snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type) >= sizeof(ctype))
                return -EINVAL;
        struct curl_slist *hdr = NULL, *t;
        if (!(t = curl_slist_append(hdr, "Expect:")))
                return -ENOMEM;
        hdr = t;
        if (!(t = curl_slist_append(hdr, ctype)))
                goto oom;
        hdr = t;
        if (gzip && size > 0) {
                if (!(t = curl_slist_append(hdr, "Content-Encoding: gzip")))
                        goto oom;
                hdr = t;
        }

        CURL *c = h->curl;
        /* the same handle throughout: libcurl keeps the connection open between requests */
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key);
        if (cert) {
                curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
                curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
        }
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, REPORTER_CONNECT_TIMEOUT);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, REPORTER_REQUEST_TIMEOUT);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, size > 0 ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) size);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, reply->error);

        CURLcode cr = curl_easy_perform(c);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
        curl_slist_free_all(hdr);
        if (cr != CURLE_OK) {
                if (!reply->error[0])
                        snprintf(reply->error, sizeof(reply->error), "%s", curl_easy_strerror(cr));
                reply->status = 0;
                return 0;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
        return 0;
oom:
        curl_slist_free_all(hdr);
        return -ENOMEM;
}

void reporter_reply_error_code(const ReporterReply *reply, char *buf, size_t size) {
        buf[0] = 0;
        json_object *o = json_tokener_parse(reply->body);
        json_object *e;
        if (o && json_object_object_get_ex(o, "error", &e) && json_object_is_type(e, json_type_string))
                snprintf(buf, size, "%s", json_object_get_string(e));
        json_object_put(o);
}

bool reporter_enrolled(const char *state_dir, const char *host_id) {
        _cleanup_free_ char *p = path_join(state_dir, REPORTER_HOST_FILE);
        _cleanup_free_ char *data = NULL;
        size_t n;
        if (!p || read_full_file(p, REPORTER_HOST_ID_MAX, &data, &n) < 0)
                return false;
        while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == ' '))
                data[--n] = 0;
        if (!streq(data, host_id))
                return false;
        static const char *const files[] = { REPORTER_KEY_FILE, REPORTER_CERT_FILE, REPORTER_CA_FILE };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *f = path_join(state_dir, files[i]);
                if (!f || access(f, R_OK) < 0)
                        return false;
        }
        return true;
}

void reporter_forget_enrollment(const char *state_dir) {
        _cleanup_free_ char *p = path_join(state_dir, REPORTER_HOST_FILE);
        if (p)
                (void) unlink(p);
}

/* PEM of a new P-256 key (PKCS#8) and of a CSR for it with CN = host_id. */
static int make_key_csr(const char *host_id, char **ret_key, char **ret_csr) {
        _cleanup_free_ char *key = NULL, *csr = NULL;
        int r = -EIO;
        EVP_PKEY *pkey = EVP_EC_gen("P-256");
        X509_REQ *req = X509_REQ_new();
        X509_NAME *name = X509_NAME_new();
        BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
        if (!pkey || !req || !name || !kb || !cb) {
                r = -ENOMEM;
                goto out;
        }
        if (!X509_REQ_set_version(req, 0) ||
            !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) host_id, -1, -1, 0) ||
            !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, pkey) ||
            X509_REQ_sign(req, pkey, EVP_sha256()) <= 0)
                goto out;
        if (!PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) || !PEM_write_bio_X509_REQ(cb, req))
                goto out;
        char *p;
        long n = BIO_get_mem_data(kb, &p);
        key = strndup(p, n);
        n = BIO_get_mem_data(cb, &p);
        csr = strndup(p, n);
        if (!key || !csr) {
                r = -ENOMEM;
                goto out;
        }
        *ret_key = TAKE_PTR(key);
        *ret_csr = TAKE_PTR(csr);
        r = 0;
out:
        BIO_free(kb);
        BIO_free(cb);
        X509_NAME_free(name);
        X509_REQ_free(req);
        EVP_PKEY_free(pkey);
        return r;
}

static int store(const char *dir, const char *file, const char *data, unsigned mode) {
        _cleanup_free_ char *p = path_join(dir, file);
        if (!p)
                return -ENOMEM;
        return write_file_atomic(p, data, strlen(data), mode);
}

static const char *json_str(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        const char *s = json_object_get_string(v);
        return strlen(s) <= REPORTER_PEM_MAX ? s : NULL;
}

int reporter_enroll(ReporterHttp *h, const char *base_url, const char *conf_ca, const char *token,
                    const char *host_id, const char *host_name, const char *state_dir, char *reason,
                    size_t reason_size) {
        _cleanup_free_ char *key = NULL, *csr = NULL, *url = NULL;
        _cleanup_free_ ReporterReply *reply = calloc(1, sizeof(ReporterReply));
        int r;

        reason[0] = 0;
        if (!reply || asprintf(&url, "%s/v1/enroll", base_url) < 0)
                return -ENOMEM;
        r = make_key_csr(host_id, &key, &csr);
        if (r < 0) {
                snprintf(reason, reason_size, "cannot make a key and CSR");
                return r;
        }
        json_object *req = json_object_new_object();
        if (!req)
                return -ENOMEM;
        json_object_object_add(req, "token", json_object_new_string(token));
        json_object_object_add(req, "csr", json_object_new_string(csr));
        json_object_object_add(req, "host_name", json_object_new_string(host_name));
        const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
        r = reporter_http_post(h, url, conf_ca, NULL, NULL, "application/json", false, body, strlen(body), reply);
        /* the request held the token: wipe it */
        explicit_bzero((char *) body, strlen(body));
        json_object_put(req);
        if (r < 0)
                return r;
        if (reply->status == 0) {
                snprintf(reason, reason_size, "enrollment: %s", reply->error);
                return -EAGAIN;
        }
        if (reply->status != 200) {
                char code[64];
                reporter_reply_error_code(reply, code, sizeof(code));
                snprintf(reason, reason_size, "enrollment refused: HTTP %ld %s", reply->status, code);
                return reply->status >= 500 || reply->status == 408 || reply->status == 429 ? -EAGAIN : -EACCES;
        }
        json_object *o = json_tokener_parse(reply->body);
        const char *cert = o ? json_str(o, "certificate") : NULL, *ca = o ? json_str(o, "ca") : NULL;
        if (!cert || !ca) {
                json_object_put(o);
                snprintf(reason, reason_size, "enrollment: reply without certificate or CA");
                return -EINVAL;
        }
        if ((r = store(state_dir, REPORTER_KEY_FILE, key, 0600)) < 0 ||
            (r = store(state_dir, REPORTER_CERT_FILE, cert, 0644)) < 0 ||
            (r = store(state_dir, REPORTER_CA_FILE, ca, 0644)) < 0 ||
            (r = store(state_dir, REPORTER_HOST_FILE, host_id, 0644)) < 0) {
                json_object_put(o);
                snprintf(reason, reason_size, "enrollment: cannot store the credentials: %s", strerror(-r));
                return r;
        }
        json_object_put(o);
        explicit_bzero(key, strlen(key));
        return 0;
}
