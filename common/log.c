/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_ident = "mnguard";
static int max_level = LOG_INFO;
static bool journal_prefix;

void log_setup(const char *ident) {
        log_ident = ident;
        journal_prefix = getenv("JOURNAL_STREAM") != NULL;
        const char *l = getenv("MNGUARD_LOG_LEVEL");
        if (l && streq(l, "debug"))
                max_level = LOG_DEBUG;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_internal(int level, int error, const char *fmt, ...) {
        int saved = errno;
        int e = error < 0 ? -error : error;
        if (level <= max_level) {
                char buf[2048];
                va_list ap;
                errno = e; /* for %m */
                va_start(ap, fmt);
                vsnprintf(buf, sizeof(buf), fmt, ap);
                va_end(ap);
                if (journal_prefix)
                        fprintf(stderr, "<%d>%s\n", level, buf);
                else
                        fprintf(stderr, "%s: %s\n", log_ident, buf);
        }
        errno = saved;
        return -e;
}
