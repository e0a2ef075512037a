/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "curl-dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

#include "log.h"

const MnCurl *mn_curl;

static MnCurl table;
static int load_result;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
        void *h = dlopen(MN_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                log_error("Cannot load %s (Debian package libcurl3-gnutls): %s; nothing is reported to the "
                          "collector.", MN_CURL_SONAME, dlerror());
                load_result = -ENOENT;
                return;
        }
        CURLcode (*global_init)(long) = (CURLcode (*)(long)) dlsym(h, "curl_global_init");
        struct {
                void **slot;
                const char *name;
        } syms[] = {
                { (void **) &table.easy_init, "curl_easy_init" },
                { (void **) &table.easy_cleanup, "curl_easy_cleanup" },
                { (void **) &table.easy_setopt, "curl_easy_setopt" },
                { (void **) &table.easy_perform, "curl_easy_perform" },
                { (void **) &table.easy_getinfo, "curl_easy_getinfo" },
                { (void **) &table.easy_strerror, "curl_easy_strerror" },
                { (void **) &table.slist_append, "curl_slist_append" },
                { (void **) &table.slist_free_all, "curl_slist_free_all" },
                { (void **) &table.multi_init, "curl_multi_init" },
                { (void **) &table.multi_cleanup, "curl_multi_cleanup" },
                { (void **) &table.multi_add_handle, "curl_multi_add_handle" },
                { (void **) &table.multi_remove_handle, "curl_multi_remove_handle" },
                { (void **) &table.multi_perform, "curl_multi_perform" },
                { (void **) &table.multi_poll, "curl_multi_poll" },
                { (void **) &table.multi_wakeup, "curl_multi_wakeup" },
                { (void **) &table.multi_info_read, "curl_multi_info_read" },
        };
        for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++)
                if (!(*syms[i].slot = dlsym(h, syms[i].name))) {
                        log_error("%s lacks %s: nothing is reported to the collector.", MN_CURL_SONAME, syms[i].name);
                        load_result = -ENOENT;
                        return;
                }
        if (!global_init || global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                log_error("libcurl did not initialise: nothing is reported to the collector.");
                load_result = -EIO;
                return;
        }
        /* the handle stays open for the process's life: libcurl keeps global state */
        mn_curl = &table;
}

int mn_curl_load(void) {
        pthread_once(&once, load);
        return load_result;
}
