/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The HTTPS listener: libmicrohttpd with GnuTLS, a worker thread pool, connection limits and timeouts,
 * client certificate checks per connection, routing, bounded request bodies. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "console.h"
#include "fileio.h"
#include "gzip.h"
#include "log.h"
#include "publish.h"
#include "strutil.h"

/* TLS 1.2 and 1.3 only, GnuTLS's secure defaults otherwise. */
#define SERVER_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"
#define POLICY_BODY_MAX (3u * 1024u * 1024u)   /* POST /v1/policy: a 1 MiB policy and its signature in base64 */
#define TICKET_BODY_MAX (64u * 1024u)

/* A request held open by server_wait() (in its RequestState). */
typedef struct Waiter {
        struct MHD_Connection *connection;
        char group[GROUP_NAME_MAX + 1];
        uint64_t serial;                /* wake when the group's newest serial is above */
        int64_t tickets_seen;           /* wake when a ticket with a higher id is queued (any host: rare) */
        uint64_t deadline_usec;         /* monotonic; 0 until server_wait_begin() */
        bool queued, counted;           /* counted: in n_polls until the request completes */
        struct Waiter *prev, *next;
} Waiter;

#define SERVER_STOP_ANSWER_USEC 3000000u        /* at stop, how long held requests get to be answered */

/* Chunked bodies cannot be refused before they are read: up to this many bytes past a route's limit are
 * read and dropped to answer 413; beyond, the connection is closed. */
#define BODY_DISCARD_MAX (1024u * 1024u)

struct Server {
        struct MHD_Daemon *mhd;
        Storage *storage;
        Ca *ca;
        ServerConfig config;
        char *key_pem, *cert_pem;
        uint16_t port;
        atomic_uint n_connections;      /* open connections, counted by on_connection() */
        Console *console;               /* the responder console (console.c) */
        SignPublicKey *trusted;         /* DIR/policy-signing.pub */
        size_t n_trusted;

        /* long-poll: the waiting requests and what the database last said was published */
        pthread_mutex_t wait_lock;
        pthread_cond_t wait_cond;
        Waiter *waiters;
        size_t n_waiters;
        size_t n_polls;                 /* requests that waited and are not complete */
        PublishedState published;       /* under wait_lock */
        uint64_t generation;            /* bumped whenever published changes */
        bool check_now, stopping, wait_init;
        pthread_t watcher;
        bool watcher_started;
};

typedef struct Route {
        const char *method;
        const char *path;
        RouteAuth auth;
        size_t body_max;        /* 0: no body */
        RouteHandler handler;
} Route;

static const Route routes[] = {
        { "POST", "/v1/enroll", AUTH_NONE, ENROLL_BODY_MAX, api_enroll },
        { "POST", "/v1/events", AUTH_HOST, BATCH_BODY_MAX, api_ingest },
        { "GET", "/v1/events", AUTH_OPERATOR, 0, api_events },
        { "GET", "/v1/hosts", AUTH_OPERATOR, 0, api_hosts },
        { "GET", "/v1/alerts", AUTH_OPERATOR, 0, api_alerts },
        { "GET", "/v1/health", AUTH_ANY, 0, api_health },
        /* the responder console (docs/console.md): its files, and its endpoints for a signed-in operator */
        { "GET", "/", AUTH_NONE, 0, console_root },
        { "GET", "/console", AUTH_NONE, 0, console_root },
        { "GET", "/console/*", AUTH_NONE, 0, console_static },
        { "POST", "/v1/console/login", AUTH_NONE, CONSOLE_LOGIN_BODY_MAX, api_console_login },
        { "POST", "/v1/console/logout", AUTH_OPERATOR, 0, api_console_logout },
        { "GET", "/v1/console/session", AUTH_OPERATOR, 0, api_console_session },
        { "GET", "/v1/console/hosts", AUTH_OPERATOR, 0, api_console_hosts },
        { "GET", "/v1/console/serials", AUTH_OPERATOR, 0, api_console_serials },
        { "GET", "/v1/console/access", AUTH_OPERATOR, 0, api_console_access },
        { "GET", "/v1/console/export", AUTH_OPERATOR, 0, api_console_export },
        { "GET", "/v1/policy", AUTH_HOST, 0, api_policy_get },
        { "POST", "/v1/policy", AUTH_ADMIN, POLICY_BODY_MAX, api_policy_publish },
        { "GET", "/v1/policies", AUTH_OPERATOR, 0, api_policies },
        { "POST", "/v1/tickets", AUTH_ADMIN, TICKET_BODY_MAX, api_ticket_queue },
};

