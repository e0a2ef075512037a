/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Answers SelectionRequests for a selection the guard holds (ICCCM §2.2–2.7): TARGETS and TIMESTAMP to
 * anyone; data only where the allow callback says so — everyone else gets SelectionNotify with property
 * None. Large data goes in INCR pieces; transfers are bounded in number and time. Requestors are
 * untrusted: a vanished window or a requestor that stops reading costs a timer, nothing more. */

#include <X11/Xlib.h>
#include <stdbool.h>

#include "clip-atoms.h"
#include "clip-store.h"

#define CLIP_MAX_TRANSFERS 32                 /* INCR transfers at once */
#define CLIP_INCR_CHUNK (256u * 1024)         /* bytes per INCR piece */
#define CLIP_SINGLE_MAX (4u * 1024 * 1024)    /* larger data goes by INCR (as xclip does) */
#define CLIP_TRANSFER_MSEC 10000              /* a requestor must take each piece within this */
#define CLIP_MAX_MULTIPLE 32                  /* conversions in one MULTIPLE request */

typedef struct ClipServer ClipServer;

/* May requestor have target of store? Called once per request for data (not for TARGETS/TIMESTAMP);
 * the callee reports what it refuses. */
typedef bool (*ClipAllow)(ClipStore *store, Window requestor, Atom target, void *userdata);

int clip_server_new(Display *dpy, const ClipAtoms *atoms, ClipServer **ret);
ClipServer *clip_server_free(ClipServer *s);

/* store NULL: nothing held, refused. */
void clip_server_request(ClipServer *s, ClipStore *store, const XSelectionRequestEvent *req, ClipAllow allow,
                         void *userdata);

/* PropertyNotify events of INCR transfers; true if taken. */
bool clip_server_handle(ClipServer *s, const XEvent *ev);
