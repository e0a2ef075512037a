/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared between the collector's clients: reporter.c (delivery thread), policy-fetch.c (policy and
 * ticket long-poll thread), reporter-enroll.c (key, CSR, enrollment, HTTP) and reporter-retry.c
 * (backoff). Each thread has its own ReporterHttp and replies. */

#include "curl-dl.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "macro.h"

/* Files in the state directory (docs/daemon.md "Reporting"); installer/image-prep.sh deletes them. */
#define REPORTER_KEY_FILE  "collector-client.key"   /* 0600, PKCS#8 PEM, never logged */
#define REPORTER_CERT_FILE "collector-client.crt"   /* the certificate the collector issued */
#define REPORTER_CA_FILE   "collector-ca.crt"       /* the CA the enrollment returned, pinned afterwards */
#define REPORTER_HOST_FILE "collector-enrolled-host" /* host id enrolled for; written last */

#define REPORTER_REPLY_MAX       (64U * 1024U)      /* bytes of a POST reply kept; more is cut */
#define REPORTER_REPLY_KEEP      (64U * 1024U)      /* a larger reply buffer shrinks before the next request */
#define REPORTER_PEM_MAX         (64U * 1024U)
#define REPORTER_CONNECT_TIMEOUT 10L                /* s */
#define REPORTER_REQUEST_TIMEOUT 120L               /* s */

#define REPORTER_SOCKETS_MAX     4                  /* tracked per handle; more work, untracked */

/* The sockets a handle has open, so that another thread can end a transfer at once (a long-poll held
 * open by the collector would otherwise notice the stop flag only at libcurl's next progress call, up to
 * a second later). */
typedef struct ReporterSockets {
        pthread_mutex_t lock;           /* held while a socket is closed: a shutdown never hits a reused fd */
        int fds[REPORTER_SOCKETS_MAX];
        size_t n;
} ReporterSockets;

void reporter_sockets_init(ReporterSockets *s);
void reporter_sockets_done(ReporterSockets *s);
/* Shuts the sockets down (any thread): a transfer in flight fails at once. */
void reporter_sockets_shutdown(ReporterSockets *s);

typedef struct ReporterHttp {
        CURL *curl;
        const atomic_bool *stop;        /* aborts a transfer in flight */
        ReporterSockets *sockets;       /* optional (NULL): tracked for reporter_sockets_shutdown() */
} ReporterHttp;

typedef struct ReporterReply {
        long status;                    /* 0: no HTTP answer (network error) */
        char *body;                     /* NUL-terminated, never NULL; grows up to max as data arrives */
        size_t size, alloc;
        size_t max;                     /* bytes of a reply kept */
        bool too_big;                   /* more than max arrived: POST cut it, GET aborted the transfer */
        bool abort_when_full;           /* set per request by the HTTP functions */
        char error[CURL_ERROR_SIZE];    /* curl's reason when status is 0 */
} ReporterReply;

/* A reply buffer keeping at most max bytes of a body. */
int reporter_reply_new(size_t max, ReporterReply **ret);
ReporterReply *reporter_reply_free(ReporterReply *reply);
DEFINE_TRIVIAL_CLEANUP_FUNC(ReporterReply *, reporter_reply_free);

/* POST body to url. ca pinned; cert/key may be NULL (enrollment). gzip: body is gzip-compressed first.
 * A reply longer than reply->max is cut (too_big). Returns 0 when a reply (any status) or a network
 * error was recorded in *reply, -errno otherwise. */
int reporter_http_post(ReporterHttp *h, const char *url, const char *ca, const char *cert, const char *key,
                       const char *content_type, bool gzip, const void *body, size_t size, ReporterReply *reply);

/* reporter_http_post() in two halves, for curl's multi interface: _start sets the request up on h->curl
 * (extra_header: one more "Name: value" line, or NULL) and keeps what the transfer needs in *p; once the
 * transfer is done (cr: its result), _end records the outcome in *reply as reporter_http_post() does and
 * frees what *p holds. _end must follow every _start that returned 0. */
typedef struct ReporterPost {
        unsigned char *packed;          /* the gzip'd body */
        size_t size;                    /* bytes of the body sent */
        struct curl_slist *hdr;
} ReporterPost;
int reporter_http_post_start(ReporterHttp *h, const char *url, const char *ca, const char *cert, const char *key,
                             const char *content_type, bool gzip, const void *body, size_t size,
                             const char *extra_header, ReporterReply *reply, ReporterPost *p);
void reporter_http_post_end(ReporterHttp *h, ReporterPost *p, CURLcode cr, ReporterReply *reply);

/* GET url with the same TLS settings; timeout_sec bounds the whole request (a long-poll's wait plus a
 * margin). A reply longer than reply->max aborts the transfer: status 0, too_big set. Returns as
 * reporter_http_post(). */
int reporter_http_get(ReporterHttp *h, const char *url, const char *ca, const char *cert, const char *key,
                      long timeout_sec, ReporterReply *reply);

/* The "error" code of a JSON error reply, or "" */
void reporter_reply_error_code(const ReporterReply *reply, char *buf, size_t size);

/* Generates a key and CSR (CN = host_id), posts /v1/enroll with token, stores key, certificate, CA and
 * host marker in state_dir. 0 enrolled; -EAGAIN retry later (network, 5xx…; *reason set); -EACCES/-EINVAL
 * refused (reason set); other -errno local failures. */
int reporter_enroll(ReporterHttp *h, const char *base_url, const char *conf_ca, const char *token,
                    const char *host_id, const char *host_name, const char *state_dir, char *reason,
                    size_t reason_size);

/* Whether state_dir holds credentials enrolled for host_id. */
bool reporter_enrolled(const char *state_dir, const char *host_id);

/* Removes the host marker: the next attempt enrolls again. */
void reporter_forget_enrollment(const char *state_dir);

/* ---- retries (reporter-retry.c), for the worker threads ---- */

/* Sleeps on cond (made with CLOCK_MONOTONIC) until deadline (now_mono_usec() time) or *stop; lock is
 * taken for the wait. Returns false on stop. */
bool reporter_wait_until(pthread_mutex_t *lock, pthread_cond_t *cond, const atomic_bool *stop, uint64_t deadline);

/* Exponential backoff with full jitter: doubles *backoff_usec (from REPORTER_BACKOFF_MIN_USEC, at most
 * max_usec) and returns a delay uniformly drawn from [backoff/2, backoff]. */
uint64_t reporter_backoff_next(uint64_t *backoff_usec, uint64_t max_usec);

/* Whether a reply status is worth retrying as is (network error, 5xx, 408, 429). */
bool reporter_status_retryable(long status);

/* PEM of a new P-256 key (PKCS#8) and of a CSR for it with CN = host_id (reporter-csr.c). */
int reporter_make_key_csr(const char *host_id, char **ret_key, char **ret_csr);
