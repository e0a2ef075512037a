/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Logging for binaries (libraries do not log). To stderr; with the "<N>" priority prefix that
 * journald understands when stderr is connected to the journal (JOURNAL_STREAM). */

#include <errno.h>
#include <syslog.h>

#include "macro.h"

void log_setup(const char *ident);
void log_set_max_level(int level);
int log_get_max_level(void);

/* Logs and returns -abs(error) (or 0 for error 0), so callers can write
 * "return log_error_errno(r, "Failed to open %s: %m", path);" — %m shows error. */
_printf_(3, 4) int log_internal(int level, int error, const char *fmt, ...);

#define log_full_errno(level, error, ...) log_internal(level, error, __VA_ARGS__)
#define log_error_errno(error, ...) log_internal(LOG_ERR, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_internal(LOG_WARNING, error, __VA_ARGS__)
#define log_error(...) ((void) log_internal(LOG_ERR, 0, __VA_ARGS__))
#define log_warning(...) ((void) log_internal(LOG_WARNING, 0, __VA_ARGS__))
#define log_notice(...) ((void) log_internal(LOG_NOTICE, 0, __VA_ARGS__))
#define log_info(...) ((void) log_internal(LOG_INFO, 0, __VA_ARGS__))
#define log_debug(...) ((void) log_internal(LOG_DEBUG, 0, __VA_ARGS__))
#define log_oom() log_internal(LOG_ERR, ENOMEM, "Out of memory.")
