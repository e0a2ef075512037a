/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "journal.h"
#include "macro.h"
#include "strutil.h"

uint64_t mn_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

json_object *mn_event_section(json_object *ev, const char *key) {
        json_object *o;
        if (json_object_object_get_ex(ev, key, &o) && json_object_is_type(o, json_type_object))
                return o;
        o = json_object_new_object();
        json_object_object_add(ev, key, o);
        return o;
}

void mn_event_set_string(json_object *section, const char *key, const char *value) {
        if (value)
                json_object_object_add(section, key, json_object_new_string(value));
}

void mn_event_set_untrusted(json_object *section, const char *key, const char *value) {
        if (!value)
                return;
        _cleanup_free_ char *s = untrusted_sanitize(value, strlen(value), MN_UNTRUSTED_MAX);
        if (s)
                json_object_object_add(section, key, json_object_new_string(s));
}

void mn_event_set_int(json_object *section, const char *key, int64_t value) {
        json_object_object_add(section, key, json_object_new_int64(value));
}

int mn_event_add_fields(json_object *section, json_object *fields) {
        if (!fields || !json_object_is_type(fields, json_type_object))
                return 0;
        json_object_object_foreach(fields, key, value) {
                json_object *copy = NULL;
                if (json_object_object_get_ex(section, key, NULL))
                        continue;
                if (value && json_object_deep_copy(value, &copy, NULL) < 0)
                        return -ENOMEM;
                if (json_object_object_add(section, key, copy) < 0) {
                        json_object_put(copy);
                        return -ENOMEM;
                }
        }
        return 0;
}

void mn_event_set_audit(json_object *ev, const char *would) {
        json_object *type = json_object_new_array();
        if (type && json_object_array_add(type, json_object_new_string("info")) == 0)
                json_object_object_add(mn_event_section(ev, "event"), "type", type);
        else
                json_object_put(type);
        mn_event_set_string(mn_event_section(ev, "mnguard"), "would", would);
}

json_object *mn_event_new(const char *action, const char *outcome, const char *reason) {
        char ts[JOURNAL_TIMESTAMP_MAX];
        json_object *ev = json_object_new_object();
        if (!ev)
                return NULL;
        json_object_object_add(ev, "@timestamp", json_object_new_string(journal_timestamp_format(mn_now_usec(), ts)));
        json_object *e = mn_event_section(ev, "event");
        mn_event_set_string(e, "action", action);
        mn_event_set_string(e, "outcome", outcome);
        mn_event_set_string(e, "reason", reason);
        return ev;
}
