/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "strutil.h"

#define CONTROL_MAX_PEER_GROUPS 256

struct ControlClient {
        ControlServer *server;
        ControlClient *prev, *next;
        int fd;
        sd_event_source *io, *timeout;
        struct ucred cred;
        gid_t groups[CONTROL_MAX_PEER_GROUPS];
        size_t n_groups;
        char *in;
        size_t in_len;
        char *out;
        size_t out_len, out_sent;
        bool subscribed, closing;
        int (*pump)(ControlClient *c, void *state, void *userdata);
        void *pump_state;
        void (*pump_free)(void *state);
};

struct ControlServer {
        sd_event *event;
        sd_event_source *listen_source;
        int listen_fd;
        char *path;
        const ControlVerb *verbs;
        size_t n_verbs;
        void *userdata;
        ControlClient *clients;
        size_t n_clients;
        void (*on_disconnect)(ControlClient *c, void *userdata);
};

void control_server_set_disconnect_handler(ControlServer *s, void (*f)(ControlClient *c, void *userdata)) {
        s->on_disconnect = f;
}

static void client_free(ControlClient *c) {
        if (!c)
                return;
        ControlServer *s = c->server;
        if (s->on_disconnect)
                s->on_disconnect(c, s->userdata);
        if (c->prev)
                c->prev->next = c->next;
        else
                s->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_clients--;
        if (c->pump_free && c->pump_state)
                c->pump_free(c->pump_state);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timeout);
        if (c->fd >= 0)
                close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
}

uid_t control_client_uid(const ControlClient *c) {
        return c->cred.uid;
}

gid_t control_client_gid(const ControlClient *c) {
        return c->cred.gid;
}

pid_t control_client_pid(const ControlClient *c) {
        return c->cred.pid;
}

static int client_update_events(ControlClient *c) {
        uint32_t ev = c->closing ? 0 : EPOLLIN;
        if (c->out_len > c->out_sent)
                ev |= EPOLLOUT;
        if (c->closing && ev == 0) {
                client_free(c);
                return -ECONNRESET;
        }
        return sd_event_source_set_io_events(c->io, ev);
}

int control_client_send(ControlClient *c, json_object *msg) {
        const char *s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        return control_client_send_raw(c, s, strlen(s));
}

int control_client_send_raw(ControlClient *c, const char *s, size_t n) {
        if (c->out_len - c->out_sent + n + 1 > CONTROL_MAX_OUTPUT) {
                log_warning("Control client pid %d uid %u does not read its replies, disconnecting.", (int) c->cred.pid,
                            (unsigned) c->cred.uid);
                c->closing = true;
                c->out_len = c->out_sent = 0;
                return -ENOBUFS;
        }
        if (c->out_sent > 0 && c->out_sent == c->out_len)
                c->out_len = c->out_sent = 0;
        char *o = realloc(c->out, c->out_len + n + 1);
        if (!o)
                return -ENOMEM;
        memcpy(o + c->out_len, s, n);
        o[c->out_len + n] = '\n';
        c->out = o;
        c->out_len += n + 1;
        /* Replies may be queued outside the client's own I/O callback (durability waiters,
         * broadcasts): make sure the loop writes them. */
        if (c->io)
                (void) sd_event_source_set_io_events(c->io, (c->closing ? 0 : EPOLLIN) | EPOLLOUT);
        return 0;
}

int control_client_reply_ok(ControlClient *c, json_object *fields) {
        json_object *o = fields ?: json_object_new_object();
        json_object_object_add(o, "ok", json_object_new_boolean(true));
        int r = control_client_send(c, o);
        json_object_put(o);
        return r;
}

int control_client_reply_error(ControlClient *c, int error, const char *message) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "ok", json_object_new_boolean(false));
        json_object_object_add(o, "errno", json_object_new_int(error < 0 ? -error : error));
        json_object_object_add(o, "error", json_object_new_string(message ?: strerror(error < 0 ? -error : error)));
        int r = control_client_send(c, o);
        json_object_put(o);
        return r;
}

