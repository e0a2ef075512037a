/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small X11 "application" for the clipboard tests and the benchmark: it has a window with the
 * WM_CLASS it is told, and can own a selection (serving a file's bytes as text, with INCR for large
 * data, as toolkits do), paste one (printing what it got), wait for a selection's owner to be a given
 * class, or time many pastes.
 *
 *   x-test-app own CLASS SELECTION FILE          prints "owned" once it owns SELECTION; serves until stdin closes
 *   x-test-app paste CLASS SELECTION [TARGET]    prints the data; exit 0, 1 refused, 2 timed out
 *   x-test-app wait-owner CLASS SELECTION MSEC   waits until SELECTION's owner window has WM_CLASS CLASS
 *   x-test-app bench CLASS SELECTION N           N pastes; prints "n p50_us p99_us max_us bytes"
 */
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xfixes.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PASTE_TIMEOUT_MSEC 5000
#define SINGLE_MAX (4u * 1024 * 1024)
#define INCR_CHUNK (256u * 1024)
#define MAX_DATA (256u * 1024 * 1024)
#define BENCH_MAX 100000

static Display *dpy;
static Window win;
static Atom a_targets, a_incr, a_utf8, a_text, a_text_plain, a_prop;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static int on_error(Display *d, XErrorEvent *e) {
        return 0;
}

static void setup(const char *cls) {
        dpy = XOpenDisplay(NULL);
        if (!dpy) {
                fprintf(stderr, "x-test-app: cannot open display\n");
                exit(3);
        }
        XSetErrorHandler(on_error);
        win = XCreateSimpleWindow(dpy, DefaultRootWindow(dpy), 0, 0, 10, 10, 0, 0, 0);
        XSelectInput(dpy, win, PropertyChangeMask);
        XClassHint hint = { .res_name = (char *) cls, .res_class = (char *) cls };
        XSetClassHint(dpy, win, &hint);
        XStoreName(dpy, win, cls);
        a_targets = XInternAtom(dpy, "TARGETS", False);
        a_incr = XInternAtom(dpy, "INCR", False);
        a_utf8 = XInternAtom(dpy, "UTF8_STRING", False);
        a_text = XInternAtom(dpy, "TEXT", False);
        a_text_plain = XInternAtom(dpy, "text/plain;charset=utf-8", False);
        a_prop = XInternAtom(dpy, "X_TEST_APP_DATA", False);
        XSync(dpy, False);
}

/* Waits for an event or a timeout (msec; <0 forever). Returns false on timeout. */
static bool wait_x(int msec, bool watch_stdin) {
        if (XPending(dpy) > 0)
                return true;
        struct pollfd p[2] = { { .fd = ConnectionNumber(dpy), .events = POLLIN }, { .fd = 0, .events = POLLIN } };
        int r = poll(p, watch_stdin ? 2 : 1, msec);
        if (r <= 0)
                return false;
        if (watch_stdin && (p[1].revents & (POLLIN | POLLHUP))) {
                char c;
                if (read(0, &c, 1) <= 0)
                        exit(0); /* the test closed stdin: the app quits */
        }
        return true;
}

/* ---- own ---- */

typedef struct Incr {
        Window requestor;
        Atom property, type;
        size_t offset;
        bool active;
} Incr;