/* Per connection: the verified certificate (verified once; the certs table is asked on every request,
 * so a revocation takes effect at once). */
typedef struct ConnState {
        bool verified;
        int verify_error;
        PeerCert cert;
} ConnState;

/* Per request. */
typedef struct RequestState {
        const Route *route;
        Peer peer;
        char *body;
        size_t body_len, body_cap;
        size_t discarded;
        bool too_large;
        uint64_t started_usec;
        Waiter waiter;
} RequestState;

uint64_t now_realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}


Storage *server_storage(Server *srv) {
        return srv->storage;
}
Console *server_console(Server *srv) {
        return srv->console;
}
Ca *server_ca(Server *srv) {
        return srv->ca;
}
const ServerConfig *server_config(Server *srv) {
        return &srv->config;
}
uint16_t server_port(Server *srv) {
        return srv->port;
}
const SignPublicKey *server_trusted_keys(Server *srv, size_t *ret_n) {
        *ret_n = srv->n_trusted;
        return srv->trusted;
}

/* ---- long-poll ---- */

static uint64_t published_serial(const PublishedState *p, const char *group) {
        for (size_t i = 0; i < p->n_groups; i++)
                if (streq(p->groups[i], group))
                        return p->serials[i];
        return 0;
}

static void waiter_unlink_locked(Server *srv, Waiter *w) {
        if (!w->queued)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                srv->waiters = w->next;
        if (w->next)
                w->next->prev = w->prev;
        w->prev = w->next = NULL;
        w->queued = false;
        srv->n_waiters--;
}

static void waiter_resume_locked(Server *srv, Waiter *w) {
        waiter_unlink_locked(srv, w);
        MHD_resume_connection(w->connection);
}

uint64_t server_wait_begin(Server *srv, const Request *req, unsigned wait_sec) {
        Waiter *w = req->waiter;
        if (w->deadline_usec == 0)
                w->deadline_usec = req->started_usec + (uint64_t) (wait_sec < POLICY_WAIT_MAX_SEC ? wait_sec : POLICY_WAIT_MAX_SEC) * 1000000u;
        pthread_mutex_lock(&srv->wait_lock);
        uint64_t g = srv->generation;
        pthread_mutex_unlock(&srv->wait_lock);
        return g;
}

int server_wait(Server *srv, const Request *req, uint64_t generation, const char *group, uint64_t serial) {
        Waiter *w = req->waiter;
        int r;
        pthread_mutex_lock(&srv->wait_lock);
        if (srv->stopping || now_mono_usec() >= w->deadline_usec)
                r = 0;
        else if (srv->generation != generation)
                r = -EAGAIN;
        else {
                w->connection = req->connection;
                snprintf(w->group, sizeof(w->group), "%s", group);
                w->serial = serial;
                w->tickets_seen = srv->published.last_ticket_id;
                w->prev = NULL;
                w->next = srv->waiters;
                if (srv->waiters)
                        srv->waiters->prev = w;
                srv->waiters = w;
                w->queued = true;
                srv->n_waiters++;
                if (!w->counted) {
                        w->counted = true;
                        srv->n_polls++;
                }
                /* under the lock: the watcher cannot resume it before it is suspended */
                MHD_suspend_connection(req->connection);
                r = SERVER_SUSPENDED;
        }
        pthread_mutex_unlock(&srv->wait_lock);
        return r;
}

void server_published(Server *srv) {
        pthread_mutex_lock(&srv->wait_lock);
        srv->check_now = true;
        pthread_cond_signal(&srv->wait_cond);
        pthread_mutex_unlock(&srv->wait_lock);
}

