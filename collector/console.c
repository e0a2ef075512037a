/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The console in the server: its static files (read once at start, served from memory), the cross-site
 * checks of state-changing requests, the access log, query arguments. docs/console.md. */
#include "console.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console-internal.h"
#include "log.h"
#include "strutil.h"

static const struct {
        const char *ext, *type;
} content_types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".ico", "image/x-icon" },
};

/* [a-z0-9-]+ and a known extension: nothing else is served (no dot files, no editor backups). */
static const char *file_type(const char *name) {
        const char *dot = strrchr(name, '.');
        if (!dot || dot == name || strlen(name) > CONSOLE_NAME_MAX)
                return NULL;
        for (const char *p = name; p < dot; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
                        return NULL;
        for (size_t i = 0; i < ELEMENTSOF(content_types); i++)
                if (streq(dot, content_types[i].ext))
                        return content_types[i].type;
        return NULL;
}

static int load_files(Console *con, const char *dir) {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        int dfd2 = dup(dfd);
        if (dfd2 < 0)
                return -errno;
        DIR *d = fdopendir(dfd2);
        if (!d) {
                close(dfd2);
                return -errno;
        }
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d)) && r >= 0) {
                const char *type = file_type(de->d_name);
                if (!type)
                        continue;
                if (con->n_files >= CONSOLE_FILES_MAX) {
                        r = -E2BIG;
                        break;
                }
                _cleanup_close_ int fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (st.st_size > (off_t) CONSOLE_FILE_MAX) {
                        r = -EFBIG;
                        break;
                }
                ConsoleFile *f = &con->files[con->n_files];
                f->data = malloc((size_t) st.st_size + 1);
                if (!f->data) {
                        r = -ENOMEM;
                        break;
                }
                size_t got = 0;
                while (got < (size_t) st.st_size) {
                        ssize_t n = read(fd, f->data + got, (size_t) st.st_size - got);
                        if (n <= 0)
                                break;
                        got += (size_t) n;
                }
                if (got != (size_t) st.st_size) {
                        free(f->data);
                        f->data = NULL;
                        continue;
                }
                f->len = got;
                f->type = type;
                memcpy(f->name, de->d_name, strlen(de->d_name) + 1);      /* file_type(): at most CONSOLE_NAME_MAX */
                con->n_files++;
        }
        closedir(d);
        return r;
}

int console_new(const char *dir, Storage *storage, Console **ret) {
        if (sodium_init() < 0)
                return -EIO;
        Console *con = calloc(1, sizeof(*con));
        if (!con)
                return -ENOMEM;
        con->storage = storage;
        pthread_mutex_init(&con->lock, NULL);
        pthread_cond_init(&con->cond, NULL);
        if (!storage_console(storage)) {
                console_free(con);
                return -EPROTONOSUPPORT;
        }
        /* now rather than at the first login for an unknown name: that one would take twice as long */
        char hash[OPERATOR_PWHASH_MAX];
        int k = console_dummy_hash(con, hash);
        sodium_memzero(hash, sizeof(hash));
        if (k < 0) {
                console_free(con);
                return k;
        }
        if (!isempty(dir)) {
                int r = load_files(con, dir);
                if (r == -ENOMEM) {
                        console_free(con);
                        return r;
                }
                if (r < 0)
                        log_warning_errno(r, "Cannot read the console's files in %s, serving no pages: %m", dir);
                else if (!console_file(con, "index.html"))
                        log_warning("No index.html in %s: the console has no start page.", dir);
                else
                        log_info("Console: %zu files from %s.", con->n_files, dir);
        }
        *ret = con;
        return 0;
}

Console *console_free(Console *con) {
        if (!con)
                return NULL;
        for (size_t i = 0; i < con->n_files; i++)
                free(con->files[i].data);
        pthread_mutex_destroy(&con->lock);
        pthread_cond_destroy(&con->cond);
        sodium_memzero(con->dummy_hash, sizeof(con->dummy_hash));
        free(con);
        return NULL;
}

