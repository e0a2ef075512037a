/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The SQL of an event history query, for both backends: the same WHERE/ORDER BY, with "?" placeholders
 * for SQLite and "$n" for PostgreSQL, and SQLite's GLOB or PostgreSQL's "~" for the action glob. */

#include <stdbool.h>
#include <stdint.h>

#include "storage.h"

#define SQL_TEXT_MAX 2048

/* PostgreSQL: an event's user, device serial and vendor:product as one array, "u:NAME", "s:SERIAL", "v:VVVV:PPPP"
 * (NULL elements for what it lacks). One GIN index on this expression (events_attrs) serves the user and device
 * filters; queries must spell the expression exactly so for the planner to use it. */
#define SQL_PG_EVENT_ATTRS "ARRAY['u:' || user_name, 's:' || dev_serial, 'v:' || dev_vidpid]"
#define SQL_PARAMS_MAX 16

typedef struct SqlParam {
        const char *text;       /* NULL: the number */
        int64_t number;
} SqlParam;

typedef struct SqlQuery {
        char sql[SQL_TEXT_MAX];
        SqlParam params[SQL_PARAMS_MAX];
        unsigned n_params;
        char *regex;            /* owned: the action glob as a regex (PostgreSQL) */
        char vidpid[10];
} SqlQuery;

/* Selects host_id, seq, ts, received, flags, body. */
int sql_build_events(const EventQuery *q, bool postgres, SqlQuery *ret);
void sql_query_done(SqlQuery *q);