static bool published_changed(const PublishedState *a, const PublishedState *b) {
        if (a->n_groups != b->n_groups || a->last_ticket_id != b->last_ticket_id)
                return true;
        for (size_t i = 0; i < a->n_groups; i++)
                if (published_serial(b, a->groups[i]) != a->serials[i])
                        return true;
        return false;
}

/* Asks the database what is published every SERVER_WATCH_INTERVAL_USEC (or at once after a publish here),
 * wakes the requests it concerns, and ends those whose time is up. */
static void *watcher_thread(void *userdata) {
        Server *srv = userdata;
        bool storage_ok = true;
        pthread_mutex_lock(&srv->wait_lock);
        while (!srv->stopping) {
                if (!srv->check_now) {
                        struct timespec ts;
                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        uint64_t ns = (uint64_t) ts.tv_nsec + (uint64_t) SERVER_WATCH_INTERVAL_USEC * 1000u;
                        ts.tv_sec += (time_t) (ns / 1000000000u);
                        ts.tv_nsec = (long) (ns % 1000000000u);
                        pthread_cond_timedwait(&srv->wait_cond, &srv->wait_lock, &ts);
                        if (srv->stopping)
                                break;
                }
                srv->check_now = false;
                pthread_mutex_unlock(&srv->wait_lock);
                PublishedState ps = {};
                int r = storage_published_state(srv->storage, &ps);
                if (r < 0 && storage_ok)
                        log_warning_errno(r, "Cannot read the published policies and tickets, retrying: %m");
                storage_ok = r >= 0;
                pthread_mutex_lock(&srv->wait_lock);
                if (r >= 0 && published_changed(&ps, &srv->published)) {
                        published_state_done(&srv->published);
                        srv->published = ps;
                        ps = (PublishedState) {};
                        srv->generation++;
                }
                published_state_done(&ps);
                uint64_t now = now_mono_usec();
                for (Waiter *w = srv->waiters, *next; w; w = next) {
                        next = w->next;
                        if (now >= w->deadline_usec || published_serial(&srv->published, w->group) > w->serial ||
                            srv->published.last_ticket_id > w->tickets_seen)
                                waiter_resume_locked(srv, w);
                }
        }
        pthread_mutex_unlock(&srv->wait_lock);
        return NULL;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, Reply *r) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(r->body);
                r->body = NULL;
                return MHD_NO;
        }
        r->body = NULL;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type ?: "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        /* nothing of an API reply may run or load in a browser; the console's files say what they need */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                r->csp ?: "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
        if (r->set_cookie[0])
                MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
        if (r->disposition[0])
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, r->disposition);
        if (r->location)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
        if (r->next[0])
                MHD_add_response_header(resp, "Mnguard-Next-After", r->next);
        if (r->retry_after)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_SEC);
        if (r->allow)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
        enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
        MHD_destroy_response(resp);
        return ret;
}

_printf_(5, 6) static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
                                                 bool retry, const char *fmt, ...) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        Reply r = { .retry_after = retry };
        reply_error(&r, status, code, 0, "%s", msg);
        return send_reply(c, &r);
}

/* A route's path is the URL, or ends with '*' for every URL that starts with the rest. */
static bool route_path_matches(const char *path, const char *url) {
        size_t n = strlen(path);
        if (n > 0 && path[n - 1] == '*')
                return strncmp(path, url, n - 1) == 0;
        return streq(path, url);
}

/* Finds the route; *ret_allow names the methods of a known path (405 rather than 404). */
static const Route *route_find(const char *method, const char *url, const char **ret_allow) {
        bool get = false, post = false;
        *ret_allow = NULL;
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                if (!route_path_matches(routes[i].path, url))
                        continue;
                get = get || streq(routes[i].method, "GET");
                post = post || streq(routes[i].method, "POST");
                *ret_allow = get && post ? "GET, POST" : get ? "GET" : "POST";
                if (streq(routes[i].method, method) || (streq(method, "HEAD") && streq(routes[i].method, "GET")))
                        return &routes[i];
        }
        return NULL;
}

