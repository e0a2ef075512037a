/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shapes shared by the HTTP API and the command line: hosts and alerts as JSON, time arguments, paging
 * cursors. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage.h"

#define CURSOR_MAX 80   /* "TS.HOSTID.SEQ" */

json_object *host_to_json(const HostState *h);
json_object *alert_to_json(const AlertRecord *a);
/* Without data: group, serial, name, key_id, published, published_by. */
json_object *policy_record_to_json(const PolicyRecord *p);

/* "now", "7d"/"12h"/"30m"/"45s"/"2w" ago, a local date "2026-11-26" (midnight), or RFC 3339
 * ("2026-11-26T09:00:00+09:00", "…Z") — as mnguardctl events takes them. */
int time_arg_parse(const char *s, uint64_t now_usec, uint64_t *ret);

/* Paging position after a record: "<ts_usec>.<host_id>.<sequence>". */
void cursor_format(uint64_t ts, const char *host_id, uint64_t seq, char out[static CURSOR_MAX]);
int cursor_parse(const char *s, EventQuery *q);