static int cmd_own(const char *selname, const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f)
                return 3;
        char *data = malloc(MAX_DATA);
        size_t size = data ? fread(data, 1, MAX_DATA, f) : 0;
        fclose(f);
        Atom sel = XInternAtom(dpy, selname, False);
        Incr incr[16] = {};

        XSetSelectionOwner(dpy, sel, win, CurrentTime);
        if (XGetSelectionOwner(dpy, sel) != win)
                return 3;
        printf("owned\n");
        fflush(stdout);
        for (;;) {
                if (!wait_x(-1, true))
                        continue;
                while (XPending(dpy) > 0) {
                        XEvent ev;
                        XNextEvent(dpy, &ev);
                        if (ev.type == SelectionRequest) {
                                XSelectionRequestEvent *req = &ev.xselectionrequest;
                                XSelectionEvent n = { .type = SelectionNotify, .requestor = req->requestor,
                                                      .selection = req->selection, .target = req->target,
                                                      .property = req->property, .time = req->time };
                                if (req->target == a_targets) {
                                        long t[] = { (long) a_targets, (long) a_utf8, (long) XA_STRING, (long) a_text,
                                                     (long) a_text_plain };
                                        XChangeProperty(dpy, req->requestor, req->property, XA_ATOM, 32,
                                                        PropModeReplace, (unsigned char *) t, 5);
                                } else if (req->target == a_utf8 || req->target == XA_STRING ||
                                           req->target == a_text || req->target == a_text_plain) {
                                        Atom type = req->target == XA_STRING ? XA_STRING : a_utf8;
                                        if (size > SINGLE_MAX) {
                                                Incr *x = &incr[0];
                                                for (size_t i = 0; i < 16; i++)
                                                        if (!incr[i].active) {
                                                                x = &incr[i];
                                                                break;
                                                        }
                                                *x = (Incr) { req->requestor, req->property, type, 0, true };
                                                long sz = (long) size;
                                                XSelectInput(dpy, req->requestor, PropertyChangeMask);
                                                XChangeProperty(dpy, req->requestor, req->property, a_incr, 32,
                                                                PropModeReplace, (unsigned char *) &sz, 1);
                                        } else
                                                XChangeProperty(dpy, req->requestor, req->property, type, 8,
                                                                PropModeReplace, (unsigned char *) data, (int) size);
                                } else
                                        n.property = None;
                                XSendEvent(dpy, req->requestor, False, NoEventMask, (XEvent *) &n);
                                /* tell the test who was served what, once the server has it */
                                XSync(dpy, False);
                                XClassHint hint = {};
                                char *tname = XGetAtomName(dpy, req->target);
                                bool has = XGetClassHint(dpy, req->requestor, &hint) && hint.res_class;
                                printf("%s %s to %s\n", n.property != None ? "served" : "refused",
                                       tname ? tname : "?", has ? hint.res_class : "?");
                                fflush(stdout);
                                if (tname)
                                        XFree(tname);
                                if (hint.res_class)
                                        XFree(hint.res_class);
                                if (hint.res_name)
                                        XFree(hint.res_name);
                        } else if (ev.type == PropertyNotify && ev.xproperty.state == PropertyDelete) {
                                for (size_t i = 0; i < 16; i++) {
                                        Incr *x = &incr[i];
                                        if (!x->active || x->requestor != ev.xproperty.window ||
                                            x->property != ev.xproperty.atom)
                                                continue;
                                        size_t k = size - x->offset < INCR_CHUNK ? size - x->offset : INCR_CHUNK;
                                        XChangeProperty(dpy, x->requestor, x->property, x->type, 8, PropModeReplace,
                                                        (unsigned char *) data + x->offset, (int) k);
                                        x->offset += k;
                                        if (k == 0)
                                                x->active = false;
                                }
                        }
                }
                XFlush(dpy);
        }
}

/* ---- paste ---- */

static bool next_event_until(XEvent *ev, uint64_t deadline) {
        for (;;) {
                if (XPending(dpy) > 0) {
                        XNextEvent(dpy, ev);
                        return true;
                }
                uint64_t now = now_usec();
                if (now >= deadline)
                        return false;
                (void) wait_x((int) ((deadline - now) / 1000 + 1), false);
        }
}

/* Pastes once; the data goes to *ret (malloc'ed). 0 ok, 1 refused, 2 timed out. */
static int paste(Atom sel, Atom target, char **ret, size_t *ret_size) {
        uint64_t deadline = now_usec() + PASTE_TIMEOUT_MSEC * 1000u;
        XEvent ev;
        *ret = NULL;
        *ret_size = 0;
        XDeleteProperty(dpy, win, a_prop);
        XConvertSelection(dpy, sel, target, a_prop, win, CurrentTime);
        XFlush(dpy);
        for (;;) {
                if (!next_event_until(&ev, deadline))
                        return 2;
                if (ev.type == SelectionNotify && ev.xselection.selection == sel)
                        break;
        }
        if (ev.xselection.property == None)
                return 1;
        char *buf = NULL;
        size_t len = 0;
        bool incr = false;
        for (;;) {
                Atom type;
                int format;
                unsigned long n, after;
                unsigned char *d = NULL;
                if (XGetWindowProperty(dpy, win, a_prop, 0, MAX_DATA / 4, True, AnyPropertyType, &type, &format, &n,
                                       &after, &d) != Success)
                        return 3;
                if (type == a_incr) {
                        incr = true;
                        XFree(d);
                } else if (d) {
                        size_t bytes = n * (size_t) (format / 8);
                        char *b = realloc(buf, len + bytes + 1);
                        if (!b)
                                return 3;
                        buf = b;
                        memcpy(buf + len, d, bytes);
                        len += bytes;
                        XFree(d);
                        if (!incr || bytes == 0)
                                break;
                } else if (!incr)
                        break;
                /* INCR: wait for the next piece */
                for (;;) {
                        if (!next_event_until(&ev, deadline + 30000000u))
                                return 2;
                        if (ev.type == PropertyNotify && ev.xproperty.atom == a_prop &&
                            ev.xproperty.state == PropertyNewValue)
                                break;
                }
        }
        *ret = buf;
        *ret_size = len;
        return 0;
}

