/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* An Xlib connection as a GLib main loop source (as GDK does it): flushes the output before the loop
 * sleeps, dispatches every event already read into Xlib's queue — round trips read events into the
 * queue without the socket showing readable — and wakes on the connection's fd. */

#include <X11/Xlib.h>
#include <glib.h>

typedef void (*XEventHandler)(XEvent *ev, void *userdata);

/* Attaches to the default main context; returns the source id. */
guint x_source_add(Display *dpy, XEventHandler handler, void *userdata);