void control_client_set_pump(ControlClient *c, int (*pump)(ControlClient *c, void *state, void *userdata), void *state,
                             void (*free_state)(void *state)) {
        if (c->pump_free && c->pump_state)
                c->pump_free(c->pump_state);
        c->pump = pump;
        c->pump_state = state;
        c->pump_free = free_state;
}

void control_client_subscribe(ControlClient *c) {
        c->subscribed = true;
}

size_t control_server_n_clients(const ControlServer *s) {
        return s->n_clients;
}

static bool client_in_group(const ControlClient *c, const char *group) {
        struct group grp, *res = NULL;
        char buf[4096];
        if (getgrnam_r(group, &grp, buf, sizeof(buf), &res) != 0 || !res)
                return false;
        if (c->cred.gid == res->gr_gid)
                return true;
        for (size_t i = 0; i < c->n_groups; i++)
                if (c->groups[i] == res->gr_gid)
                        return true;
        return false;
}

static bool client_allowed(const ControlClient *c, ControlAccess a) {
        switch (a) {
        case CONTROL_ACCESS_ANY:
                return true;
        case CONTROL_ACCESS_AUDIT:
                return c->cred.uid == 0 || client_in_group(c, CONTROL_AUDIT_GROUP);
        case CONTROL_ACCESS_ROOT:
                return c->cred.uid == 0;
        }
        return false;
}

/* Runs the pump while there is room, so streaming replies flow as fast as the client reads. */
static void client_run_pump(ControlClient *c) {
        while (c->pump && !c->closing && c->out_len - c->out_sent < CONTROL_PUMP_LOW_WATER) {
                int r = c->pump(c, c->pump_state, c->server->userdata);
                if (r == 0)
                        continue;
                if (r < 0)
                        control_client_reply_error(c, r, NULL);
                control_client_set_pump(c, NULL, NULL, NULL);
        }
}

int control_request_parse(const char *line, size_t len, json_object **ret, const char **ret_verb) {
        if (len > CONTROL_MAX_MESSAGE)
                return -EBADMSG;
        json_tokener *tok = json_tokener_new_ex(CONTROL_MAX_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_object *req = json_tokener_parse_ex(tok, line, (int) len);
        bool complete = json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);

        json_object *verb_obj;
        if (!req || !complete || !json_object_is_type(req, json_type_object) ||
            !json_object_object_get_ex(req, "verb", &verb_obj) || !json_object_is_type(verb_obj, json_type_string) ||
            /* a verb with an escaped NUL ("status\u0000x") is not "status" */
            strlen(json_object_get_string(verb_obj)) != (size_t) json_object_get_string_len(verb_obj)) {
                json_object_put(req);
                return -EBADMSG;
        }
        *ret = req;
        *ret_verb = json_object_get_string(verb_obj);
        return 0;
}

int control_arg_string(json_object *req, const char *key, size_t max, const char **ret) {
        json_object *o;
        *ret = NULL;
        if (!json_object_object_get_ex(req, key, &o) || json_object_is_type(o, json_type_null))
                return 0;
        if (!json_object_is_type(o, json_type_string))
                return -EINVAL;
        const char *s = json_object_get_string(o);
        size_t n = (size_t) json_object_get_string_len(o);
        if (n > max || strlen(s) != n || !utf8_is_valid(s, n, NULL))
                return -EINVAL;
        *ret = s;
        return 0;
}

int control_arg_u64(json_object *req, const char *key, uint64_t *ret) {
        json_object *o;
        *ret = 0;
        if (!json_object_object_get_ex(req, key, &o) || json_object_is_type(o, json_type_null))
                return 0;
        if (!json_object_is_type(o, json_type_int) || json_object_get_int64(o) < 0)
                return -EINVAL;
        *ret = json_object_get_uint64(o);
        return 0;
}

