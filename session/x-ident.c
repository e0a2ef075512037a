/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "x-ident.h"

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <X11/extensions/XRes.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "strutil.h"

#define COMM_MAX 64

typedef struct CacheEntry {
        uint32_t client;
        pid_t pid;
        gint64 stamp;
        char class_name[SESSION_POLICY_APP_MAX + 1];
} CacheEntry;

struct XIdent {
        Display *dpy;
        Window root;
        uint32_t client_mask;   /* bits of an XID that name the resource within its client */
        bool have_xres;
        Atom net_client_list, wm_client_leader;
        CacheEntry cache[X_IDENT_CACHE_MAX];
};

int x_ident_new(Display *dpy, XIdent **ret) {
        XIdent *xi = calloc(1, sizeof(XIdent));
        if (!xi)
                return -ENOMEM;
        xi->dpy = dpy;
        xi->root = DefaultRootWindow(dpy);
        xi->net_client_list = XInternAtom(dpy, "_NET_CLIENT_LIST", False);
        xi->wm_client_leader = XInternAtom(dpy, "WM_CLIENT_LEADER", False);
        int ev_base, err_base, major = 0, minor = 0;
        xi->have_xres = XResQueryExtension(dpy, &ev_base, &err_base) && XResQueryVersion(dpy, &major, &minor) &&
                        (major > 1 || (major == 1 && minor >= 2));
        /* the resource mask is the same for every client of a server: take it from any client */
        xi->client_mask = 0x001fffff;
        int n = 0;
        XResClient *clients = NULL;
        if (xi->have_xres && XResQueryClients(dpy, &n, &clients) && n > 0 && clients[0].resource_mask != 0)
                xi->client_mask = (uint32_t) clients[0].resource_mask;
        if (clients)
                XFree(clients);
        *ret = xi;
        return 0;
}

XIdent *x_ident_free(XIdent *xi) {
        free(xi);
        return NULL;
}

static uint32_t client_of(const XIdent *xi, Window w) {
        return (uint32_t) w & ~xi->client_mask;
}

static pid_t query_pid(XIdent *xi, Window w) {
        if (!xi->have_xres)
                return 0;
        XResClientIdSpec spec = { .client = w, .mask = XRES_CLIENT_ID_PID_MASK };
        long n = 0;
        XResClientIdValue *ids = NULL;
        pid_t pid = 0;
        if (XResQueryClientIds(xi->dpy, 1, &spec, &n, &ids) == Success) {
                for (long i = 0; i < n; i++)
                        if (ids[i].spec.mask == XRES_CLIENT_ID_PID_MASK) {
                                pid_t p = XResGetClientPid(&ids[i]);
                                if (p > 0)
                                        pid = p;
                        }
                XResClientIdsDestroy(n, ids);
        }
        return pid;
}

/* The window's WM_CLASS class into buf (sanitized, bounded). */
static bool window_class(XIdent *xi, Window w, char buf[static SESSION_POLICY_APP_MAX + 1]) {
        XClassHint hint = {};
        if (w == None || !XGetClassHint(xi->dpy, w, &hint))
                return false;
        bool ok = false;
        if (hint.res_class && hint.res_class[0]) {
                _cleanup_free_ char *s = untrusted_sanitize(hint.res_class, strnlen(hint.res_class, 4096),
                                                            SESSION_POLICY_APP_MAX - 4);
                if (s && strlen(s) <= SESSION_POLICY_APP_MAX) {
                        memcpy(buf, s, strlen(s) + 1);
                        ok = true;
                }
        }
        if (hint.res_class)
                XFree(hint.res_class);
        if (hint.res_name)
                XFree(hint.res_name);
        return ok;
}

static Window window_prop_window(XIdent *xi, Window w, Atom prop) {
        Atom type;
        int format;
        unsigned long n = 0, after;
        unsigned char *data = NULL;
        Window r = None;
        if (XGetWindowProperty(xi->dpy, w, prop, 0, 1, False, XA_WINDOW, &type, &format, &n, &after, &data) == Success &&
            type == XA_WINDOW && format == 32 && n == 1 && data)
                r = (Window) ((unsigned long *) data)[0];
        if (data)
                XFree(data);
        return r;
}

/* Looks through a list of windows for one of the same client that carries WM_CLASS. */
static bool class_among(XIdent *xi, uint32_t client, const Window *v, unsigned long n, char buf[static SESSION_POLICY_APP_MAX + 1]) {
        for (unsigned long i = 0; i < n && i < X_IDENT_MAX_WINDOWS; i++)
                if (client_of(xi, v[i]) == client && window_class(xi, v[i], buf))
                        return true;
        return false;
}