/* Verifies the client certificate (once per connection) and looks it up in the certs table. Returns 0
 * with peer filled, or an HTTP status to refuse with (code and message filled). */
static unsigned authenticate(Server *srv, struct MHD_Connection *c, ConnState *cs, RouteAuth need, Peer *peer,
                             const char **code, char *msg, size_t msgsize) {
        if (!cs->verified) {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
                cs->verify_error = ci ? ca_verify_peer(srv->ca, ci->tls_session, &cs->cert) : -ENOKEY;
                cs->verified = true;
        }
        if (cs->verify_error == -ENOKEY) {
                /* an operator in a browser: the console's session cookie instead of a certificate */
                if (need != AUTH_HOST) {
                        unsigned st = console_authenticate(srv, c, need, peer, code, msg, msgsize);
                        if (st != CONSOLE_NO_COOKIE)
                                return st;
                }
                *code = "client-certificate-required";
                snprintf(msg, msgsize, "this endpoint needs a client certificate issued at enrollment");
                return MHD_HTTP_FORBIDDEN;
        }
        if (cs->verify_error < 0) {
                *code = "client-certificate-invalid";
                snprintf(msg, msgsize, "the client certificate does not verify against the collector's CA "
                                       "(wrong CA, expired, or not for client authentication)");
                return MHD_HTTP_FORBIDDEN;
        }
        CertRecord rec;
        int r = storage_cert_get(srv->storage, cs->cert.serial, &rec);
        if (r < 0 && storage_error_is_transient(r)) {
                *code = "storage-unavailable";
                snprintf(msg, msgsize, "the database is unavailable; try again later");
                return MHD_HTTP_SERVICE_UNAVAILABLE;
        }
        if (r < 0 || rec.revoked || !streq(rec.subject, cs->cert.cn)) {
                *code = "client-certificate-revoked";
                snprintf(msg, msgsize, "the client certificate is revoked or unknown to this collector");
                return MHD_HTTP_FORBIDDEN;
        }
        if ((need == AUTH_HOST && rec.kind != CERT_HOST) ||
            (need == AUTH_OPERATOR && (rec.kind != CERT_OPERATOR || rec.role == ROLE_NONE)) ||
            (need == AUTH_ADMIN && (rec.kind != CERT_OPERATOR || rec.role != ROLE_ADMIN))) {
                *code = "wrong-role";
                snprintf(msg, msgsize, need == AUTH_HOST    ? "only an enrolled terminal may use this endpoint"
                                       : need == AUTH_ADMIN ? "only an operator with the admin role may use this endpoint"
                                                            : "only an operator may use this endpoint");
                return MHD_HTTP_FORBIDDEN;
        }
        *peer = (Peer) { .authenticated = true, .kind = rec.kind, .role = rec.role };
        memcpy(peer->subject, rec.subject, sizeof(peer->subject));
        memcpy(peer->group, rec.group, sizeof(peer->group));
        memcpy(peer->serial, rec.serial, sizeof(peer->serial));
        return 0;
}

static int body_append(RequestState *rs, const char *data, size_t n) {
        if (rs->too_large || rs->body_len + n > rs->route->body_max) {
                rs->too_large = true;
                rs->discarded += n;
                return rs->discarded > BODY_DISCARD_MAX ? -EFBIG : 0;
        }
        if (rs->body_len + n + 1 > rs->body_cap) {
                size_t ncap = rs->body_cap ? rs->body_cap : 64 * 1024;
                while (ncap < rs->body_len + n + 1)
                        ncap *= 2;
                if (ncap > rs->route->body_max + 1)
                        ncap = rs->route->body_max + 1;
                char *b = realloc(rs->body, ncap);
                if (!b)
                        return -ENOMEM;
                rs->body = b;
                rs->body_cap = ncap;
        }
        memcpy(rs->body + rs->body_len, data, n);
        rs->body_len += n;
        rs->body[rs->body_len] = 0;
        return 0;
}

static enum MHD_Result dispatch(Server *srv, struct MHD_Connection *c, const char *url, RequestState *rs) {
        _cleanup_free_ char *inflated = NULL;
        const char *body = rs->body ?: "";
        size_t body_len = rs->body_len;

