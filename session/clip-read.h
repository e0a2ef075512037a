/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Reads a selection from its owner, as a state machine on the event loop (an owner that is slow or
 * never answers stalls nothing): TARGETS, then the data of each target the guard needs — all of a
 * protected owner's (held), the text of any owner (scanned for individual numbers as it streams, held
 * only when the owner is protected). INCR transfers are followed. Every size is bounded; each step
 * has a deadline. The result is a ClipStore. */

#include <X11/Xlib.h>
#include <stdbool.h>

#include "clip-atoms.h"
#include "clip-store.h"

#define CLIP_READ_STEP_MSEC 2000          /* the owner must answer each step within this */
#define CLIP_READ_PIECE_LONGS (256 * 1024) /* 32-bit units fetched per GetProperty (1 MiB) */

typedef struct ClipReader ClipReader;

/* store: a new reference for the callee, never NULL; store->incomplete tells whether all was read. */
typedef void (*ClipReadDone)(ClipStore *store, void *userdata);

int clip_reader_new(Display *dpy, const ClipAtoms *atoms, Window window, Atom selection, Atom property,
                    ClipReadDone done, void *userdata, ClipReader **ret);
ClipReader *clip_reader_free(ClipReader *r);

/* Starts reading from the current owner (aborting a read in progress). hold: keep the data. */
void clip_reader_start(ClipReader *r, const XAppInfo *owner, bool hold, bool scan);
void clip_reader_abort(ClipReader *r);
bool clip_reader_busy(const ClipReader *r);

/* Takes the SelectionNotify and PropertyNotify events that belong to this reader; true if it did. */
bool clip_reader_handle(ClipReader *r, const XEvent *ev);
