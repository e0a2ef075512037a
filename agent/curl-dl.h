/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* libcurl, loaded with dlopen() the first time the daemon needs it (a collector is configured).
 *
 * Why: Debian's libcurl-gnutls pulls ~20 shared libraries (GnuTLS, Kerberos, LDAP, libssh2 with OpenSSL's
 * libcrypto, …) whose relocations alone made a terminal without a collector 4 MiB larger (docs/performance.md,
 * "Resident memory"). A terminal that reports pays for them; one that does not, does not. The package
 * depends on libcurl3-gnutls explicitly (dpkg-shlibdeps cannot see a dlopen()). */

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#define MN_CURL_SONAME "libcurl-gnutls.so.4"

typedef struct MnCurl {
        CURL *(*easy_init)(void);
        void (*easy_cleanup)(CURL *c);
        CURLcode (*easy_setopt)(CURL *c, CURLoption option, ...);
        CURLcode (*easy_perform)(CURL *c);
        CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
        const char *(*easy_strerror)(CURLcode code);
        struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
        void (*slist_free_all)(struct curl_slist *list);
        /* the multi interface: the reporter keeps two batches in flight */
        CURLM *(*multi_init)(void);
        CURLMcode (*multi_cleanup)(CURLM *m);
        CURLMcode (*multi_add_handle)(CURLM *m, CURL *c);
        CURLMcode (*multi_remove_handle)(CURLM *m, CURL *c);
        CURLMcode (*multi_perform)(CURLM *m, int *running);
        CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd extra[], unsigned n_extra, int timeout_ms, int *ret);
        CURLMcode (*multi_wakeup)(CURLM *m);
        CURLMsg *(*multi_info_read)(CURLM *m, int *left);
} MnCurl;

/* Loads libcurl (once; thread-safe) and runs curl_global_init(). Returns 0, or -ENOENT when the library
 * cannot be loaded, -EIO when it does not initialise (logged either way). */
int mn_curl_load(void);

/* The loaded functions: valid after mn_curl_load() returned 0. */
extern const MnCurl *mn_curl;
