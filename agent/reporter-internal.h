/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared between reporter.c (delivery thread) and reporter-enroll.c (key, CSR, enrollment, HTTP). Used
 * from the reporter's thread only. */

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Files in the state directory (docs/daemon.md "Reporting"); installer/image-prep.sh deletes them. */
#define REPORTER_KEY_FILE  "collector-client.key"   /* 0600, PKCS#8 PEM, never logged */
#define REPORTER_CERT_FILE "collector-client.crt"   /* the certificate the collector issued */
#define REPORTER_CA_FILE   "collector-ca.crt"       /* the CA the enrollment returned, pinned afterwards */
#define REPORTER_HOST_FILE "collector-enrolled-host" /* host id enrolled for; written last */

#define REPORTER_REPLY_MAX       (64U * 1024U)      /* bytes of a reply kept; more is cut */
#define REPORTER_PEM_MAX         (64U * 1024U)
#define REPORTER_CONNECT_TIMEOUT 10L                /* s */
#define REPORTER_REQUEST_TIMEOUT 120L               /* s */

typedef struct ReporterHttp {
        CURL *curl;
        const atomic_bool *stop;        /* aborts a transfer in flight */
} ReporterHttp;

typedef struct ReporterReply {
        long status;                    /* 0: no HTTP answer (network error) */
        char body[REPORTER_REPLY_MAX + 1];
        size_t size;
        char error[CURL_ERROR_SIZE];    /* curl's reason when status is 0 */
} ReporterReply;

/* POST body to url. ca pinned; cert/key may be NULL (enrollment). gzip: body is gzip-compressed first.
 * Returns 0 when a reply (any status) or a network error was recorded in *reply, -errno otherwise. */
int reporter_http_post(ReporterHttp *h, const char *url, const char *ca, const char *cert, const char *key,
                       const char *content_type, bool gzip, const void *body, size_t size, ReporterReply *reply);

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
