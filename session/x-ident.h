/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Which application an X window belongs to: the X client (its resource base), the client's process
 * (XRes client id PID, local clients only) and its WM_CLASS class — from the window itself, its
 * WM_CLIENT_LEADER, or another top-level window of the same client (_NET_CLIENT_LIST, the root's
 * children): selection owners and requestors are often unmapped helper windows without WM_CLASS.
 * Everything read from the server is untrusted: bounded, sanitized. Results with a class are cached
 * per (client, pid) for a few seconds so a paste costs one round trip. */

#include <X11/Xlib.h>
#include <stdint.h>
#include <sys/types.h>

#include "clip-decide.h"
#include "session-policy.h"

#define X_IDENT_CACHE_MAX 64
#define X_IDENT_CACHE_USEC (10 * 1000000LL)
#define X_IDENT_MAX_WINDOWS 4096        /* windows looked at when searching a client's WM_CLASS */
#define X_IDENT_LABEL_MAX (SESSION_POLICY_APP_MAX + 64) /* bytes of the name used in reports */

typedef struct XAppInfo {
        char class_name[SESSION_POLICY_APP_MAX + 1];    /* "" when unknown */
        uint32_t client;                                 /* resource base; 0 unknown */
        pid_t pid;                                       /* 0 unknown (remote client, no XRes) */
        char label[X_IDENT_LABEL_MAX];                   /* class, or "comm (pid N)", or "X client 0x…" */
} XAppInfo;

typedef struct XIdent XIdent;

int x_ident_new(Display *dpy, XIdent **ret);
XIdent *x_ident_free(XIdent *xi);

void x_ident_lookup(XIdent *xi, Window w, XAppInfo *ret);

static inline ClipApp x_app_info_clip(const XAppInfo *a) {
        return (ClipApp) { .class_name = a->class_name[0] ? a->class_name : NULL, .client = a->client };
}
