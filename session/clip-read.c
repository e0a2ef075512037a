/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "clip-read.h"

#include <X11/Xatom.h>
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"

typedef enum Phase {
        PHASE_IDLE,
        PHASE_TARGETS,
        PHASE_DATA,
        PHASE_INCR,
} Phase;

typedef struct Planned {
        Atom target;
        bool hold, scan;
} Planned;

struct ClipReader {
        Display *dpy;
        const ClipAtoms *atoms;
        Window window;
        Atom selection, property;
        ClipReadDone done;
        void *userdata;

        Phase phase;
        guint timer;
        ClipStore *store;
        bool hold, scan;
        Planned plan[CLIP_MAX_HELD + CLIP_MAX_SCANNED];
        size_t n_plan, i_plan;

        /* the target being read */
        Atom type;
        int format;
        unsigned char *buf;
        size_t len, cap;        /* bytes in memory */
        unsigned long nitems;
        bool over;              /* over the holding bound: not held */
        MnNumberScanner scanner;
        size_t scanned;
};

static void item_reset(ClipReader *r) {
        free(r->buf);
        r->buf = NULL;
        r->len = r->cap = 0;
        r->nitems = 0;
        r->over = false;
        r->type = None;
        r->format = 0;
        r->scanned = 0;
}

void clip_reader_abort(ClipReader *r) {
        if (r->timer) {
                g_source_remove(r->timer);
                r->timer = 0;
        }
        if (r->phase != PHASE_IDLE)
                XDeleteProperty(r->dpy, r->window, r->property);
        item_reset(r);
        r->store = clip_store_unref(r->store);
        r->phase = PHASE_IDLE;
        r->n_plan = r->i_plan = 0;
}

bool clip_reader_busy(const ClipReader *r) {
        return r->phase != PHASE_IDLE;
}

static gboolean on_timeout(gpointer userdata);

static void arm_timer(ClipReader *r) {
        if (r->timer)
                g_source_remove(r->timer);
        r->timer = g_timeout_add(CLIP_READ_STEP_MSEC, on_timeout, r);
}

static void finish(ClipReader *r) {
        ClipStore *s = TAKE_PTR(r->store);
        clip_reader_abort(r);
        r->done(s, r->userdata);
}

static void request_next(ClipReader *r) {
        item_reset(r);
        if (r->i_plan >= r->n_plan) {
                finish(r);
                return;
        }
        const Planned *p = &r->plan[r->i_plan];
        if (p->scan)
                mn_number_scanner_init(&r->scanner, MN_TEXT_UTF8);
        r->phase = PHASE_DATA;
        XConvertSelection(r->dpy, r->selection, p->target, r->property, r->window, CurrentTime);
        arm_timer(r);
}

/* The current target is complete: keep what is held, count what was scanned. */
static void item_done(ClipReader *r, bool ok) {
        const Planned *p = &r->plan[r->i_plan];
        ClipStore *s = r->store;
        if (!ok)
                s->incomplete = true;
        if (!ok && p->scan)
                s->unscanned = true;
        if (ok && p->scan) {
                uint64_t n = mn_number_scanner_finish(&r->scanner);
                if (n > s->numbers)
                        s->numbers = n;
                if (s->text_bytes == 0)
                        s->text_bytes = r->len > 0 ? r->len : r->scanned;
        }
        if (ok && p->hold && !r->over && s->n_held < CLIP_MAX_HELD) {
                s->held[s->n_held++] = (ClipTarget) { .target = p->target, .type = r->type, .format = r->format,
                                                      .nitems = r->nitems, .data = TAKE_PTR(r->buf), .bytes = r->len };
                s->held_bytes += r->len;
        } else if (ok && p->hold)
                s->incomplete = true;
        r->i_plan++;
        request_next(r);
}

static size_t unit_size(int format) {
        return format == 8 ? 1 : format == 16 ? sizeof(short) : sizeof(long);
}

