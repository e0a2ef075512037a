/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "daemon-link.h"

#include <errno.h>
#include <inttypes.h>
#include <glib-unix.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"

typedef enum RequestType {
        REQUEST_SUBSCRIBE,
        REQUEST_POLICY,
        REQUEST_REPORT,
} RequestType;

typedef struct Request {
        RequestType type;
        char *line;     /* JSON text with the trailing newline */
        size_t len;
} Request;

struct DaemonLink {
        char *path;
        DaemonLinkCallbacks cb;
        void *userdata;
        int fd;
        guint io, retry_timer, reply_timer;
        GIOCondition io_cond;
        guint backoff_msec;
        bool up;
        GQueue requests;        /* Request*: head is in flight when in_flight */
        bool in_flight;
        size_t n_reports;
        uint64_t n_dropped;
        char *in;
        size_t in_len;
        GString *out;
};

static void request_free(Request *q) {
        if (!q)
                return;
        free(q->line);
        free(q);
}

static Request *request_new(RequestType type, json_object *o) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        Request *q = calloc(1, sizeof(Request));
        if (!q || !s)
                return (free(q), NULL);
        q->type = type;
        q->len = strlen(s) + 1;
        q->line = malloc(q->len + 1);
        if (!q->line)
                return (free(q), NULL);
        memcpy(q->line, s, q->len - 1);
        q->line[q->len - 1] = '\n';
        q->line[q->len] = 0;
        return q;
}

static Request *request_verb(RequestType type, const char *verb) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "verb", json_object_new_string(verb));
        Request *q = request_new(type, o);
        json_object_put(o);
        return q;
}

static void link_disconnect(DaemonLink *l, const char *why);
static void link_pump(DaemonLink *l);

static gboolean on_retry(gpointer userdata) {
        DaemonLink *l = userdata;
        l->retry_timer = 0;
        daemon_link_start(l);
        return G_SOURCE_REMOVE;
}

static void schedule_retry(DaemonLink *l) {
        if (l->retry_timer)
                return;
        /* a little jitter so the helpers of many sessions do not knock at once */
        guint delay = l->backoff_msec + (guint) g_random_int_range(0, (gint32) (l->backoff_msec / 4 + 1));
        l->retry_timer = g_timeout_add(delay, on_retry, l);
        l->backoff_msec = MIN(l->backoff_msec * 2, DAEMON_LINK_BACKOFF_MAX_MSEC);
}

static gboolean on_reply_timeout(gpointer userdata) {
        DaemonLink *l = userdata;
        l->reply_timer = 0;
        link_disconnect(l, "no reply in time");
        return G_SOURCE_REMOVE;
}

static void handle_reply(DaemonLink *l, json_object *o) {
        Request *q = g_queue_pop_head(&l->requests);
        json_object *ok;
        bool success = json_object_object_get_ex(o, "ok", &ok) && json_object_get_boolean(ok);

        l->in_flight = false;
        if (l->reply_timer) {
                g_source_remove(l->reply_timer);
                l->reply_timer = 0;
        }
        if (!q)
                return;
        switch (q->type) {
        case REQUEST_SUBSCRIBE:
                if (success) {
                        l->backoff_msec = DAEMON_LINK_BACKOFF_MIN_MSEC;
                        l->up = true;
                        if (l->cb.connected)
                                l->cb.connected(true, l->userdata);
                } else
                        log_warning("The daemon refused the subscription.");
                break;
        case REQUEST_POLICY:
                if (success && l->cb.policy)
                        l->cb.policy(o, l->userdata);
                else if (!success)
                        log_warning("The daemon refused the session policy request.");
                break;
        case REQUEST_REPORT:
                l->n_reports--;
                if (!success)
                        log_warning("The daemon refused a clipboard report, dropping it.");
                break;
        }
        request_free(q);
}

