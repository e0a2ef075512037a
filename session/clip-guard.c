/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "clip-guard.h"

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xfixes.h>
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "clip-atoms.h"
#include "clip-decide.h"
#include "clip-read.h"
#include "clip-serve.h"
#include "log.h"
#include "macro.h"
#include "x-ident.h"

#define GUARD_WM_CLASS "mnguard-session"

typedef struct Sel {
        ClipGuard *guard;
        const char *name;
        Atom atom, property;
        ClipReader *reader;
        Window reading_from;    /* the owner the reader reads */
        Time change_time;       /* when that owner took the selection */
        ClipStore *held;        /* while the guard owns the selection */
        /* folding the refusals of one paste */
        uint32_t last_client;
        pid_t last_pid;
        ClipVerdict last_verdict;
        gint64 last_usec;
} Sel;

struct ClipGuard {
        Display *dpy;
        Window window;
        Atom timestamp_prop;
        ClipAtoms atoms;
        int xfixes_event;
        XIdent *ident;
        ClipServer *server;
        const SessionPolicy *policy;
        ClipRefusedFn refused;
        void *userdata;
        Sel sel[2];
};

static Sel *find_sel(ClipGuard *g, Atom selection) {
        for (size_t i = 0; i < ELEMENTSOF(g->sel); i++)
                if (g->sel[i].atom == selection)
                        return &g->sel[i];
        return NULL;
}

static Bool is_timestamp_event(Display *dpy, XEvent *ev, XPointer arg) {
        ClipGuard *g = (ClipGuard *) arg;
        return ev->type == PropertyNotify && ev->xproperty.window == g->window && ev->xproperty.atom == g->timestamp_prop;
}

/* A real server timestamp (ICCCM §2.1: never CurrentTime when taking a selection): append nothing to
 * a property of our own window and take the time of the PropertyNotify. The server answers that
 * without any other client's help. */
static Time server_time(ClipGuard *g) {
        XEvent ev;
        XChangeProperty(g->dpy, g->window, g->timestamp_prop, XA_INTEGER, 32, PropModeAppend, NULL, 0);
        XIfEvent(g->dpy, &ev, is_timestamp_event, (XPointer) g);
        return ev.xproperty.time;
}

static void owner_changed(ClipGuard *g, Sel *s, Window owner, Time when) {
        if (owner == g->window)
                return;
        clip_reader_abort(s->reader);
        s->held = clip_store_unref(s->held);
        if (owner == None)
                return;

        XAppInfo info;
        x_ident_lookup(g->ident, owner, &info);
        ClipApp app = x_app_info_clip(&info);
        bool protected = clip_owner_protected(g->policy, &app);
        bool scan = g->policy->detect_individual_number;
        log_debug("%s is now owned by %s%s.", s->name, info.label, protected ? " (protected)" : "");
        if (!protected && !scan)
                return;
        s->reading_from = owner;
        s->change_time = when;
        clip_reader_start(s->reader, &info, protected, scan);
}

static void read_done(ClipStore *store, void *userdata) {
        Sel *s = userdata;
        ClipGuard *g = s->guard;
        _cleanup_(clip_store_unrefp) ClipStore *st = store;
        ClipApp owner = x_app_info_clip(&store->owner);

        if (!clip_must_take_over(g->policy, &owner, clip_store_numbers_for_decision(store)))
                return;
        if (XGetSelectionOwner(g->dpy, s->atom) != s->reading_from) {
                log_debug("%s changed hands while it was read; looking at the new owner instead.", s->name);
                return;
        }
        XSetSelectionOwner(g->dpy, s->atom, g->window, s->change_time);
        if (XGetSelectionOwner(g->dpy, s->atom) != g->window) {
                log_warning("Could not take %s over from %s.", s->name, store->owner.label);
                return;
        }
        store->time = s->change_time;
        s->held = TAKE_PTR(st);
        s->last_usec = 0;
        log_info("Guarding %s from %s: %zu of %zu targets held (%zu bytes)%s%s.", s->name, s->held->owner.label,
                 s->held->n_held, s->held->n_offered, s->held->held_bytes,
                 s->held->numbers > 0 ? ", individual numbers found" : s->held->unscanned ? ", text not scanned whole (refused: fail closed)" : "",
                 s->held->incomplete ? ", not all held: the rest is refused" : "");
}

static bool allow_request(ClipStore *store, Window requestor, Atom target, void *userdata) {
        Sel *s = userdata;
        ClipGuard *g = s->guard;
        XAppInfo who;
        ClipDecision d;

        x_ident_lookup(g->ident, requestor, &who);
        ClipApp owner = x_app_info_clip(&store->owner), req = x_app_info_clip(&who);
        clip_decide(g->policy, &owner, clip_store_numbers_for_decision(store), &req, &d);
        log_debug("%s: %s asks for %s's data (client 0x%x, pid %d): %s.", s->name, who.label, store->owner.label,
                  who.client, (int) who.pid, d.reason ?: "served");
        if (d.verdict == CLIP_SERVE)
                return true;

        gint64 now = g_get_monotonic_time();
        bool folded = s->last_usec != 0 && s->last_client == who.client && s->last_pid == who.pid &&
                      s->last_verdict == d.verdict && now - s->last_usec < CLIP_REPORT_FOLD_MSEC * 1000;
        s->last_usec = now;
        s->last_client = who.client;
        s->last_pid = who.pid;
        s->last_verdict = d.verdict;
        if (!folded) {
                const ClipTarget *t = clip_store_find(store, target);
                ClipRefusal r = {
                        .selection = s->name,
                        .source_app = store->owner.label,
                        .target_app = who.label,
                        .bytes = t && t->format == 8 ? t->bytes : store->text_bytes,
                        .numbers = store->numbers,
                        .reason = d.reason,
                        .enforced = d.enforce,
                };
                log_info("%s %s from %s to %s (%s).", d.enforce ? "Refused" : "Would refuse (audit)", s->name,
                         r.source_app, r.target_app, d.reason);
                g->refused(&r, g->userdata);
        }
        return !d.enforce;
}