const ConsoleFile *console_file(Console *con, const char *name) {
        for (size_t i = 0; i < con->n_files; i++)
                if (streq(con->files[i].name, name))
                        return &con->files[i];
        return NULL;
}

int console_root(Server *srv, const Request *req, Reply *reply) {
        reply->status = 303;
        reply->location = "/console/";
        reply->content_type = "text/plain; charset=utf-8";
        reply->body = strdup("/console/\n");
        reply->body_len = reply->body ? strlen(reply->body) : 0;
        return reply->body ? 0 : -ENOMEM;
}

int console_static(Server *srv, const Request *req, Reply *reply) {
        Console *con = server_console(srv);
        const char *name = req->url + strlen("/console/");
        if (isempty(name))
                name = "index.html";
        const ConsoleFile *f = con ? console_file(con, name) : NULL;
        if (!f) {
                reply_error(reply, 404, "not-found", 0, "no such file");
                return 0;
        }
        reply->body = malloc(f->len + 1);
        if (!reply->body)
                return -ENOMEM;
        memcpy(reply->body, f->data, f->len);
        reply->body[f->len] = 0;
        reply->body_len = f->len;
        reply->status = 200;
        reply->content_type = f->type;
        reply->csp = CONSOLE_CSP;
        return 0;
}

/* ---- arguments, addresses ---- */

int console_arg(struct MHD_Connection *c, const char *name, const char **ret) {
        const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
        *ret = NULL;
        if (!v)
                return 0;
        size_t n = strlen(v);
        if (n == 0 || n > SERVER_QUERY_ARG_MAX || !utf8_is_valid(v, n, NULL))
                return -EINVAL;
        for (const char *p = v; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return -EINVAL;
        *ret = v;
        return 1;
}

bool console_arg_bad(struct MHD_Connection *c, Reply *reply, const char *name, const char **ret) {
        if (console_arg(c, name, ret) >= 0)
                return false;
        reply_error(reply, 400, "bad-argument", 0, "argument '%s' must be 1-%d bytes of text", name, SERVER_QUERY_ARG_MAX);
        return true;
}

void console_remote(struct MHD_Connection *c, char out[static ACCESS_REMOTE_MAX]) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        snprintf(out, ACCESS_REMOTE_MAX, "?");
        if (!ci || !ci->client_addr)
                return;
        if (ci->client_addr->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *) ci->client_addr)->sin_addr, out, ACCESS_REMOTE_MAX);
        else if (ci->client_addr->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) ci->client_addr)->sin6_addr, out, ACCESS_REMOTE_MAX);
}

/* ---- cross-site checks ---- */

static bool same_origin(struct MHD_Connection *c, const char *origin) {
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        const char *prefix = "https://";
        if (!host || strncmp(origin, prefix, strlen(prefix)) != 0)
                return false;
        return strcasecmp(origin + strlen(prefix), host) == 0;
}

unsigned console_request_check(struct MHD_Connection *c, const char *method, const Peer *peer, const char **code,
                               char *msg, size_t msgsize) {
        if (streq(method, "GET") || streq(method, "HEAD"))
                return 0;
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
        if ((origin && !same_origin(c, origin)) || (site && !streq(site, "same-origin") && !streq(site, "none"))) {
                *code = "cross-origin";
                snprintf(msg, msgsize, "requests that change something must come from the collector's own pages");
                return 403;
        }
        if (peer && peer->session) {
                const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
                if (!token || strlen(token) != CONSOLE_CSRF_HEX || strlen(peer->csrf) != CONSOLE_CSRF_HEX ||
                    sodium_memcmp(token, peer->csrf, CONSOLE_CSRF_HEX) != 0) {
                        *code = "csrf-token";
                        snprintf(msg, msgsize, "the X-CSRF-Token header must carry the session's token");
                        return 403;
                }
        }
        return 0;
}