static int cmd_paste(const char *selname, const char *target) {
        char *data;
        size_t size;
        int r = paste(XInternAtom(dpy, selname, False), XInternAtom(dpy, target ? target : "UTF8_STRING", False), &data,
                      &size);
        if (r == 0 && size > 0)
                fwrite(data, 1, size, stdout);
        free(data);
        return r;
}

/* ---- wait-owner ---- */

static bool owner_is(Atom sel, const char *cls) {
        Window w = XGetSelectionOwner(dpy, sel);
        XClassHint hint = {};
        bool r = w != None && XGetClassHint(dpy, w, &hint) && hint.res_class && strcmp(hint.res_class, cls) == 0;
        if (hint.res_class)
                XFree(hint.res_class);
        if (hint.res_name)
                XFree(hint.res_name);
        return r;
}

static int cmd_wait_owner(const char *cls, const char *selname, int msec) {
        Atom sel = XInternAtom(dpy, selname, False);
        int ev_base, err_base;
        if (!XFixesQueryExtension(dpy, &ev_base, &err_base))
                return 3;
        XFixesSelectSelectionInput(dpy, DefaultRootWindow(dpy), sel, XFixesSetSelectionOwnerNotifyMask);
        uint64_t deadline = now_usec() + (uint64_t) msec * 1000u;
        for (;;) {
                if (owner_is(sel, cls))
                        return 0;
                XEvent ev;
                if (!next_event_until(&ev, deadline))
                        return 2;
        }
}

/* ---- bench ---- */

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int cmd_bench(const char *selname, int n) {
        Atom sel = XInternAtom(dpy, selname, False);
        if (n <= 0 || n > BENCH_MAX)
                return 3;
        uint64_t *lat = calloc((size_t) n, sizeof(uint64_t));
        size_t bytes = 0;
        if (!lat)
                return 3;
        for (int i = 0; i < n; i++) {
                char *data;
                size_t size;
                uint64_t t0 = now_usec();
                int r = paste(sel, a_utf8, &data, &size);
                lat[i] = now_usec() - t0;
                free(data);
                if (r != 0)
                        return r;
                bytes = size;
        }
        qsort(lat, (size_t) n, sizeof(uint64_t), cmp_u64);
        printf("%d %llu %llu %llu %zu\n", n, (unsigned long long) lat[n / 2],
               (unsigned long long) lat[(size_t) ((n - 1) * 99 / 100)], (unsigned long long) lat[n - 1], bytes);
        free(lat);
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc < 4) {
                fprintf(stderr, "usage: x-test-app own|paste|wait-owner|bench CLASS SELECTION ...\n");
                return 3;
        }
        setup(argv[2]);
        if (strcmp(argv[1], "own") == 0 && argc == 5)
                return cmd_own(argv[3], argv[4]);
        if (strcmp(argv[1], "paste") == 0)
                return cmd_paste(argv[3], argc > 4 ? argv[4] : NULL);
        if (strcmp(argv[1], "wait-owner") == 0 && argc == 5)
                return cmd_wait_owner(argv[2], argv[3], (int) strtol(argv[4], NULL, 10));
        if (strcmp(argv[1], "bench") == 0 && argc == 5)
                return cmd_bench(argv[3], (int) strtol(argv[4], NULL, 10));
        fprintf(stderr, "x-test-app: bad arguments\n");
        return 3;
}