void clip_guard_handle_event(ClipGuard *g, XEvent *ev) {
        if (ev->type == g->xfixes_event + XFixesSelectionNotify) {
                XFixesSelectionNotifyEvent *fe = (XFixesSelectionNotifyEvent *) ev;
                Sel *s = find_sel(g, fe->selection);
                if (s)
                        owner_changed(g, s, fe->owner, fe->timestamp);
                return;
        }
        switch (ev->type) {
        case SelectionRequest: {
                Sel *s = find_sel(g, ev->xselectionrequest.selection);
                clip_server_request(g->server, s ? s->held : NULL, &ev->xselectionrequest, allow_request, s);
                return;
        }
        case SelectionClear: {
                Sel *s = find_sel(g, ev->xselectionclear.selection);
                if (s && ev->xselectionclear.window == g->window)
                        s->held = clip_store_unref(s->held);
                return;
        }
        case SelectionNotify:
        case PropertyNotify:
                for (size_t i = 0; i < ELEMENTSOF(g->sel); i++)
                        if (clip_reader_handle(g->sel[i].reader, ev))
                                return;
                (void) clip_server_handle(g->server, ev);
                return;
        }
}

void clip_guard_set_policy(ClipGuard *g, const SessionPolicy *policy) {
        g->policy = policy;
        for (size_t i = 0; i < ELEMENTSOF(g->sel); i++) {
                Sel *s = &g->sel[i];
                if (s->held)
                        continue; /* held data is decided under the new policy at each request */
                Window owner = XGetSelectionOwner(g->dpy, s->atom);
                if (owner != None && owner != g->window)
                        owner_changed(g, s, owner, server_time(g));
        }
}

int clip_guard_new(Display *dpy, const SessionPolicy *policy, ClipRefusedFn refused, void *userdata, ClipGuard **ret) {
        int ev_base, err_base, major = 0, minor = 0, r;
        if (!XFixesQueryExtension(dpy, &ev_base, &err_base) || !XFixesQueryVersion(dpy, &major, &minor) || major < 1)
                return log_error_errno(EOPNOTSUPP, "The X server lacks XFixes: the clipboard cannot be guarded.");

        ClipGuard *g = calloc(1, sizeof(ClipGuard));
        if (!g)
                return -ENOMEM;
        g->dpy = dpy;
        g->xfixes_event = ev_base;
        g->policy = policy;
        g->refused = refused;
        g->userdata = userdata;
        clip_atoms_init(dpy, &g->atoms);
        g->timestamp_prop = XInternAtom(dpy, "MNGUARD_TIMESTAMP", False);

        Window root = DefaultRootWindow(dpy);
        XSetWindowAttributes attr = { .event_mask = PropertyChangeMask };
        g->window = XCreateWindow(dpy, root, -10, -10, 1, 1, 0, CopyFromParent, InputOnly, CopyFromParent, CWEventMask,
                                  &attr);
        XClassHint hint = { .res_name = (char *) GUARD_WM_CLASS, .res_class = (char *) GUARD_WM_CLASS };
        XSetClassHint(dpy, g->window, &hint);
        XStoreName(dpy, g->window, "mnguard clipboard guard");

        const struct { const char *name; Atom atom; const char *prop; } sels[] = {
                { "CLIPBOARD", g->atoms.clipboard, "MNGUARD_SEL_CLIPBOARD" },
                { "PRIMARY", XA_PRIMARY, "MNGUARD_SEL_PRIMARY" },
        };
        for (size_t i = 0; i < ELEMENTSOF(sels); i++) {
                Sel *s = &g->sel[i];
                *s = (Sel) { .guard = g, .name = sels[i].name, .atom = sels[i].atom,
                             .property = XInternAtom(dpy, sels[i].prop, False) };
                r = clip_reader_new(dpy, &g->atoms, g->window, s->atom, s->property, read_done, s, &s->reader);
                if (r < 0) {
                        clip_guard_free(g);
                        return r;
                }
                XFixesSelectSelectionInput(dpy, root, s->atom,
                                           XFixesSetSelectionOwnerNotifyMask | XFixesSelectionWindowDestroyNotifyMask |
                                                   XFixesSelectionClientCloseNotifyMask);
        }
        if ((r = x_ident_new(dpy, &g->ident)) < 0 || (r = clip_server_new(dpy, &g->atoms, &g->server)) < 0) {
                clip_guard_free(g);
                return r;
        }
        /* what is owned already when the guard starts */
        clip_guard_set_policy(g, policy);
        XFlush(dpy);
        *ret = g;
        return 0;
}

ClipGuard *clip_guard_free(ClipGuard *g) {
        if (!g)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(g->sel); i++) {
                clip_reader_free(g->sel[i].reader);
                clip_store_unref(g->sel[i].held);
        }
        clip_server_free(g->server);
        x_ident_free(g->ident);
        if (g->window)
                XDestroyWindow(g->dpy, g->window);
        free(g);
        return NULL;
}