/* Takes one piece of data (as Xlib hands it over). */
static void consume(ClipReader *r, const unsigned char *data, unsigned long nitems, int format, Atom type) {
        const Planned *p = &r->plan[r->i_plan];
        size_t bytes = nitems * unit_size(format);
        if (r->format == 0) {
                r->format = format;
                r->type = type;
                if (p->scan)
                        mn_number_scanner_init(&r->scanner, clip_atoms_encoding(r->atoms, type));
        }
        if (format != r->format) {
                r->over = true; /* inconsistent pieces: not served */
                return;
        }
        if (p->scan && format == 8 && r->scanned < CLIP_MAX_SCAN_BYTES) {
                size_t n = MIN(bytes, CLIP_MAX_SCAN_BYTES - r->scanned);
                mn_number_scanner_feed(&r->scanner, data, n);
                r->scanned += n;
                if (n < bytes) {
                        r->store->incomplete = true;
                        r->store->unscanned = true;
                }
        }
        if (!p->hold || r->over)
                return;
        if (r->store->held_bytes + r->len + bytes > CLIP_MAX_HELD_BYTES) {
                log_notice("Selection data over %u bytes: not held, refused to all.", CLIP_MAX_HELD_BYTES);
                r->over = true;
                free(r->buf);
                r->buf = NULL;
                r->len = r->cap = 0;
                return;
        }
        if (r->len + bytes > r->cap) {
                size_t cap = MAX(r->cap * 2, r->len + bytes);
                unsigned char *b = realloc(r->buf, cap);
                if (!b) {
                        r->over = true;
                        return;
                }
                r->buf = b;
                r->cap = cap;
        }
        memcpy(r->buf + r->len, data, bytes);
        r->len += bytes;
        r->nitems += nitems;
}

/* Reads the whole property in pieces and deletes it. Returns the server-side bytes read, or -EIO. */
static ssize_t read_property(ClipReader *r, Atom *ret_type) {
        long offset = 0;
        size_t total = 0;
        *ret_type = None;
        for (;;) {
                Atom type;
                int format;
                unsigned long nitems, after;
                unsigned char *data = NULL;
                if (XGetWindowProperty(r->dpy, r->window, r->property, offset, CLIP_READ_PIECE_LONGS, False,
                                       AnyPropertyType, &type, &format, &nitems, &after, &data) != Success)
                        return -EIO;
                if (type == None) {
                        if (data)
                                XFree(data);
                        break;
                }
                if (format != 8 && format != 16 && format != 32) {
                        if (data)
                                XFree(data);
                        return -EIO;
                }
                *ret_type = type;
                if (type != r->atoms->incr && nitems > 0)
                        consume(r, data, nitems, format, type);
                size_t server_bytes = nitems * (size_t) (format / 8);
                total += server_bytes;
                if (data)
                        XFree(data);
                if (after == 0 || server_bytes == 0 || type == r->atoms->incr)
                        break;
                offset += (long) (server_bytes / 4);
        }
        XDeleteProperty(r->dpy, r->window, r->property);
        return (ssize_t) total;
}

static void plan_add(ClipReader *r, Atom target, bool hold, bool scan) {
        for (size_t i = 0; i < r->n_plan; i++)
                if (r->plan[i].target == target)
                        return;
        if (r->n_plan < ELEMENTSOF(r->plan))
                r->plan[r->n_plan++] = (Planned) { target, hold, scan };
}

/* From what the owner offers: text targets first (best first), scanned; then, for a protected owner,
 * the other targets, held. */
static void make_plan(ClipReader *r) {
        ClipStore *s = r->store;
        size_t n_text = 0, n_held = 0;
        r->n_plan = r->i_plan = 0;
        for (int rank = 0; rank < 16; rank++)
                for (size_t i = 0; i < s->n_offered; i++) {
                        int k;
                        if (!clip_atoms_text(r->atoms, s->offered[i], &k) || k != rank)
                                continue;
                        bool scan = r->scan && n_text < CLIP_MAX_SCANNED;
                        bool hold = r->hold && n_held < CLIP_MAX_HELD;
                        if (scan || hold)
                                plan_add(r, s->offered[i], hold, scan);
                        n_text += scan;
                        n_held += hold;
                }
        if (!r->hold)
                return;
        for (size_t i = 0; i < s->n_offered && n_held < CLIP_MAX_HELD; i++) {
                int k;
                if (clip_atoms_special(r->atoms, s->offered[i]) || clip_atoms_text(r->atoms, s->offered[i], &k))
                        continue;
                plan_add(r, s->offered[i], true, false);
                n_held++;
        }
        for (size_t i = 0; i < s->n_offered; i++) {
                bool planned = clip_atoms_special(r->atoms, s->offered[i]);
                for (size_t j = 0; j < r->n_plan && !planned; j++)
                        planned = r->plan[j].target == s->offered[i] && r->plan[j].hold;
                if (!planned)
                        s->incomplete = true; /* more targets than the guard holds: those are refused */
        }
}