/* ---- the access log ---- */

typedef struct QueryText {
        char *out;
        size_t len, max;
        bool cut;
} QueryText;

static void query_put(QueryText *q, const char *s) {
        size_t n = strlen(s);
        if (q->cut || q->len + n > q->max) {
                q->cut = true;
                return;
        }
        memcpy(q->out + q->len, s, n);
        q->len += n;
        q->out[q->len] = 0;
}

/* name=value&… with everything but unreserved characters percent-encoded: safe to store and show. */
static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        QueryText *q = cls;
        static const char hex[] = "0123456789ABCDEF";
        char buf[3 * (SERVER_QUERY_ARG_MAX + 64) + 4];
        size_t o = 0;
        if (q->len > 0)
                buf[o++] = '&';
        for (int part = 0; part < 2; part++) {
                const char *s = part == 0 ? key : value;
                if (part == 1) {
                        if (!s)
                                break;
                        buf[o++] = '=';
                }
                for (; s && *s && o + 4 < sizeof(buf); s++) {
                        unsigned char ch = (unsigned char) *s;
                        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                            ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == ':' || ch == '*')
                                buf[o++] = (char) ch;
                        else {
                                buf[o++] = '%';
                                buf[o++] = hex[ch >> 4];
                                buf[o++] = hex[ch & 15];
                        }
                }
        }
        buf[o] = 0;
        query_put(q, buf);
        return MHD_YES;
}

static uint64_t ndjson_lines(const Reply *r) {
        uint64_t n = 0;
        if (!r->body || !r->content_type || !streq(r->content_type, "application/x-ndjson"))
                return 0;
        for (const char *p = r->body; (p = memchr(p, '\n', r->body_len - (size_t) (p - r->body))); p++)
                n++;
        return n;
}

void console_access_record(Server *srv, struct MHD_Connection *c, const char *method, const char *path,
                           const Peer *peer, Reply *reply) {
        Console *con = server_console(srv);
        if (!con || !peer || !peer->authenticated || peer->kind != CERT_OPERATOR)
                return;
        AccessEntry e = {
                .time_usec = now_realtime_usec(),
                .status = reply->status,
                .records = reply->records ? reply->records : ndjson_lines(reply),
        };
        snprintf(e.operator_name, sizeof(e.operator_name), "%s", peer->subject);
        snprintf(e.auth, sizeof(e.auth), "%s", peer->session ? "session" : "certificate");
        console_remote(c, e.remote);
        snprintf(e.method, sizeof(e.method), "%s", method);
        snprintf(e.path, sizeof(e.path), "%s", path);
        const char *host = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "host");
        /* the host whose history was asked for (reading the access log about a host is not that) */
        if (host && host_id_is_valid(host) && !streq(path, "/v1/console/access"))
                memcpy(e.host_id, host, HOST_ID_LEN + 1);
        QueryText q = { .out = e.query, .max = ACCESS_QUERY_MAX };
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_arg, &q);
        int r = storage_console(con->storage)->access_add(con->storage, &e);
        if (r < 0) {
                /* fail closed: what could not be recorded is not answered */
                log_warning_errno(r, "Cannot record %s's request for %s in the access log, refusing it: %m",
                                  peer->subject, path);
                free(reply->body);
                Reply err = {};
                reply_storage_error(&err, r);
                *reply = err;
        }
}

int console_access_login(Server *srv, struct MHD_Connection *c, const char *name, unsigned status) {
        Console *con = server_console(srv);
        AccessEntry e = { .time_usec = now_realtime_usec(), .status = status };
        snprintf(e.operator_name, sizeof(e.operator_name), "%s", name);
        snprintf(e.auth, sizeof(e.auth), "password");
        console_remote(c, e.remote);
        snprintf(e.method, sizeof(e.method), "POST");
        snprintf(e.path, sizeof(e.path), "/v1/console/login");
        return storage_console(con->storage)->access_add(con->storage, &e);
}
