/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The session helper's connection to mnguardd's control socket (docs/control.md), on the GLib main
 * loop: connects as the user, subscribes, asks for the session policy, reports clipboard refusals, and
 * reconnects with backoff when the daemon goes away. One request is in flight at a time, so replies
 * match requests even though the daemon answers some only once they are on disk; event lines may come
 * between. Everything read is bounded and checked: a bad line drops the connection. */

#include <json-c/json.h>
#include <stdbool.h>

#define DAEMON_LINK_LINE_MAX (1024 * 1024)        /* one line from the daemon */
#define DAEMON_LINK_MAX_QUEUED 1024               /* reports waiting for the daemon */
#define DAEMON_LINK_BACKOFF_MIN_MSEC 250
#define DAEMON_LINK_BACKOFF_MAX_MSEC 30000
#define DAEMON_LINK_REPLY_TIMEOUT_MSEC 30000

typedef struct DaemonLink DaemonLink;

typedef struct DaemonLinkCallbacks {
        void (*connected)(bool up, void *userdata);
        /* a {"event":{…}} line: record is the event object (borrowed) */
        void (*event)(json_object *record, void *userdata);
        /* the session-policy reply (borrowed) */
        void (*policy)(json_object *reply, void *userdata);
} DaemonLinkCallbacks;

int daemon_link_new(const char *socket_path, const DaemonLinkCallbacks *cb, void *userdata, DaemonLink **ret);
DaemonLink *daemon_link_free(DaemonLink *l);

/* Connects now (and keeps reconnecting). */
void daemon_link_start(DaemonLink *l);

/* Asks for the session policy again (after a policy-applied event). */
void daemon_link_refresh_policy(DaemonLink *l);

/* Queues a clipboard-blocked report (request object consumed). Reports survive reconnects; the
 * oldest is dropped, and counted, past DAEMON_LINK_MAX_QUEUED. */
void daemon_link_report(DaemonLink *l, json_object *request);

bool daemon_link_is_connected(const DaemonLink *l);