static void got_targets(ClipReader *r, const XSelectionEvent *ev) {
        ClipStore *s = r->store;
        Atom type;
        int format;
        unsigned long n = 0, after;
        unsigned char *data = NULL;

        s->n_offered = 0;
        if (ev->property != None &&
            XGetWindowProperty(r->dpy, r->window, r->property, 0, CLIP_MAX_OFFERED, True, XA_ATOM, &type, &format, &n,
                               &after, &data) == Success && type == XA_ATOM && format == 32 && data) {
                unsigned long *v = (unsigned long *) data;
                for (unsigned long i = 0; i < n && s->n_offered < CLIP_MAX_OFFERED; i++)
                        if (v[i] != None && !clip_store_offers(s, (Atom) v[i]))
                                s->offered[s->n_offered++] = (Atom) v[i];
                if (after > 0)
                        s->incomplete = true;
        }
        if (data)
                XFree(data);
        if (s->n_offered == 0) {
                /* an owner that does not answer TARGETS: ask for plain text anyway */
                s->offered[s->n_offered++] = r->atoms->utf8_string;
                s->offered[s->n_offered++] = XA_STRING;
        }
        make_plan(r);
        request_next(r);
}

static void got_data(ClipReader *r, const XSelectionEvent *ev) {
        if (ev->property == None) {
                r->plan[r->i_plan].hold = false; /* refused by the owner: nothing to hold */
                item_done(r, true);
                return;
        }
        Atom type;
        ssize_t k = read_property(r, &type);
        if (k < 0) {
                item_done(r, false);
                return;
        }
        if (type == r->atoms->incr) {
                /* the owner sends the data in pieces, each after we delete the last */
                r->phase = PHASE_INCR;
                arm_timer(r);
                return;
        }
        item_done(r, true);
}

static void got_incr_piece(ClipReader *r) {
        Atom type;
        ssize_t k = read_property(r, &type);
        if (k < 0) {
                item_done(r, false);
                return;
        }
        if (k == 0) {
                item_done(r, true); /* the zero-length piece ends it */
                return;
        }
        arm_timer(r);
}

static gboolean on_timeout(gpointer userdata) {
        ClipReader *r = userdata;
        r->timer = 0;
        log_notice("The selection owner did not answer in time; what was read is kept.");
        if (r->phase == PHASE_TARGETS) {
                r->store->incomplete = true;
                got_targets(r, &(XSelectionEvent) { .property = None });
        } else
                item_done(r, false);
        return G_SOURCE_REMOVE;
}

bool clip_reader_handle(ClipReader *r, const XEvent *ev) {
        if (r->phase == PHASE_IDLE)
                return false;
        if (ev->type == SelectionNotify) {
                const XSelectionEvent *se = &ev->xselection;
                if (se->requestor != r->window || se->selection != r->selection)
                        return false;
                if (r->phase == PHASE_TARGETS && se->target == r->atoms->targets)
                        got_targets(r, se);
                else if (r->phase == PHASE_DATA && se->target == r->plan[r->i_plan].target)
                        got_data(r, se);
                return true;
        }
        if (ev->type == PropertyNotify) {
                const XPropertyEvent *pe = &ev->xproperty;
                if (pe->window != r->window || pe->atom != r->property)
                        return false;
                if (r->phase == PHASE_INCR && pe->state == PropertyNewValue)
                        got_incr_piece(r);
                return true;
        }
        return false;
}

void clip_reader_start(ClipReader *r, const XAppInfo *owner, bool hold, bool scan) {
        clip_reader_abort(r);
        r->store = clip_store_new(r->selection, owner);
        if (!r->store) {
                log_oom();
                return;
        }
        r->hold = hold;
        r->scan = scan;
        r->phase = PHASE_TARGETS;
        XDeleteProperty(r->dpy, r->window, r->property);
        XConvertSelection(r->dpy, r->selection, r->atoms->targets, r->property, r->window, CurrentTime);
        arm_timer(r);
}

int clip_reader_new(Display *dpy, const ClipAtoms *atoms, Window window, Atom selection, Atom property,
                    ClipReadDone done, void *userdata, ClipReader **ret) {
        ClipReader *r = calloc(1, sizeof(ClipReader));
        if (!r)
                return -ENOMEM;
        *r = (ClipReader) { .dpy = dpy, .atoms = atoms, .window = window, .selection = selection,
                            .property = property, .done = done, .userdata = userdata };
        *ret = r;
        return 0;
}

ClipReader *clip_reader_free(ClipReader *r) {
        if (!r)
                return NULL;
        clip_reader_abort(r);
        free(r);
        return NULL;
}
