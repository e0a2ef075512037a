/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The X11 clipboard guard (docs/session.md): watches CLIPBOARD and PRIMARY with XFixes; when a
 * protected application owns one, or any owner's text holds a valid individual number, it reads the
 * data, takes the selection over and answers requests itself — data only to whom the policy allows,
 * a refusal (and a report) to everyone else. */

#include <X11/Xlib.h>
#include <stdint.h>

#include "session-policy.h"

#define CLIP_REPORT_FOLD_MSEC 1000   /* refusals of one paste (a requestor trying target after target) */

typedef struct ClipRefusal {
        const char *selection;       /* "CLIPBOARD" or "PRIMARY" */
        const char *source_app;
        const char *target_app;
        uint64_t bytes;
        uint64_t numbers;
        const char *reason;
        bool enforced;               /* false: audit mode, served anyway */
} ClipRefusal;

typedef void (*ClipRefusedFn)(const ClipRefusal *refusal, void *userdata);

typedef struct ClipGuard ClipGuard;

/* policy is borrowed and must outlive the guard or the next clip_guard_set_policy(). */
int clip_guard_new(Display *dpy, const SessionPolicy *policy, ClipRefusedFn refused, void *userdata, ClipGuard **ret);
ClipGuard *clip_guard_free(ClipGuard *g);

/* A new policy: what is held is decided under it from now on; current owners are looked at again. */
void clip_guard_set_policy(ClipGuard *g, const SessionPolicy *policy);

void clip_guard_handle_event(ClipGuard *g, XEvent *ev);
