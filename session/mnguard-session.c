/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguard-session: the per-user desktop helper (docs/session.md). Parses arguments and wires the
 * modules together on one GLib main loop: the daemon link (events, policy, reports), the notifier,
 * and the X11 clipboard guard. */
#include <X11/Xlib.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <glib-unix.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clip-guard.h"
#include "daemon-link.h"
#include "i18n.h"
#include "log.h"
#include "macro.h"
#include "notices.h"
#include "notifier.h"
#include "session-policy.h"
#include "x-source.h"

#define DEFAULT_RUNTIME_DIR "/run/mnguard"

typedef struct Session {
        GMainLoop *loop;
        DaemonLink *link;
        Notifier *notifier;
        SessionPolicy *policy;
        Display *dpy;
        ClipGuard *guard;
        guint x_source;
} Session;

/* ---- from the daemon ---- */

static void on_connected(bool up, void *userdata) {
        if (!up)
                log_notice("Disconnected from the daemon; the clipboard guard keeps the last policy.");
}

static void on_event(json_object *record, void *userdata) {
        Session *s = userdata;
        json_object *ev, *action;
        if (json_object_object_get_ex(record, "event", &ev) && json_object_object_get_ex(ev, "action", &action) &&
            json_object_is_type(action, json_type_string) && streq(json_object_get_string(action), "policy-applied"))
                daemon_link_refresh_policy(s->link);

        Notice *n = NULL;
        int r = notice_from_event(record, getuid(), getpid(), &n);
        if (r < 0)
                log_warning_errno(r, "Cannot word a notice for an event, ignoring: %m");
        else if (n && s->notifier)
                notifier_post(s->notifier, n);
        else
                notice_free(n);
}

static void on_policy(json_object *reply, void *userdata) {
        Session *s = userdata;
        SessionPolicy *p = NULL;
        int r = session_policy_from_json(reply, &p);
        if (r < 0) {
                log_warning_errno(r, "The daemon's session policy is malformed, keeping the last one: %m");
                return;
        }
        log_info("Policy %" PRIu64 " (%s): %zu protected, %zu allowed applications%s.", p->serial,
                 p->name ?: "unnamed", p->n_protected_apps, p->n_allowed_apps, p->audit ? ", audit mode" : "");
        SessionPolicy *old = s->policy;
        s->policy = p;
        if (s->notifier)
                notifier_set_contact(s->notifier, p->contact);
        if (s->guard)
                clip_guard_set_policy(s->guard, p);
        session_policy_free(old);
}

/* ---- from the clipboard guard ---- */

static void on_refused(const ClipRefusal *r, void *userdata) {
        Session *s = userdata;
        json_object *q = json_object_new_object();
        json_object_object_add(q, "verb", json_object_new_string("clipboard-blocked"));
        json_object_object_add(q, "source_app", json_object_new_string(r->source_app));
        json_object_object_add(q, "target_app", json_object_new_string(r->target_app));
        json_object_object_add(q, "selection", json_object_new_string(r->selection));
        json_object_object_add(q, "bytes", json_object_new_uint64(r->bytes));
        json_object_object_add(q, "individual_numbers", json_object_new_uint64(r->numbers));
        json_object_object_add(q, "reason", json_object_new_string(r->reason));
        if (!r->enforced)
                json_object_object_add(q, "audit", json_object_new_boolean(true));
        daemon_link_report(s->link, q);

        Notice *n = NULL;
        if (r->enforced && s->notifier && notice_new_clipboard(r->source_app, r->target_app, r->numbers, &n) >= 0)
                notifier_post(s->notifier, n);
}

/* ---- X ---- */

static int on_x_error(Display *dpy, XErrorEvent *e) {
        /* windows of other clients vanish at any time: their errors are expected */
        log_debug("X error %u (request %u.%u) on 0x%lx, ignoring.", e->error_code, e->request_code, e->minor_code,
                  e->resourceid);
        return 0;
}

static int on_x_io_error(Display *dpy) {
        log_notice("The X server went away; the session is over.");
        exit(EXIT_SUCCESS);
}

static void on_x_event(XEvent *ev, void *userdata) {
        Session *s = userdata;
        if (s->guard)
                clip_guard_handle_event(s->guard, ev);
}

static bool wayland_session(void) {
        const char *type = getenv("XDG_SESSION_TYPE");
        return !isempty(getenv("WAYLAND_DISPLAY")) || (type && streq(type, "wayland"));
}

/* Tells the daemon the clipboard is not (or only partly) guarded in this session: it is journaled. */
static void report_unguarded(Session *s, const char *why) {
        json_object *q = json_object_new_object();
        json_object_object_add(q, "verb", json_object_new_string("clipboard-unguarded"));
        json_object_object_add(q, "reason", json_object_new_string(why));
        daemon_link_report(s->link, q);
}

