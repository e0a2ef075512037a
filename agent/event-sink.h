/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* How enforcement modules hand events to whoever records them (the daemon's manager_log(), or a
 * test's collector) without depending on the daemon. */

#include <json-c/json.h>
#include <sys/types.h>

/* ev is consumed. uid: whose event it is for notifications, (uid_t) -1 for nobody in particular. */
typedef struct MnEventSink {
        void (*emit)(json_object *ev, uid_t uid, void *userdata);
        void *userdata;
} MnEventSink;

static inline void mn_event_emit(const MnEventSink *s, json_object *ev, uid_t uid) {
        if (s && s->emit)
                s->emit(ev, uid, s->userdata);
        else
                json_object_put(ev);
}