        if (rs->too_large)
                return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body-too-large", false,
                                  "the request body is larger than %zu bytes", rs->route->body_max);
        const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
        if (enc && !streq(enc, "identity")) {
                if (!streq(enc, "gzip"))
                        return send_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported-encoding", false,
                                          "Content-Encoding must be gzip or identity");
                size_t n = 0;
                int r = gzip_inflate(body, body_len, rs->route->body_max, &inflated, &n);
                if (r == -EFBIG)
                        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body-too-large", false,
                                          "the decompressed body is larger than %zu bytes", rs->route->body_max);
                if (r < 0)
                        return send_error(c, MHD_HTTP_BAD_REQUEST, "bad-gzip", false, "the body is not valid gzip data");
                body = inflated;
                body_len = n;
        }
        Request req = { .connection = c, .url = url, .peer = &rs->peer, .body = body, .body_len = body_len,
                        .started_usec = rs->started_usec, .waiter = &rs->waiter };
        Reply reply = {};
        int r = rs->route->handler(srv, &req, &reply);
        if (r == SERVER_SUSPENDED) {
                free(reply.body);
                return MHD_YES;
        }
        if (r < 0 && reply.status == 0) {
                free(reply.body);
                reply = (Reply) {};
                if (r == -ENOMEM)
                        reply_error(&reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", 0, "out of memory");
                else
                        reply_storage_error(&reply, r);
        }
        /* who asked for what: every operator request is in the access log before it is answered */
        console_access_record(srv, c, rs->route->method, rs->route->path, &rs->peer, &reply);
        return send_reply(c, &reply);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls) {
        Server *srv = cls;
        RequestState *rs = *req_cls;

        if (!rs) {
                const char *allow;
                const Route *route = route_find(method, url, &allow);
                if (!route) {
                        if (allow) {
                                Reply reply = { .allow = allow };
                                reply_error(&reply, MHD_HTTP_METHOD_NOT_ALLOWED, "method-not-allowed", 0,
                                            "%s is not allowed on this endpoint", streq(method, "POST") ? "POST" : "this method");
                                return send_reply(c, &reply);
                        }
                        return send_error(c, MHD_HTTP_NOT_FOUND, "not-found", false, "no such endpoint");
                }
                rs = calloc(1, sizeof(*rs));
                if (!rs)
                        return MHD_NO;
                rs->route = route;
                rs->started_usec = now_mono_usec();
                *req_cls = rs;

                if (route->auth != AUTH_NONE) {
                        const union MHD_ConnectionInfo *sci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
                        ConnState *cs = sci ? sci->socket_context : NULL;
                        const char *code = NULL;
                        char msg[256];
                        unsigned status = cs ? authenticate(srv, c, cs, route->auth, &rs->peer, &code, msg, sizeof(msg))
                                             : MHD_HTTP_INTERNAL_SERVER_ERROR;
                        if (status != 0)
                                return send_error(c, status, code ?: "internal", status == MHD_HTTP_SERVICE_UNAVAILABLE,
                                                  "%s", code ? msg : "no connection state");
                }
                {
                        const char *code = NULL;
                        char msg[256];
                        unsigned status = console_request_check(c, method, &rs->peer, &code, msg, sizeof(msg));
                        if (status != 0)
                                return send_error(c, status, code, false, "%s", msg);
                }
                const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                uint64_t len;
                if (cl && parse_u64(cl, &len) >= 0 && len > route->body_max)
                        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body-too-large", false,
                                          "the request body is larger than %zu bytes", route->body_max);
                return MHD_YES;
        }

        if (now_mono_usec() - rs->started_usec > (uint64_t) srv->config.request_timeout_sec * 1000000u) {
                log_warning("Request to %s took longer than %us, closing the connection.", rs->route->path,
                            srv->config.request_timeout_sec);
                return MHD_NO;
        }
        if (*upload_data_size > 0) {
                int r = body_append(rs, upload_data, *upload_data_size);
                *upload_data_size = 0;
                return r < 0 ? MHD_NO : MHD_YES;
        }
        return dispatch(srv, c, url, rs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe) {
        Server *srv = cls;
        RequestState *rs = *req_cls;
        if (rs) {
                if (rs->waiter.counted) {
                        pthread_mutex_lock(&srv->wait_lock);
                        waiter_unlink_locked(srv, &rs->waiter);
                        srv->n_polls--;
                        pthread_cond_broadcast(&srv->wait_cond);
                        pthread_mutex_unlock(&srv->wait_lock);
                }
                free(rs->body);
                free(rs);
                *req_cls = NULL;
        }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context, enum MHD_ConnectionNotificationCode toe) {
        Server *srv = cls;
        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                *socket_context = calloc(1, sizeof(ConnState));
                atomic_fetch_add(&srv->n_connections, 1);
        } else {
                free(*socket_context);
                *socket_context = NULL;
                atomic_fetch_sub(&srv->n_connections, 1);
        }
}