static void start_clipboard_guard(Session *s) {
        if (wayland_session()) {
                /* X11 applications (XWayland) are still guarded below; Wayland's own are not */
                log_warning("Wayland session: the compositor offers no clipboard control to mnguard; "
                            "native Wayland applications' copy and paste are not guarded.");
                report_unguarded(s, "wayland: the compositor offers no clipboard control; native Wayland "
                                    "applications are not guarded (X11 applications through XWayland are)");
                Notice *n = NULL;
                if (s->notifier && notice_new_unguarded(&n) >= 0)
                        notifier_post(s->notifier, n);
        }
        if (isempty(getenv("DISPLAY"))) {
                log_warning("No X display: the clipboard is not guarded.");
                report_unguarded(s, "no X display");
                return;
        }
        XSetErrorHandler(on_x_error);
        XSetIOErrorHandler(on_x_io_error);
        s->dpy = XOpenDisplay(NULL);
        if (!s->dpy) {
                log_warning("Cannot open the X display %s: the clipboard is not guarded.", getenv("DISPLAY"));
                return;
        }
        if (clip_guard_new(s->dpy, s->policy, on_refused, s, &s->guard) < 0)
                return;
        s->x_source = x_source_add(s->dpy, on_x_event, s);
        log_info("Guarding the clipboard on %s.", getenv("DISPLAY"));
}

/* ---- main ---- */

static gboolean on_signal(gpointer userdata) {
        g_main_loop_quit(userdata);
        return G_SOURCE_CONTINUE;
}

static void help(void) {
        printf("Usage: mnguard-session [OPTION...]\n"
               "The mnguard desktop helper: notifications and the clipboard guard.\n\n"
               "  --runtime-dir DIR     the daemon's runtime directory (default %s, or $MNGUARD_RUNTIME_DIR)\n"
               "  --no-notifications    do not show notifications\n"
               "  --no-clipboard        do not guard the clipboard\n"
               "  -v, --verbose         log more\n"
               "  -h, --help            this text\n"
               "      --version         the version\n",
               DEFAULT_RUNTIME_DIR);
}

int main(int argc, char *argv[]) {
        enum { ARG_RUNTIME_DIR = 0x100, ARG_NO_NOTIFY, ARG_NO_CLIPBOARD, ARG_VERSION };
        static const struct option options[] = {
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "no-notifications", no_argument, NULL, ARG_NO_NOTIFY },
                { "no-clipboard", no_argument, NULL, ARG_NO_CLIPBOARD },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {},
        };
        const char *runtime_dir = getenv("MNGUARD_RUNTIME_DIR");
        bool notify = true, clipboard = true;
        int c, r;

        mn_i18n_init();
        log_setup("mnguard-session");
        while ((c = getopt_long(argc, argv, "vh", options, NULL)) >= 0)
                switch (c) {
                case ARG_RUNTIME_DIR: runtime_dir = optarg; break;
                case ARG_NO_NOTIFY: notify = false; break;
                case ARG_NO_CLIPBOARD: clipboard = false; break;
                case 'v': log_set_max_level(LOG_DEBUG); break;
                case 'h': help(); return EXIT_SUCCESS;
                case ARG_VERSION: printf("mnguard-session %s\n", MNGUARD_VERSION); return EXIT_SUCCESS;
                default: return EXIT_FAILURE;
                }
        if (optind < argc) {
                log_error("Unexpected argument: %s", argv[optind]);
                return EXIT_FAILURE;
        }
        if (isempty(runtime_dir))
                runtime_dir = DEFAULT_RUNTIME_DIR;
        if (!mn_i18n_have_japanese())
                log_warning("The Japanese message catalog is missing: notices are in English only.");

        _cleanup_free_ char *socket_path = NULL;
        if (asprintf(&socket_path, "%s/control.sock", runtime_dir) < 0)
                return log_oom(), EXIT_FAILURE;

        Session s = { .loop = g_main_loop_new(NULL, FALSE) };
        if ((r = session_policy_new_default(&s.policy)) < 0 || (notify && (r = notifier_new(&s.notifier)) < 0))
                return log_oom(), EXIT_FAILURE;
        DaemonLinkCallbacks cb = { .connected = on_connected, .event = on_event, .policy = on_policy };
        if ((r = daemon_link_new(socket_path, &cb, &s, &s.link)) < 0)
                return log_oom(), EXIT_FAILURE;

        g_unix_signal_add(SIGTERM, on_signal, s.loop);
        g_unix_signal_add(SIGINT, on_signal, s.loop);
        daemon_link_start(s.link);
        if (clipboard)
                start_clipboard_guard(&s);

        g_main_loop_run(s.loop);

        log_info("Stopping.");
        if (s.notifier)
                notifier_flush(s.notifier);
        if (s.x_source)
                g_source_remove(s.x_source);
        clip_guard_free(s.guard);
        if (s.dpy)
                XCloseDisplay(s.dpy);
        daemon_link_free(s.link);
        notifier_free(s.notifier);
        session_policy_free(s.policy);
        g_main_loop_unref(s.loop);
        return EXIT_SUCCESS;
}