static void client_dispatch_line(ControlClient *c, char *line, size_t len) {
        ControlServer *s = c->server;
        json_object *req = NULL;
        const char *verb;
        int r = control_request_parse(line, len, &req, &verb);
        if (r < 0) {
                control_client_reply_error(c, r, r == -EBADMSG ? "expected one JSON object with a \"verb\" string "
                                                                 "per line" : NULL);
                return;
        }
        for (size_t i = 0; i < s->n_verbs; i++) {
                if (!streq(s->verbs[i].name, verb))
                        continue;
                if (!client_allowed(c, s->verbs[i].access)) {
                        log_notice("Control client pid %d uid %u may not use '%s'.", (int) c->cred.pid,
                                   (unsigned) c->cred.uid, s->verbs[i].name);
                        control_client_reply_error(c, EACCES,
                                                   s->verbs[i].access == CONTROL_ACCESS_ROOT
                                                           ? "permission denied: root only"
                                                           : "permission denied: root or group " CONTROL_AUDIT_GROUP " only");
                        json_object_put(req);
                        return;
                }
                r = s->verbs[i].handler(c, req, s->userdata);
                if (r < 0)
                        control_client_reply_error(c, r, NULL);
                json_object_put(req);
                return;
        }
        control_client_reply_error(c, EOPNOTSUPP, "unknown verb");
        json_object_put(req);
}

static int client_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        ControlClient *c = userdata;
        log_notice("Control client pid %d did not finish its request in time, disconnecting.", (int) c->cred.pid);
        client_free(c);
        return 0;
}

static void client_arm_timeout(ControlClient *c) {
        if (c->in_len == 0) {
                if (c->timeout)
                        sd_event_source_set_enabled(c->timeout, SD_EVENT_OFF);
                return;
        }
        if (c->timeout && sd_event_source_get_enabled(c->timeout, NULL) > 0)
                return; /* the deadline runs from the first byte of the request */
        uint64_t now;
        sd_event_now(c->server->event, CLOCK_MONOTONIC, &now);
        if (!c->timeout)
                sd_event_add_time(c->server->event, &c->timeout, CLOCK_MONOTONIC, now + CONTROL_REQUEST_TIMEOUT_USEC,
                                  0, client_timeout, c);
        else {
                sd_event_source_set_time(c->timeout, now + CONTROL_REQUEST_TIMEOUT_USEC);
                sd_event_source_set_enabled(c->timeout, SD_EVENT_ONESHOT);
        }
}

static int client_read(ControlClient *c) {
        if (!c->in) {
                c->in = malloc(CONTROL_MAX_MESSAGE + 1);
                if (!c->in)
                        return -ENOMEM;
        }
        ssize_t k = recv(c->fd, c->in + c->in_len, CONTROL_MAX_MESSAGE + 1 - c->in_len, MSG_DONTWAIT);
        if (k < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (k == 0)
                return -ECONNRESET;
        c->in_len += (size_t) k;

        /* Handle every complete line; a subscriber that keeps sending is just served. */
        for (;;) {
                char *nl = memchr(c->in, '\n', c->in_len);
                if (!nl)
                        break;
                size_t len = (size_t) (nl - c->in);
                *nl = 0;
                if (len > 0 && !c->closing)
                        client_dispatch_line(c, c->in, len);
                memmove(c->in, nl + 1, c->in_len - len - 1);
                c->in_len -= len + 1;
        }
        if (c->in_len > CONTROL_MAX_MESSAGE) {
                control_client_reply_error(c, EMSGSIZE, "request longer than the limit");
                c->in_len = 0;
                c->closing = true;
        }
        client_arm_timeout(c);
        return 0;
}

static int client_write(ControlClient *c) {
        while (c->out_sent < c->out_len) {
                ssize_t k = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (k < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                c->out_sent += (size_t) k;
                client_run_pump(c);
        }
        return 0;
}

static int client_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        ControlClient *c = userdata;
        int r = 0;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                r = client_read(c);
        if (r >= 0) {
                client_run_pump(c);
                r = client_write(c);
        }
        if (r < 0) {
                client_free(c);
                return 0;
        }
        client_update_events(c);
        return 0;
}

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        ControlServer *s = userdata;
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        if (s->n_clients >= CONTROL_MAX_CLIENTS) {
                log_warning("Too many control clients (%d), refusing one.", CONTROL_MAX_CLIENTS);
                close(cfd);
                return 0;
        }
        ControlClient *c = calloc(1, sizeof(ControlClient));
        if (!c) {
                close(cfd);
                return 0;
        }
        c->fd = cfd;
        c->server = s;
        socklen_t l = sizeof(c->cred);
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->cred, &l) < 0) {
                log_warning_errno(errno, "Cannot get control client credentials, refusing: %m");
                close(cfd);
                free(c);
                return 0;
        }
        l = sizeof(c->groups);
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERGROUPS, c->groups, &l) >= 0)
                c->n_groups = l / sizeof(gid_t);
        c->next = s->clients;
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        s->n_clients++;
        if (sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, client_io, c) < 0)
                client_free(c);
        return 0;
}

