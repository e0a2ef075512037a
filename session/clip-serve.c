/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "clip-serve.h"

#include <X11/Xatom.h>
#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"

typedef struct Transfer {
        ClipServer *server;
        bool active;
        Window requestor;
        Atom property;
        ClipStore *store;
        const ClipTarget *target;
        size_t offset;
        bool end_sent;
        guint timer;
} Transfer;

struct ClipServer {
        Display *dpy;
        const ClipAtoms *atoms;
        size_t single_max, chunk;
        Transfer transfers[CLIP_MAX_TRANSFERS];
};

int clip_server_new(Display *dpy, const ClipAtoms *atoms, ClipServer **ret) {
        ClipServer *s = calloc(1, sizeof(ClipServer));
        if (!s)
                return -ENOMEM;
        s->dpy = dpy;
        s->atoms = atoms;
        long max = XExtendedMaxRequestSize(dpy);
        if (max <= 0)
                max = XMaxRequestSize(dpy);
        size_t max_bytes = (size_t) max * 4 - 256; /* room for the request header */
        s->single_max = MIN(CLIP_SINGLE_MAX, max_bytes);
        s->chunk = MIN(CLIP_INCR_CHUNK, max_bytes);
        for (size_t i = 0; i < CLIP_MAX_TRANSFERS; i++)
                s->transfers[i].server = s;
        *ret = s;
        return 0;
}

static bool requestor_busy(ClipServer *s, Window w) {
        for (size_t i = 0; i < CLIP_MAX_TRANSFERS; i++)
                if (s->transfers[i].active && s->transfers[i].requestor == w)
                        return true;
        return false;
}

static void transfer_end(Transfer *t) {
        ClipServer *s = t->server;
        if (!t->active)
                return;
        if (t->timer)
                g_source_remove(t->timer);
        t->active = false;
        t->timer = 0;
        t->store = clip_store_unref(t->store);
        if (!requestor_busy(s, t->requestor))
                XSelectInput(s->dpy, t->requestor, NoEventMask);
}

ClipServer *clip_server_free(ClipServer *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < CLIP_MAX_TRANSFERS; i++)
                transfer_end(&s->transfers[i]);
        free(s);
        return NULL;
}

static gboolean on_transfer_timeout(gpointer userdata) {
        Transfer *t = userdata;
        t->timer = 0;
        log_notice("A requestor stopped taking an incremental transfer; dropped.");
        transfer_end(t);
        return G_SOURCE_REMOVE;
}

static void transfer_arm(Transfer *t) {
        if (t->timer)
                g_source_remove(t->timer);
        t->timer = g_timeout_add(CLIP_TRANSFER_MSEC, on_transfer_timeout, t);
}

static bool transfer_start(ClipServer *s, ClipStore *store, const ClipTarget *target, Window requestor, Atom property) {
        Transfer *t = NULL;
        for (size_t i = 0; i < CLIP_MAX_TRANSFERS; i++) {
                Transfer *x = &s->transfers[i];
                if (x->active && x->requestor == requestor && x->property == property) {
                        transfer_end(x); /* asked again: start over */
                        t = x;
                        break;
                }
                if (!x->active && !t)
                        t = x;
        }
        if (!t) {
                log_notice("Too many incremental transfers at once (%d); refusing one.", CLIP_MAX_TRANSFERS);
                return false;
        }
        *t = (Transfer) { .server = s, .active = true, .requestor = requestor, .property = property,
                          .store = clip_store_ref(store), .target = target };
        long size = (long) MIN(target->bytes, (size_t) LONG_MAX);
        XSelectInput(s->dpy, requestor, PropertyChangeMask);
        XChangeProperty(s->dpy, requestor, property, s->atoms->incr, 32, PropModeReplace, (unsigned char *) &size, 1);
        transfer_arm(t);
        return true;
}

static void transfer_next(Transfer *t) {
        ClipServer *s = t->server;
        size_t n = MIN(s->chunk, t->target->bytes - t->offset);
        XChangeProperty(s->dpy, t->requestor, t->property, t->target->type, 8, PropModeReplace,
                        t->target->data + t->offset, (int) n);
        t->offset += n;
        if (n == 0) {
                transfer_end(t); /* the zero-length piece was the last */
                return;
        }
        transfer_arm(t);
}

