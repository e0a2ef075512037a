/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The HTTPS requests of the collector's clients (libcurl, pinned CA, client certificate, gzip'd POST,
 * bounded replies: the reporter's POSTs, the policy fetch's long-poll GET) and enrollment: a P-256 key
 * generated here, a CSR with CN = host id, POST /v1/enroll. Nothing secret is logged. */
#include "reporter-internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <libdeflate.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"

#define REPORTER_GZIP_LEVEL 1  /* libdeflate: a 656 KB batch in 1.2 ms (62 KB); zlib's level 6 took 6.9 ms (58 KB) */
#define REPORTER_HOST_ID_MAX 64

static char *path_join(const char *dir, const char *file) {
        char *p = NULL;
        return asprintf(&p, "%s/%s", dir, file) < 0 ? NULL : p;
}

int reporter_reply_new(size_t max, ReporterReply **ret) {
        ReporterReply *reply = calloc(1, sizeof(ReporterReply));
        if (!reply)
                return -ENOMEM;
        reply->max = max;
        reply->alloc = max < 1024 ? max + 1 : 1024;
        reply->body = calloc(1, reply->alloc);
        if (!reply->body) {
                free(reply);
                return -ENOMEM;
        }
        *ret = reply;
        return 0;
}

ReporterReply *reporter_reply_free(ReporterReply *reply) {
        if (!reply)
                return NULL;
        free(reply->body);
        free(reply);
        return NULL;
}

/* Empties the reply before a request; a buffer that a large reply grew is given back. */
static void reply_reset(ReporterReply *reply, bool abort_when_full) {
        if (reply->alloc > REPORTER_REPLY_KEEP) {
                char *b = realloc(reply->body, REPORTER_REPLY_KEEP);
                if (b) {
                        reply->body = b;
                        reply->alloc = REPORTER_REPLY_KEEP;
                }
        }
        reply->status = 0;
        reply->size = 0;
        reply->body[0] = 0;
        reply->error[0] = 0;
        reply->too_big = false;
        reply->abort_when_full = abort_when_full;
}

static size_t on_write(char *data, size_t size, size_t n, void *userdata) {
        ReporterReply *reply = userdata;
        size_t len = size * n, room = reply->max - reply->size, take = len < room ? len : room;
        if (take < len)
                reply->too_big = true;
        if (reply->size + take + 1 > reply->alloc) {
                size_t na = reply->alloc;
                while (na < reply->size + take + 1)
                        na = na > (reply->max + 1) / 2 ? reply->max + 1 : na * 2;
                char *b = realloc(reply->body, na);
                if (!b)
                        return 0;       /* curl: write error, the transfer fails (and is retried) */
                reply->body = b;
                reply->alloc = na;
        }
        memcpy(reply->body + reply->size, data, take);
        reply->size += take;
        reply->body[reply->size] = 0;
        if (reply->too_big && reply->abort_when_full)
                return 0;               /* aborts the transfer */
        return len;                     /* the rest (POST) is dropped, not an error */
}

static int on_progress(void *userdata, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
        const ReporterHttp *h = userdata;
        return atomic_load(h->stop) ? 1 : 0;
}

void reporter_sockets_init(ReporterSockets *s) {
        pthread_mutex_init(&s->lock, NULL);
        s->n = 0;
}

void reporter_sockets_done(ReporterSockets *s) {
        pthread_mutex_destroy(&s->lock);
}

void reporter_sockets_shutdown(ReporterSockets *s) {
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n; i++)
                (void) shutdown(s->fds[i], SHUT_RDWR);
        pthread_mutex_unlock(&s->lock);
}

static curl_socket_t on_open_socket(void *userdata, curlsocktype purpose, struct curl_sockaddr *a) {
        ReporterSockets *s = userdata;
        int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
        if (fd < 0)
                return CURL_SOCKET_BAD;
        pthread_mutex_lock(&s->lock);
        if (s->n < REPORTER_SOCKETS_MAX)
                s->fds[s->n++] = fd;
        pthread_mutex_unlock(&s->lock);
        return fd;
}

static int on_close_socket(void *userdata, curl_socket_t fd) {
        ReporterSockets *s = userdata;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n; i++)
                if (s->fds[i] == fd) {
                        s->fds[i] = s->fds[--s->n];
                        break;
                }
        int r = close(fd);
        pthread_mutex_unlock(&s->lock);
        return r;
}

/* The options every request sets: pinned CA, client certificate, https only, timeouts, the stop flag. */
static void setup_request(ReporterHttp *h, const char *url, const char *ca, const char *cert, const char *key,
                          long timeout_sec, ReporterReply *reply) {
        CURL *c = h->curl;
        /* the same handle throughout: libcurl keeps the connection open between requests */
        mn_curl->easy_setopt(c, CURLOPT_URL, url);
        mn_curl->easy_setopt(c, CURLOPT_CAINFO, ca);
        mn_curl->easy_setopt(c, CURLOPT_CAPATH, NULL);
        mn_curl->easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        mn_curl->easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        mn_curl->easy_setopt(c, CURLOPT_SSLCERT, cert);
        mn_curl->easy_setopt(c, CURLOPT_SSLKEY, key);
        if (cert) {
                mn_curl->easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
                mn_curl->easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
        }
        mn_curl->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
        mn_curl->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        mn_curl->easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        mn_curl->easy_setopt(c, CURLOPT_CONNECTTIMEOUT, REPORTER_CONNECT_TIMEOUT);
        mn_curl->easy_setopt(c, CURLOPT_TIMEOUT, timeout_sec);
        mn_curl->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
        mn_curl->easy_setopt(c, CURLOPT_WRITEDATA, reply);
        mn_curl->easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        mn_curl->easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        mn_curl->easy_setopt(c, CURLOPT_XFERINFODATA, h);
        mn_curl->easy_setopt(c, CURLOPT_ERRORBUFFER, reply->error);
        if (h->sockets) {
                mn_curl->easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
                mn_curl->easy_setopt(c, CURLOPT_OPENSOCKETDATA, h->sockets);
                mn_curl->easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
                mn_curl->easy_setopt(c, CURLOPT_CLOSESOCKETDATA, h->sockets);
        }
}