static int handle_line(DaemonLink *l, const char *line, size_t len) {
        json_tokener *tok = json_tokener_new_ex(16);
        json_object *o = tok ? json_tokener_parse_ex(tok, line, (int) len) : NULL;
        bool complete = tok && json_tokener_get_error(tok) == json_tokener_success &&
                        json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        if (!o || !complete || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        json_object *ev;
        if (json_object_object_get_ex(o, "event", &ev)) {
                if (json_object_is_type(ev, json_type_object) && l->cb.event)
                        l->cb.event(ev, l->userdata);
        } else if (json_object_object_get_ex(o, "ok", NULL) && l->in_flight)
                handle_reply(l, o);
        json_object_put(o);
        return 0;
}

static int link_read(DaemonLink *l) {
        for (;;) {
                ssize_t k = recv(l->fd, l->in + l->in_len, DAEMON_LINK_LINE_MAX + 1 - l->in_len, MSG_DONTWAIT);
                if (k < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                if (k == 0)
                        return -ECONNRESET;
                l->in_len += (size_t) k;
                size_t start = 0;
                for (;;) {
                        char *nl = memchr(l->in + start, '\n', l->in_len - start);
                        if (!nl)
                                break;
                        size_t len = (size_t) (nl - (l->in + start));
                        if (len > 0) {
                                int r = handle_line(l, l->in + start, len);
                                if (r < 0)
                                        return r;
                                if (l->fd < 0)
                                        return -ECONNRESET; /* a callback dropped the link */
                        }
                        start += len + 1;
                }
                memmove(l->in, l->in + start, l->in_len - start);
                l->in_len -= start;
                if (l->in_len > DAEMON_LINK_LINE_MAX)
                        return -EMSGSIZE;
        }
}

static int link_write(DaemonLink *l) {
        while (l->out->len > 0) {
                ssize_t k = send(l->fd, l->out->str, l->out->len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (k < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                g_string_erase(l->out, 0, k);
        }
        return 0;
}

static void update_io(DaemonLink *l);

static gboolean on_io(gint fd, GIOCondition cond, gpointer userdata) {
        DaemonLink *l = userdata;
        int r = 0;
        if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
                r = link_read(l);
        if (r >= 0 && l->fd >= 0)
                r = link_write(l);
        if (r < 0) {
                link_disconnect(l, r == -EMSGSIZE ? "line too long" : r == -EBADMSG ? "bad line" : "connection lost");
                return G_SOURCE_REMOVE;
        }
        guint self = l->io;
        link_pump(l);
        update_io(l);
        /* update_io() may have put a new source in place of this one */
        return l->io == self ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void update_io(DaemonLink *l) {
        if (l->fd < 0)
                return;
        GIOCondition want = G_IO_IN | G_IO_HUP | G_IO_ERR | (l->out->len > 0 ? G_IO_OUT : 0);
        if (l->io && l->io_cond == want)
                return;
        if (l->io)
                g_source_remove(l->io);
        l->io_cond = want;
        l->io = g_unix_fd_add(l->fd, want, on_io, l);
}

/* Sends the next request when none is in flight. */
static void link_pump(DaemonLink *l) {
        if (l->fd < 0 || l->in_flight)
                return;
        Request *q = g_queue_peek_head(&l->requests);
        if (!q)
                return;
        g_string_append_len(l->out, q->line, (gssize) q->len);
        l->in_flight = true;
        l->reply_timer = g_timeout_add(DAEMON_LINK_REPLY_TIMEOUT_MSEC, on_reply_timeout, l);
        update_io(l);
}

static void drop_control_requests(DaemonLink *l) {
        /* subscribe and policy requests are made afresh on each connection; reports stay */
        for (GList *i = l->requests.head, *next; i; i = next) {
                next = i->next;
                Request *q = i->data;
                if (q->type != REQUEST_REPORT) {
                        request_free(q);
                        g_queue_delete_link(&l->requests, i);
                }
        }
}

static void link_disconnect(DaemonLink *l, const char *why) {
        bool was_up = l->up;
        if (l->io) {
                g_source_remove(l->io);
                l->io = 0;
        }
        if (l->reply_timer) {
                g_source_remove(l->reply_timer);
                l->reply_timer = 0;
        }
        if (l->fd >= 0) {
                close(l->fd);
                l->fd = -1;
                log_notice("Lost the daemon (%s); reconnecting.", why);
        }
        l->in_flight = false; /* a report in flight is sent again: at-least-once */
        l->up = false;
        l->in_len = 0;
        g_string_truncate(l->out, 0);
        drop_control_requests(l);
        if (was_up && l->cb.connected)
                l->cb.connected(false, l->userdata);
        schedule_retry(l);
}

void daemon_link_start(DaemonLink *l) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (l->fd >= 0)
                return;
        if (strlen(l->path) >= sizeof(sa.sun_path)) {
                log_error("Socket path too long: %s", l->path);
                return;
        }
        memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                log_warning_errno(errno, "Cannot create a socket, retrying: %m");
                schedule_retry(l);
                return;
        }
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                log_debug("Cannot connect to %s: %s", l->path, strerror(errno));
                close(fd);
                schedule_retry(l);
                return;
        }
        l->fd = fd;
        log_info("Connected to the daemon at %s.", l->path);
        Request *sub = request_verb(REQUEST_SUBSCRIBE, "subscribe"), *pol = request_verb(REQUEST_POLICY, "session-policy");
        if (!sub || !pol) {
                request_free(sub);
                request_free(pol);
                link_disconnect(l, "out of memory");
                return;
        }
        g_queue_push_head(&l->requests, pol);
        g_queue_push_head(&l->requests, sub);
        update_io(l);
        link_pump(l);
}

void daemon_link_refresh_policy(DaemonLink *l) {
        if (l->fd < 0)
                return; /* asked for on (re)connect anyway */
        for (GList *i = l->requests.head; i; i = i->next)
                if (((Request *) i->data)->type == REQUEST_POLICY && !(i == l->requests.head && l->in_flight))
                        return; /* one is queued already */
        Request *q = request_verb(REQUEST_POLICY, "session-policy");
        if (!q)
                return (void) log_oom();
        /* before the reports: the policy matters more */
        GList *pos = l->requests.head;
        if (pos && l->in_flight)
                pos = pos->next;
        while (pos && ((Request *) pos->data)->type != REQUEST_REPORT)
                pos = pos->next;
        if (pos)
                g_queue_insert_before(&l->requests, pos, q);
        else
                g_queue_push_tail(&l->requests, q);
        link_pump(l);
}

void daemon_link_report(DaemonLink *l, json_object *request) {
        Request *q = request_new(REQUEST_REPORT, request);
        json_object_put(request);
        if (!q)
                return (void) log_oom();
        if (l->n_reports >= DAEMON_LINK_MAX_QUEUED) {
                /* drop the oldest report that is not in flight */
                for (GList *i = l->requests.head; i; i = i->next) {
                        Request *old = i->data;
                        if (old->type != REQUEST_REPORT || (i == l->requests.head && l->in_flight))
                                continue;
                        request_free(old);
                        g_queue_delete_link(&l->requests, i);
                        l->n_reports--;
                        l->n_dropped++;
                        log_warning("Too many clipboard reports wait for the daemon: %" PRIu64 " dropped so far.",
                                    l->n_dropped);
                        break;
                }
        }
        g_queue_push_tail(&l->requests, q);
        l->n_reports++;
        link_pump(l);
}

bool daemon_link_is_connected(const DaemonLink *l) {
        return l->up;
}

int daemon_link_new(const char *socket_path, const DaemonLinkCallbacks *cb, void *userdata, DaemonLink **ret) {
        DaemonLink *l = calloc(1, sizeof(DaemonLink));
        if (!l)
                return -ENOMEM;
        l->fd = -1;
        l->path = strdup(socket_path);
        l->in = malloc(DAEMON_LINK_LINE_MAX + 1);
        l->out = g_string_new(NULL);
        l->cb = *cb;
        l->userdata = userdata;
        l->backoff_msec = DAEMON_LINK_BACKOFF_MIN_MSEC;
        g_queue_init(&l->requests);
        if (!l->path || !l->in) {
                daemon_link_free(l);
                return -ENOMEM;
        }
        *ret = l;
        return 0;
}

DaemonLink *daemon_link_free(DaemonLink *l) {
        if (!l)
                return NULL;
        if (l->io)
                g_source_remove(l->io);
        if (l->retry_timer)
                g_source_remove(l->retry_timer);
        if (l->reply_timer)
                g_source_remove(l->reply_timer);
        if (l->fd >= 0)
                close(l->fd);
        g_queue_clear_full(&l->requests, (GDestroyNotify) request_free);
        g_string_free(l->out, TRUE);
        free(l->in);
        free(l->path);
        free(l);
        return NULL;
}
