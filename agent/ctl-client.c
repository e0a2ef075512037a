/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ctl-client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"

struct CtlClient {
        int fd;
        char *buf;
        size_t len, start;
};

int ctl_client_connect(const char *runtime_dir, CtlClient **ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", runtime_dir);
        if (n < 0 || (size_t) n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        CtlClient *c = calloc(1, sizeof(CtlClient));
        if (!c)
                return -ENOMEM;
        c->buf = malloc(CTL_CLIENT_LINE_MAX + 1);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (!c->buf || c->fd < 0 || connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = c->buf ? -errno : -ENOMEM;
                ctl_client_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

CtlClient *ctl_client_free(CtlClient *c) {
        if (!c)
                return NULL;
        if (c->fd >= 0)
                close(c->fd);
        free(c->buf);
        free(c);
        return NULL;
}

int ctl_client_send(CtlClient *c, json_object *request) {
        const char *s = json_object_to_json_string_ext(request, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t n = strlen(s);
        char *line = malloc(n + 1);
        if (!line)
                return -ENOMEM;
        memcpy(line, s, n);
        line[n] = '\n';
        size_t off = 0;
        int r = 0;
        while (off < n + 1) {
                ssize_t k = send(c->fd, line + off, n + 1 - off, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                off += (size_t) k;
        }
        free(line);
        return r;
}

int ctl_client_read_line(CtlClient *c, const char **ret_line, size_t *ret_len) {
        /* drop the line returned last time */
        if (c->start > 0) {
                memmove(c->buf, c->buf + c->start, c->len - c->start);
                c->len -= c->start;
                c->start = 0;
        }
        for (;;) {
                char *nl = memchr(c->buf, '\n', c->len);
                if (nl) {
                        *nl = 0;
                        *ret_line = c->buf;
                        *ret_len = (size_t) (nl - c->buf);
                        c->start = *ret_len + 1;
                        return 1;
                }
                if (c->len >= CTL_CLIENT_LINE_MAX)
                        return -EMSGSIZE;
                ssize_t k = recv(c->fd, c->buf + c->len, CTL_CLIENT_LINE_MAX - c->len, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return c->len == 0 ? 0 : -EPIPE;
                c->len += (size_t) k;
        }
}

int ctl_client_call(CtlClient *c, json_object *request, json_object **ret_reply, const char **ret_error) {
        const char *line;
        size_t len;
        int r = ctl_client_send(c, request);
        if (r < 0)
                return r;
        r = ctl_client_read_line(c, &line, &len);
        if (r < 0)
                return r;
        if (r == 0)
                return -EPIPE;
        json_object *o = json_tokener_parse(line), *ok, *e;
        if (!o || !json_object_object_get_ex(o, "ok", &ok)) {
                json_object_put(o);
                return -EBADMSG;
        }
        if (!json_object_get_boolean(ok)) {
                int err = json_object_object_get_ex(o, "errno", &e) ? json_object_get_int(e) : EIO;
                *ret_reply = o;
                if (ret_error)
                        *ret_error = json_object_object_get_ex(o, "error", &e) ? json_object_get_string(e) : "error";
                return -(err > 0 ? err : EIO);
        }
        *ret_reply = o;
        return 0;
}