bool clip_server_handle(ClipServer *s, const XEvent *ev) {
        if (ev->type != PropertyNotify)
                return false;
        const XPropertyEvent *pe = &ev->xproperty;
        for (size_t i = 0; i < CLIP_MAX_TRANSFERS; i++) {
                Transfer *t = &s->transfers[i];
                if (!t->active || t->requestor != pe->window || t->property != pe->atom)
                        continue;
                if (pe->state == PropertyDelete)
                        transfer_next(t);
                return true;
        }
        return false;
}

/* Writes one conversion into the requestor's property. */
static bool put(ClipServer *s, ClipStore *store, Window requestor, Atom target, Atom property, bool allowed) {
        const ClipAtoms *a = s->atoms;
        if (target == a->targets) {
                long v[CLIP_MAX_OFFERED + 3];
                size_t n = 0;
                v[n++] = (long) a->targets;
                v[n++] = (long) a->timestamp;
                v[n++] = (long) a->multiple;
                for (size_t i = 0; i < store->n_offered; i++)
                        if (!clip_atoms_special(a, store->offered[i]))
                                v[n++] = (long) store->offered[i];
                XChangeProperty(s->dpy, requestor, property, XA_ATOM, 32, PropModeReplace, (unsigned char *) v, (int) n);
                return true;
        }
        if (target == a->timestamp) {
                long t = (long) store->time;
                XChangeProperty(s->dpy, requestor, property, XA_INTEGER, 32, PropModeReplace, (unsigned char *) &t, 1);
                return true;
        }
        const ClipTarget *t = clip_store_find(store, target);
        if (!allowed || !t)
                return false;
        if (t->format == 8 && t->bytes > s->single_max)
                return transfer_start(s, store, t, requestor, property);
        XChangeProperty(s->dpy, requestor, property, t->type, t->format, PropModeReplace, t->data, (int) t->nitems);
        return true;
}

static void reply(ClipServer *s, const XSelectionRequestEvent *req, Atom property) {
        XSelectionEvent ev = {
                .type = SelectionNotify,
                .display = s->dpy,
                .requestor = req->requestor,
                .selection = req->selection,
                .target = req->target,
                .property = property,
                .time = req->time,
        };
        XSendEvent(s->dpy, req->requestor, False, NoEventMask, (XEvent *) &ev);
}

static bool is_data(const ClipAtoms *a, const ClipStore *store, Atom target) {
        return !clip_atoms_special(a, target) && clip_store_offers(store, target);
}

static void multiple(ClipServer *s, ClipStore *store, const XSelectionRequestEvent *req, Atom property, ClipAllow allow,
                     void *userdata) {
        Atom type;
        int format;
        unsigned long n = 0, after;
        unsigned char *data = NULL;
        if (XGetWindowProperty(s->dpy, req->requestor, property, 0, 2 * CLIP_MAX_MULTIPLE, False, AnyPropertyType,
                               &type, &format, &n, &after, &data) != Success || format != 32 || n % 2 != 0 ||
            after > 0 || !data) {
                if (data)
                        XFree(data);
                reply(s, req, None);
                return;
        }
        unsigned long *pairs = (unsigned long *) data;
        /* one decision for the request, asked on its first conversion of data */
        int verdict = -1;
        for (unsigned long i = 0; i + 1 < n; i += 2) {
                Atom target = (Atom) pairs[i], prop = (Atom) pairs[i + 1];
                if (target == s->atoms->multiple || prop == None) {
                        pairs[i] = None;
                        continue;
                }
                if (verdict < 0 && is_data(s->atoms, store, target))
                        verdict = allow(store, req->requestor, target, userdata);
                if (!put(s, store, req->requestor, target, prop, verdict > 0))
                        pairs[i] = None;
        }
        XChangeProperty(s->dpy, req->requestor, property, type, 32, PropModeReplace, data, (int) n);
        XFree(data);
        reply(s, req, property);
}

void clip_server_request(ClipServer *s, ClipStore *store, const XSelectionRequestEvent *req, ClipAllow allow,
                         void *userdata) {
        /* obsolete requestors leave the property None: ICCCM says use the target's name */
        Atom property = req->property != None ? req->property : req->target;
        if (!store || req->requestor == None) {
                reply(s, req, None);
                return;
        }
        if (req->target == s->atoms->multiple) {
                if (req->property == None)
                        reply(s, req, None);
                else
                        multiple(s, store, req, property, allow, userdata);
                return;
        }
        bool allowed = false;
        if (is_data(s->atoms, store, req->target))
                allowed = allow(store, req->requestor, req->target, userdata);
        reply(s, req, put(s, store, req->requestor, req->target, property, allowed) ? property : None);
}