/* Events that concern no particular user and that every local user may see anyway: the policy put in
 * force (its serial and name are in "status" for anyone) and the devices on the seat (their attributes
 * are world-readable in sysfs). The daemon cannot always tell who sits at the terminal (no logind, or
 * nobody active): whoever does is still told about the stick they plugged. */
static bool event_is_seat_wide(json_object *event) {
        json_object *ev, *action;
        if (!json_object_object_get_ex(event, "event", &ev) || !json_object_object_get_ex(ev, "action", &action) ||
            !json_object_is_type(action, json_type_string))
                return false;
        const char *a = json_object_get_string(action);
        return streq(a, "policy-applied") || strncmp(a, "device-", 7) == 0;
}

void control_server_broadcast(ControlServer *s, json_object *event, uid_t uid) {
        json_object *msg = json_object_new_object();
        bool everyone = uid == (uid_t) -1 && event_is_seat_wide(event);
        json_object_object_add(msg, "event", json_object_get(event));
        for (ControlClient *c = s->clients, *next; c; c = next) {
                next = c->next;
                if (!c->subscribed || c->closing || (c->cred.uid != uid && c->cred.uid != 0 && !everyone))
                        continue;
                control_client_send(c, msg);
                client_update_events(c);
        }
        json_object_put(msg);
}

int control_server_new(sd_event *event, const char *path, const ControlVerb *verbs, size_t n_verbs, void *userdata,
                       ControlServer **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);

        ControlServer *s = calloc(1, sizeof(ControlServer));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->verbs = verbs;
        s->n_verbs = n_verbs;
        s->userdata = userdata;
        s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        s->path = strdup(path);
        int r = 0;
        if (s->listen_fd < 0 || !s->path)
                r = s->path ? -errno : -ENOMEM;
        if (r == 0) {
                (void) unlink(path);
                /* Any local user may connect: each verb checks its caller. */
                mode_t old = umask(0111);
                if (bind(s->listen_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        r = -errno;
                umask(old);
        }
        if (r == 0 && listen(s->listen_fd, 64) < 0)
                r = -errno;
        if (r == 0)
                r = sd_event_add_io(event, &s->listen_source, s->listen_fd, EPOLLIN, on_accept, s);
        if (r < 0) {
                control_server_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

ControlServer *control_server_free(ControlServer *s) {
        if (!s)
                return NULL;
        while (s->clients)
                client_free(s->clients);
        sd_event_source_disable_unref(s->listen_source);
        if (s->listen_fd >= 0) {
                close(s->listen_fd);
                if (s->path)
                        (void) unlink(s->path);
        }
        free(s->path);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
