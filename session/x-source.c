/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "x-source.h"

typedef struct XSource {
        GSource source;
        Display *dpy;
        gpointer tag;
        XEventHandler handler;
        void *userdata;
} XSource;

static gboolean x_prepare(GSource *source, gint *timeout) {
        XSource *xs = (XSource *) source;
        XFlush(xs->dpy);
        *timeout = -1;
        return XEventsQueued(xs->dpy, QueuedAlready) > 0;
}

static gboolean x_check(GSource *source) {
        XSource *xs = (XSource *) source;
        if (XEventsQueued(xs->dpy, QueuedAlready) > 0)
                return TRUE;
        return (g_source_query_unix_fd(source, xs->tag) & (G_IO_IN | G_IO_HUP | G_IO_ERR)) != 0;
}

static gboolean x_dispatch(GSource *source, GSourceFunc callback, gpointer user_data) {
        XSource *xs = (XSource *) source;
        /* XPending reads what the socket has; a dead connection ends in Xlib's I/O error handler */
        while (XPending(xs->dpy) > 0) {
                XEvent ev;
                XNextEvent(xs->dpy, &ev);
                xs->handler(&ev, xs->userdata);
        }
        XFlush(xs->dpy);
        return G_SOURCE_CONTINUE;
}

static GSourceFuncs x_funcs = {
        .prepare = x_prepare,
        .check = x_check,
        .dispatch = x_dispatch,
};

guint x_source_add(Display *dpy, XEventHandler handler, void *userdata) {
        GSource *s = g_source_new(&x_funcs, sizeof(XSource));
        XSource *xs = (XSource *) s;
        xs->dpy = dpy;
        xs->handler = handler;
        xs->userdata = userdata;
        xs->tag = g_source_add_unix_fd(s, ConnectionNumber(dpy), G_IO_IN | G_IO_HUP | G_IO_ERR);
        g_source_set_name(s, "X11");
        guint id = g_source_attach(s, NULL);
        g_source_unref(s);
        return id;
}
