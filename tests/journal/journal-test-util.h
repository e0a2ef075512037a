/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by the journal tests: temporary directories, realistic events, raw SQLite access for tampering. */

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "journal.h"

/* A fresh directory under $TMPDIR (or /tmp); aborts on failure. */
char *jt_mkdtemp(void);
/* Removes a directory tree made by jt_mkdtemp(); frees path. */
void jt_rm_rf(char *path);
/* path joined to name; aborts on failure. */
char *jt_path(const char *dir, const char *name);

/* A device-blocked event as the daemon would build it. i varies user, device, timestamp (base + i s). */
json_object *jt_event(unsigned i, uint64_t ts_usec);
/* Appends n events with timestamps base + i * step_usec, then flushes; asserts success. */
void jt_append_n(Journal *j, unsigned n, uint64_t base_usec, uint64_t step_usec);

/* Opens the journal file for tampering (read-write, no journal code in between). */
sqlite3 *jt_sqlite_open(const char *path);
void jt_sql(sqlite3 *db, const char *sql);
int64_t jt_sql_int(sqlite3 *db, const char *sql);

/* Runs journal_verify() and returns the result; asserts the call itself worked. */
JournalVerifyResult jt_verify(Journal *j);
JournalVerifyResult jt_verify_path(const char *path);

/* Number of records a query returns. */
uint64_t jt_count(Journal *j, const JournalQuery *q);

/* Whether file exists. */
bool jt_exists(const char *path);
