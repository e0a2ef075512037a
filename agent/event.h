/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Builders for event records (DESIGN.md "Event record", docs/events.md). The journal adds
 * event.sequence and the hash chain; the manager adds host and policy fields. */

#include <json-c/json.h>
#include <stdint.h>

#define MN_OUTCOME_SUCCESS "success"
#define MN_OUTCOME_FAILURE "failure"
#define MN_OUTCOME_UNKNOWN "unknown"

/* A new event stamped with the current time (µs, UTC). reason may be NULL. */
json_object *mn_event_new(const char *action, const char *outcome, const char *reason);

/* The sub-object key of ev ("event", "user", "device", "mnguard", ...), created when missing. */
json_object *mn_event_section(json_object *ev, const char *key);

/* Sets a string field from untrusted input: sanitized to valid UTF-8, capped (strutil.h). NULL is
 * left out. */
void mn_event_set_untrusted(json_object *section, const char *key, const char *value);
void mn_event_set_string(json_object *section, const char *key, const char *value);
void mn_event_set_int(json_object *section, const char *key, int64_t value);

/* Copies every member of fields (an object; NULL adds nothing) into section, keeping the members section
 * has already: the device fields of a medium added to its mount and file events. Returns 0 or -ENOMEM. */
int mn_event_add_fields(json_object *section, json_object *fields);

/* Marks an audit-mode decision (DESIGN.md "Event record"): event.type ["info"] and mnguard.would (what
 * enforcement would have done: "block", "allow", "read-only" …). The outcome is the caller's
 * (MN_OUTCOME_UNKNOWN). */
void mn_event_set_audit(json_object *ev, const char *would);

uint64_t mn_now_usec(void);