/* MHD splits its connection limit among the worker threads, and a worker at its share leaves new
 * connections to the others or in the listen backlog: the total is enforced here, at accept. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
        Server *srv = cls;
        if (atomic_load(&srv->n_connections) >= srv->config.connection_limit) {
                log_debug("Connection limit (%u) reached, refusing a connection.", srv->config.connection_limit);
                return MHD_NO;
        }
        return MHD_YES;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char msg[512];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        size_t n = strlen(msg);
        while (n > 0 && msg[n - 1] == '\n')
                msg[--n] = 0;
        /* handshake failures of port scanners and clients without certificates are routine */
        log_debug("libmicrohttpd: %s", msg);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ret, bool *ret_v6) {
        _cleanup_free_ char *host = NULL;
        const char *colon, *port_s;
        if (listen[0] == '[') {
                const char *close = strchr(listen, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                host = strndup(listen + 1, (size_t) (close - listen - 1));
                port_s = close + 2;
        } else {
                colon = strrchr(listen, ':');
                if (!colon)
                        return -EINVAL;
                host = strndup(listen, (size_t) (colon - listen));
                port_s = colon + 1;
        }
        if (!host)
                return -ENOMEM;
        uint64_t port;
        if (parse_u64(port_s, &port) < 0 || port > 65535)
                return -EINVAL;
        memset(ret, 0, sizeof(*ret));
        struct sockaddr_in *in4 = (struct sockaddr_in *) ret;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ret;
        if (isempty(host) || inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons((uint16_t) port);
                *ret_v6 = false;
        } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                *ret_v6 = true;
        } else
                return -EINVAL;
        return 0;
}

