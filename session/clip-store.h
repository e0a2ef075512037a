/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the guard holds of a selection it took over: the owner's identity, the targets it offered and
 * the data of those it read, within bounds. Reference-counted: an incremental transfer to a requestor
 * keeps its store alive after the selection has moved on. */

#include <X11/Xlib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "x-ident.h"

#define CLIP_MAX_OFFERED 64                      /* targets of one owner answered for TARGETS */
#define CLIP_MAX_HELD 16                         /* targets whose data is read from a protected owner */
#define CLIP_MAX_SCANNED 4                       /* text targets read from any owner for the number check */
#define CLIP_MAX_HELD_BYTES (64u * 1024 * 1024)  /* data held for one selection */
#define CLIP_MAX_SCAN_BYTES (256u * 1024 * 1024) /* text scanned from one owner, streamed, not held */

typedef struct ClipTarget {
        Atom target;
        Atom type;
        int format;             /* 8, 16 or 32 */
        unsigned long nitems;
        unsigned char *data;    /* malloc()ed; as Xlib hands data over: format 32 items are longs */
        size_t bytes;           /* of data in memory */
} ClipTarget;

typedef struct ClipStore {
        unsigned ref;
        Atom selection;
        Time time;              /* when the guard became the owner */
        XAppInfo owner;
        Atom offered[CLIP_MAX_OFFERED];
        size_t n_offered;
        ClipTarget held[CLIP_MAX_HELD];
        size_t n_held;
        size_t held_bytes;
        size_t text_bytes;      /* size of the text, for reports */
        uint64_t numbers;       /* valid individual numbers in the text (the most of any text target) */
        bool incomplete;        /* something was over a bound, timed out or refused: not all is held */
        bool unscanned;         /* a text target could not be scanned whole (timeout, over the bound):
                                 * it is treated as holding an individual number (fail closed) */
} ClipStore;

/* What the decisions go by: the numbers found, or one when the text could not be scanned whole. */
static inline uint64_t clip_store_numbers_for_decision(const ClipStore *s) {
        return s->numbers > 0 ? s->numbers : s->unscanned ? 1 : 0;
}

ClipStore *clip_store_new(Atom selection, const XAppInfo *owner);
ClipStore *clip_store_ref(ClipStore *s);
ClipStore *clip_store_unref(ClipStore *s);
static inline void clip_store_unrefp(ClipStore **s) {
        clip_store_unref(*s);
}

bool clip_store_offers(const ClipStore *s, Atom target);
const ClipTarget *clip_store_find(const ClipStore *s, Atom target);