/* Records the outcome of the request that was set up (cr: the transfer's result): its status, or curl's
 * reason. Frees hdr. */
static void finish(ReporterHttp *h, ReporterReply *reply, struct curl_slist *hdr, CURLcode cr) {
        CURL *c = h->curl;
        mn_curl->easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        mn_curl->easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
        mn_curl->slist_free_all(hdr);
        if (cr != CURLE_OK) {
                if (reply->too_big && reply->abort_when_full)
                        snprintf(reply->error, sizeof(reply->error), "reply larger than %zu bytes", reply->max);
                else if (!reply->error[0])
                        snprintf(reply->error, sizeof(reply->error), "%s", mn_curl->easy_strerror(cr));
                reply->status = 0;
                return;
        }
        mn_curl->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
}

/* Runs the request that was set up and records its status, or curl's reason. Frees hdr. */
static int perform(ReporterHttp *h, ReporterReply *reply, struct curl_slist *hdr) {
        mn_curl->easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdr);
        finish(h, reply, hdr, mn_curl->easy_perform(h->curl));
        return 0;
}

static int gzip_compress(const void *data, size_t size, unsigned char **ret, size_t *ret_size) {
        struct libdeflate_compressor *c = libdeflate_alloc_compressor(REPORTER_GZIP_LEVEL);
        if (!c)
                return -ENOMEM;
        size_t bound = libdeflate_gzip_compress_bound(c, size);
        _cleanup_free_ unsigned char *out = malloc(bound);
        size_t n = out ? libdeflate_gzip_compress(c, data, size, out, bound) : 0;
        libdeflate_free_compressor(c);
        if (!out)
                return -ENOMEM;
        if (n == 0)
                return -EIO;
        *ret = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}

int reporter_http_post_start(ReporterHttp *h, const char *url, const char *ca, const char *cert, const char *key,
                             const char *content_type, bool gzip, const void *body, size_t size,
                             const char *extra_header, ReporterReply *reply, ReporterPost *p) {
        _cleanup_free_ unsigned char *packed = NULL;
        size_t packed_size = 0;
        int r;

        *p = (ReporterPost) {};
        reply_reset(reply, false);
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
        if (!(t = mn_curl->slist_append(hdr, "Expect:")))
                return -ENOMEM;
        hdr = t;
        if (!(t = mn_curl->slist_append(hdr, ctype)))
                goto oom;
        hdr = t;
        if (gzip && size > 0) {
                if (!(t = mn_curl->slist_append(hdr, "Content-Encoding: gzip")))
                        goto oom;
                hdr = t;
        }
        if (extra_header) {
                if (!(t = mn_curl->slist_append(hdr, extra_header)))
                        goto oom;
                hdr = t;
        }

        setup_request(h, url, ca, cert, key, REPORTER_REQUEST_TIMEOUT, reply);
        CURL *c = h->curl;
        mn_curl->easy_setopt(c, CURLOPT_POST, 1L);
        mn_curl->easy_setopt(c, CURLOPT_POSTFIELDS, size > 0 ? body : "");
        mn_curl->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) size);
        mn_curl->easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        p->packed = TAKE_PTR(packed);
        p->size = size;
        p->hdr = hdr;
        return 0;
oom:
        mn_curl->slist_free_all(hdr);
        return -ENOMEM;
}

void reporter_http_post_end(ReporterHttp *h, ReporterPost *p, CURLcode cr, ReporterReply *reply) {
        finish(h, reply, p->hdr, cr);
        free(p->packed);
        *p = (ReporterPost) {};
}

int reporter_http_post(ReporterHttp *h, const char *url, const char *ca, const char *cert, const char *key,
                       const char *content_type, bool gzip, const void *body, size_t size, ReporterReply *reply) {
        ReporterPost p;
        int r = reporter_http_post_start(h, url, ca, cert, key, content_type, gzip, body, size, NULL, reply, &p);
        if (r < 0)
                return r;
        reporter_http_post_end(h, &p, mn_curl->easy_perform(h->curl), reply);
        return 0;
}

int reporter_http_get(ReporterHttp *h, const char *url, const char *ca, const char *cert, const char *key,
                      long timeout_sec, ReporterReply *reply) {
        reply_reset(reply, true);
        struct curl_slist *hdr = mn_curl->slist_append(NULL, "Accept: application/json");
        if (!hdr)
                return -ENOMEM;
        setup_request(h, url, ca, cert, key, timeout_sec, reply);
        mn_curl->easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
        return perform(h, reply, hdr);
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
        _cleanup_(reporter_reply_freep) ReporterReply *reply = NULL;
        int r;

        reason[0] = 0;
        if (reporter_reply_new(REPORTER_REPLY_MAX, &reply) < 0 || asprintf(&url, "%s/v1/enroll", base_url) < 0)
                return -ENOMEM;
        r = reporter_make_key_csr(host_id, &key, &csr);
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