int server_start(const ServerConfig *c, Storage *storage, Ca *ca, Server **ret) {
        _cleanup_free_ char *key_path = NULL, *cert_path = NULL;
        struct sockaddr_storage addr;
        bool v6 = false;
        int r;

        Server *srv = calloc(1, sizeof(*srv));
        if (!srv)
                return log_oom();
        srv->storage = storage;
        srv->ca = ca;
        srv->config = *c;
        pthread_mutex_init(&srv->wait_lock, NULL);
        pthread_condattr_t cattr;
        pthread_condattr_init(&cattr);
        pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
        pthread_cond_init(&srv->wait_cond, &cattr);
        pthread_condattr_destroy(&cattr);
        srv->wait_init = true;
        if (asprintf(&key_path, "%s/%s", c->dir, SERVER_KEY_FILE) < 0 || asprintf(&cert_path, "%s/%s", c->dir, SERVER_CERT_FILE) < 0) {
                free(srv);
                return log_oom();
        }
        r = read_full_file(key_path, CERT_PEM_MAX, &srv->key_pem, NULL);
        if (r >= 0)
                r = read_full_file(cert_path, CERT_PEM_MAX, &srv->cert_pem, NULL);
        if (r < 0) {
                log_error_errno(r, "Failed to read the server key and certificate in %s (run init-ca first): %m", c->dir);
                server_stop(srv);
                return r;
        }
        r = publish_load_trusted(c->dir, &srv->trusted, &srv->n_trusted);
        if (r == -ENOENT)
                log_info("No %s/%s: publishing policies and tickets is refused until it exists.", c->dir, COLLECTOR_TRUST_FILE);
        else if (r < 0) {
                log_error_errno(r, "Cannot read %s/%s: %m", c->dir, COLLECTOR_TRUST_FILE);
                server_stop(srv);
                return r;
        }
        r = storage_published_state(storage, &srv->published);
        if (r < 0) {
                log_error_errno(r, "Cannot read the published policies: %m");
                server_stop(srv);
                return r;
        }
        r = console_new(c->console_dir, storage, &srv->console);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the console: %m");
                server_stop(srv);
                return r;
        }
        r = parse_listen(c->listen, &addr, &v6);
        if (r < 0) {
                log_error("Cannot use listen address '%s' (expected ADDRESS:PORT or [IPv6]:PORT).", c->listen);
                server_stop(srv);
                return r;
        }
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_TLS | MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
        srv->mhd = MHD_start_daemon(
                flags, 0, on_accept, srv, on_request, srv,
                MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
                MHD_OPTION_HTTPS_MEM_KEY, srv->key_pem,
                MHD_OPTION_HTTPS_MEM_CERT, srv->cert_pem,
                /* asks for (does not require) a client certificate; authenticate() verifies it */
                MHD_OPTION_HTTPS_MEM_TRUST, ca_cert_pem(ca),
                MHD_OPTION_HTTPS_PRIORITIES, SERVER_TLS_PRIORITIES,
                MHD_OPTION_THREAD_POOL_SIZE, (unsigned) (c->threads > 1 ? c->threads : 1),
                /* above ours, so that MHD accepts and on_accept() refuses at once instead of leaving
                 * connections waiting in the listen backlog */
                MHD_OPTION_CONNECTION_LIMIT, c->connection_limit + 16 * (c->threads > 1 ? c->threads : 1),
                MHD_OPTION_PER_IP_CONNECTION_LIMIT, c->per_ip_limit,
                MHD_OPTION_CONNECTION_TIMEOUT, c->idle_timeout_sec,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) SERVER_CONNECTION_MEMORY,
                MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
                MHD_OPTION_END);
        if (!srv->mhd) {
                log_error("Failed to start the HTTPS server on %s (address in use, or too many connections for the "
                          "file descriptor limit?).", c->listen);
                server_stop(srv);
                return -EADDRNOTAVAIL;
        }
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
        srv->port = di ? di->port : 0;
        r = pthread_create(&srv->watcher, NULL, watcher_thread, srv);
        if (r != 0) {
                log_error_errno(-r, "Failed to start the policy watcher thread: %m");
                server_stop(srv);
                return -r;
        }
        srv->watcher_started = true;
        *ret = srv;
        return 0;
}

void server_stop(Server *srv) {
        if (!srv)
                return;
        if (srv->wait_init) {
                /* held requests are answered ("nothing new") before MHD stops: it must not find any suspended */
                pthread_mutex_lock(&srv->wait_lock);
                srv->stopping = true;
                while (srv->waiters)
                        waiter_resume_locked(srv, srv->waiters);
                pthread_cond_broadcast(&srv->wait_cond);
                /* let the workers answer them before MHD closes every connection */
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += SERVER_STOP_ANSWER_USEC / 1000000u;
                while (srv->n_polls > 0 && pthread_cond_timedwait(&srv->wait_cond, &srv->wait_lock, &ts) == 0)
                        ;
                pthread_mutex_unlock(&srv->wait_lock);
        }
        if (srv->watcher_started)
                pthread_join(srv->watcher, NULL);
        if (srv->mhd)
                MHD_stop_daemon(srv->mhd);
        console_free(srv->console);
        if (srv->wait_init) {
                published_state_done(&srv->published);
                pthread_mutex_destroy(&srv->wait_lock);
                pthread_cond_destroy(&srv->wait_cond);
        }
        free(srv->trusted);
        if (srv->key_pem) {
                explicit_bzero(srv->key_pem, strlen(srv->key_pem));
                free(srv->key_pem);
        }
        free(srv->cert_pem);
        free(srv);
}
