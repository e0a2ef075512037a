/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The daemon's control socket: newline-delimited JSON over AF_UNIX stream. Every connection's peer is
 * taken from SO_PEERCRED/SO_PEERGROUPS at accept; every verb has its own access level. Messages,
 * clients and output are bounded; I/O is non-blocking, so a slow or hostile client cannot stall the
 * daemon: it is disconnected when it overflows its output or sits on a partial request too long.
 * Protocol: docs/control.md. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#define CONTROL_MAX_MESSAGE    (64 * 1024)   /* bytes in one request line */
#define CONTROL_MAX_CLIENTS    128
#define CONTROL_MAX_OUTPUT     (4 * 1024 * 1024) /* queued reply bytes before a client is dropped */
#define CONTROL_PUMP_LOW_WATER (256 * 1024)  /* streaming replies refill below this */
#define CONTROL_REQUEST_TIMEOUT_USEC (30ULL * 1000000ULL) /* to finish a started request line */
#define CONTROL_AUDIT_GROUP    "mnguard-audit"
#define CONTROL_MAX_DEPTH      8             /* JSON nesting of a request */

typedef struct ControlServer ControlServer;
typedef struct ControlClient ControlClient;

typedef enum ControlAccess {
        CONTROL_ACCESS_ANY,   /* any local user */
        CONTROL_ACCESS_AUDIT, /* root or a member of mnguard-audit */
        CONTROL_ACCESS_ROOT,  /* root only */
} ControlAccess;

/* A verb handler replies with control_client_send()/reply_*; returning a negative errno sends an
 * error reply for it. */
typedef int (*ControlHandler)(ControlClient *c, json_object *request, void *userdata);

typedef struct ControlVerb {
        const char *name;
        ControlAccess access;
        ControlHandler handler;
} ControlVerb;

/* Parses one request line (without its newline, at most CONTROL_MAX_MESSAGE bytes): exactly one JSON
 * object with a "verb" string. Returns 0 with *ret (to put) and *ret_verb (owned by *ret), -EBADMSG or
 * -ENOMEM. Pure: the fuzz target tests/fuzz/fuzz-control.c runs it on its own. */
int control_request_parse(const char *line, size_t len, json_object **ret, const char **ret_verb);

/* A verb's optional arguments. Absent or null: 0 with *ret NULL (or 0). Otherwise a string of at most max
 * bytes of valid UTF-8 with no NUL, or a whole number >= 0; anything else is -EINVAL. */
int control_arg_string(json_object *req, const char *key, size_t max, const char **ret);
int control_arg_u64(json_object *req, const char *key, uint64_t *ret);

int control_server_new(sd_event *event, const char *path, const ControlVerb *verbs, size_t n_verbs,
                       void *userdata, ControlServer **ret);
ControlServer *control_server_free(ControlServer *s);

/* Called for each client that goes away, before it is freed. */
void control_server_set_disconnect_handler(ControlServer *s, void (*f)(ControlClient *c, void *userdata));

/* Queues one JSON line to the client (takes no reference). -ENOBUFS when the client is over its output
 * bound (it is then disconnected). */
int control_client_send(ControlClient *c, json_object *msg);
/* Queues one line that already is JSON text (len bytes, no newline). */
int control_client_send_raw(ControlClient *c, const char *line, size_t len);
int control_client_reply_ok(ControlClient *c, json_object *fields /* may be NULL; consumed */);
int control_client_reply_error(ControlClient *c, int error, const char *message);

uid_t control_client_uid(const ControlClient *c);
gid_t control_client_gid(const ControlClient *c);
pid_t control_client_pid(const ControlClient *c);

/* Streaming replies: pump is called whenever the client's queued output falls below the low-water
 * mark; it sends the next chunk, and returns 0 to be called again, 1 when done, or a negative errno.
 * state is freed with free_state when the stream ends or the client goes. */
void control_client_set_pump(ControlClient *c, int (*pump)(ControlClient *c, void *state, void *userdata),
                             void *state, void (*free_state)(void *state));

/* Subscriptions: a subscribed client gets the events control_server_broadcast() sends for its uid. */
void control_client_subscribe(ControlClient *c);
void control_server_broadcast(ControlServer *s, json_object *event, uid_t uid);
size_t control_server_n_clients(const ControlServer *s);