static bool find_class(XIdent *xi, Window w, uint32_t client, char buf[static SESSION_POLICY_APP_MAX + 1]) {
        if (window_class(xi, w, buf))
                return true;
        Window leader = window_prop_window(xi, w, xi->wm_client_leader);
        if (leader != None && client_of(xi, leader) == client && window_class(xi, leader, buf))
                return true;

        Atom type;
        int format;
        unsigned long n = 0, after;
        unsigned char *data = NULL;
        bool found = false;
        if (XGetWindowProperty(xi->dpy, xi->root, xi->net_client_list, 0, X_IDENT_MAX_WINDOWS, False, XA_WINDOW, &type,
                               &format, &n, &after, &data) == Success && type == XA_WINDOW && format == 32 && data) {
                /* Xlib hands format-32 data over as longs */
                unsigned long *l = (unsigned long *) data;
                for (unsigned long i = 0; i < n && !found; i++)
                        found = client_of(xi, (Window) l[i]) == client && window_class(xi, (Window) l[i], buf);
        }
        if (data)
                XFree(data);
        if (found)
                return true;

        Window root_ret, parent, *children = NULL;
        unsigned int nc = 0;
        if (XQueryTree(xi->dpy, xi->root, &root_ret, &parent, &children, &nc) && children) {
                found = class_among(xi, client, children, nc, buf);
                XFree(children);
        }
        return found;
}

static void comm_of(pid_t pid, char *buf, size_t size) {
        char path[64], raw[COMM_MAX + 1];
        buf[0] = 0;
        (void) snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return;
        ssize_t k = read(fd, raw, COMM_MAX);
        close(fd);
        if (k <= 0)
                return;
        while (k > 0 && (raw[k - 1] == '\n' || raw[k - 1] == 0))
                k--;
        _cleanup_free_ char *s = untrusted_sanitize(raw, (size_t) k, COMM_MAX);
        if (s)
                (void) snprintf(buf, size, "%s", s);
}

static CacheEntry *cache_find(XIdent *xi, uint32_t client, pid_t pid, gint64 now) {
        for (size_t i = 0; i < X_IDENT_CACHE_MAX; i++) {
                CacheEntry *e = &xi->cache[i];
                if (e->stamp != 0 && e->client == client && e->pid == pid && now - e->stamp < X_IDENT_CACHE_USEC)
                        return e;
        }
        return NULL;
}

static void cache_put(XIdent *xi, uint32_t client, pid_t pid, const char *class_name, gint64 now) {
        CacheEntry *victim = &xi->cache[0];
        for (size_t i = 0; i < X_IDENT_CACHE_MAX; i++) {
                CacheEntry *e = &xi->cache[i];
                if (e->stamp == 0 || (e->client == client && e->pid == pid)) {
                        victim = e;
                        break;
                }
                if (e->stamp < victim->stamp)
                        victim = e;
        }
        victim->client = client;
        victim->pid = pid;
        victim->stamp = now;
        memcpy(victim->class_name, class_name, strlen(class_name) + 1);
}

void x_ident_lookup(XIdent *xi, Window w, XAppInfo *ret) {
        XAppInfo a = { .client = client_of(xi, w) };
        gint64 now = g_get_monotonic_time();

        a.pid = query_pid(xi, w);
        CacheEntry *e = cache_find(xi, a.client, a.pid, now);
        if (e)
                memcpy(a.class_name, e->class_name, sizeof(a.class_name));
        else if (find_class(xi, w, a.client, a.class_name))
                cache_put(xi, a.client, a.pid, a.class_name, now);

        char comm[COMM_MAX + 1] = "";
        if (!a.class_name[0] && a.pid > 0)
                comm_of(a.pid, comm, sizeof(comm));
        if (a.class_name[0])
                (void) snprintf(a.label, sizeof(a.label), "%s", a.class_name);
        else if (comm[0])
                (void) snprintf(a.label, sizeof(a.label), "%s (pid %d)", comm, (int) a.pid);
        else if (a.pid > 0)
                (void) snprintf(a.label, sizeof(a.label), "pid %d", (int) a.pid);
        else
                (void) snprintf(a.label, sizeof(a.label), "X client 0x%" PRIx32, a.client);
        *ret = a;
}
