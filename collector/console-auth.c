/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Operator accounts and browser sessions: argon2id passwords (libsodium), login with throttling, session
 * cookies (a random 256-bit token; the database keeps only its SHA-256), logout, and authenticating a
 * request by its cookie. docs/console.md "Signing in". */
#include <errno.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console-internal.h"
#include "journal.h"
#include "log.h"
#include "strutil.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

/* ---- passwords ---- */

int console_password_check(const char *password, size_t len) {
        if (len < CONSOLE_PASSWORD_MIN || len > CONSOLE_PASSWORD_MAX || memchr(password, 0, len) ||
            !utf8_is_valid(password, len, NULL))
                return -EINVAL;
        return 0;
}

int console_password_hash(const char *password, size_t len, char out[static OPERATOR_PWHASH_MAX]) {
        if (sodium_init() < 0)
                return -EIO;
        if (console_password_check(password, len) < 0)
                return -EINVAL;
        if (crypto_pwhash_argon2id_str(out, password, len, crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE) != 0)
                return -ENOMEM;
        return 0;
}

bool console_operator_name_ok(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > OPERATOR_NAME_MAX || host_id_is_valid(s))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                      *p == '.' || *p == '-' || *p == '@'))
                        return false;
        return true;
}

/* At most CONSOLE_PWHASH_PARALLEL verifications at once: each takes 64 MiB for a moment. */
static void verify_slot_take(Console *con) {
        pthread_mutex_lock(&con->lock);
        while (con->verifying >= CONSOLE_PWHASH_PARALLEL)
                pthread_cond_wait(&con->cond, &con->lock);
        con->verifying++;
        pthread_mutex_unlock(&con->lock);
}

static void verify_slot_give(Console *con) {
        pthread_mutex_lock(&con->lock);
        con->verifying--;
        pthread_cond_signal(&con->cond);
        pthread_mutex_unlock(&con->lock);
}

/* A hash of a random password, verified against for names without an account: a login for an unknown
 * name costs what a wrong password costs. Made when the server starts (console_new()). */
int console_dummy_hash(Console *con, char out[static OPERATOR_PWHASH_MAX]) {
        pthread_mutex_lock(&con->lock);
        bool ready = con->dummy_ready;
        if (ready)
                memcpy(out, con->dummy_hash, OPERATOR_PWHASH_MAX);
        pthread_mutex_unlock(&con->lock);
        if (ready)
                return 0;
        char pw[33];
        uint8_t raw[16];
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(pw, sizeof(pw), raw, sizeof(raw));
        int r = console_password_hash(pw, 32, out);
        sodium_memzero(pw, sizeof(pw));
        if (r < 0)
                return r;
        pthread_mutex_lock(&con->lock);
        memcpy(con->dummy_hash, out, OPERATOR_PWHASH_MAX);
        con->dummy_ready = true;
        pthread_mutex_unlock(&con->lock);
        return 0;
}

/* ---- failed logins by address ---- */

static LoginThrottle *throttle_slot_locked(Console *con, const char *remote, uint64_t now, bool create) {
        LoginThrottle *oldest = &con->throttle[0];
        for (size_t i = 0; i < CONSOLE_IP_SLOTS; i++) {
                LoginThrottle *t = &con->throttle[i];
                if (t->remote[0] && streq(t->remote, remote)) {
                        if (now - t->window_start_usec >= CONSOLE_IP_WINDOW_USEC) {
                                t->window_start_usec = now;
                                t->failures = 0;
                        }
                        return t;
                }
                if (t->window_start_usec < oldest->window_start_usec)
                        oldest = t;
        }
        if (!create)
                return NULL;
        /* the table is bounded: the slot with the oldest window is reused */
        *oldest = (LoginThrottle) { .window_start_usec = now };
        snprintf(oldest->remote, sizeof(oldest->remote), "%s", remote);
        return oldest;
}

/* Seconds the address must wait, or 0. */
static uint64_t throttle_wait(Console *con, const char *remote, uint64_t now) {
        pthread_mutex_lock(&con->lock);
        LoginThrottle *t = throttle_slot_locked(con, remote, now, false);
        uint64_t wait = t && t->failures >= CONSOLE_IP_FAILURES_MAX
                                ? (t->window_start_usec + CONSOLE_IP_WINDOW_USEC - now) / 1000000u + 1 : 0;
        pthread_mutex_unlock(&con->lock);
        return wait;
}

static void throttle_failed(Console *con, const char *remote, uint64_t now) {
        pthread_mutex_lock(&con->lock);
        LoginThrottle *t = throttle_slot_locked(con, remote, now, true);
        t->failures++;
        pthread_mutex_unlock(&con->lock);
}

static uint64_t lock_until(uint32_t failures, uint64_t now) {
        if (failures < CONSOLE_LOCK_AFTER)
                return 0;
        unsigned shift = failures - CONSOLE_LOCK_AFTER;
        uint64_t d = shift >= 5 ? CONSOLE_LOCK_MAX_USEC : CONSOLE_LOCK_BASE_USEC << shift;
        return now + (d < CONSOLE_LOCK_MAX_USEC ? d : CONSOLE_LOCK_MAX_USEC);
}

/* ---- sessions ---- */

static bool lower_hex(const char *s, size_t n) {
        if (strlen(s) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* The SHA-256 of the session cookie's token: 0, -ENOENT without a cookie, -EINVAL for a malformed one. */
static int cookie_token_hash(struct MHD_Connection *c, uint8_t hash[static SHA256_SIZE]) {
        const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, CONSOLE_COOKIE);
        uint8_t token[CONSOLE_TOKEN_BYTES];
        if (!cookie)
                return -ENOENT;
        if (!lower_hex(cookie, 2 * CONSOLE_TOKEN_BYTES) ||
            sodium_hex2bin(token, sizeof(token), cookie, 2 * CONSOLE_TOKEN_BYTES, NULL, NULL, NULL) != 0)
                return -EINVAL;
        crypto_hash_sha256(hash, token, sizeof(token));
        sodium_memzero(token, sizeof(token));
        return 0;
}

unsigned console_authenticate(Server *srv, struct MHD_Connection *c, RouteAuth need, Peer *peer, const char **code,
                              char *msg, size_t msgsize) {
        Console *con = server_console(srv);
        uint8_t hash[SHA256_SIZE];
        ConsoleSession cs;
        if (!con)
                return CONSOLE_NO_COOKIE;
        int r = cookie_token_hash(c, hash);
        if (r == -ENOENT)
                return CONSOLE_NO_COOKIE;
        if (r >= 0)
                r = storage_console(con->storage)->session_get(con->storage, hash, &cs);
        if (r < 0 && storage_error_is_transient(r)) {
                *code = "storage-unavailable";
                snprintf(msg, msgsize, "the database is unavailable; try again later");
                return 503;
        }
        uint64_t now = now_realtime_usec();
        if (r < 0 || now >= cs.expires_usec || now >= cs.last_used_usec + CONSOLE_SESSION_IDLE_USEC) {
                *code = "session-expired";
                snprintf(msg, msgsize, "the console session has ended or is not known; sign in again");
                return 403;
        }
        if (need == AUTH_HOST || cs.role == ROLE_NONE || (need == AUTH_ADMIN && cs.role != ROLE_ADMIN)) {
                *code = "wrong-role";
                snprintf(msg, msgsize, need == AUTH_ADMIN ? "only an operator with role admin may do this"
                                                          : "this endpoint is not for operators");
                return 403;
        }
        if (now - cs.last_used_usec >= CONSOLE_SESSION_TOUCH_USEC) {
                r = storage_console(con->storage)->session_touch(con->storage, hash, now);
                if (r < 0)
                        log_full_errno(LOG_DEBUG, r, "Cannot note the use of a console session, ignoring: %m");
        }
        *peer = (Peer) { .authenticated = true, .kind = CERT_OPERATOR, .role = cs.role, .session = true };
        snprintf(peer->subject, sizeof(peer->subject), "%s", cs.operator_name);
        snprintf(peer->group, sizeof(peer->group), "operators");
        memcpy(peer->csrf, cs.csrf, sizeof(peer->csrf));
        return 0;
}

static int session_create(Console *con, const char *name, OperatorRole role, const char *remote, uint64_t now,
                          Reply *reply) {
        uint8_t token[CONSOLE_TOKEN_BYTES], csrf[32];
        char token_hex[2 * CONSOLE_TOKEN_BYTES + 1], expires[JOURNAL_TIMESTAMP_MAX];
        ConsoleSession cs = { .created_usec = now, .last_used_usec = now, .expires_usec = now + CONSOLE_SESSION_MAX_USEC,
                              .role = role };
        randombytes_buf(token, sizeof(token));
        randombytes_buf(csrf, sizeof(csrf));
        crypto_hash_sha256(cs.token_hash, token, sizeof(token));
        sodium_bin2hex(token_hex, sizeof(token_hex), token, sizeof(token));
        sodium_bin2hex(cs.csrf, sizeof(cs.csrf), csrf, sizeof(csrf));
        sodium_memzero(token, sizeof(token));
        snprintf(cs.operator_name, sizeof(cs.operator_name), "%s", name);
        snprintf(cs.remote, sizeof(cs.remote), "%s", remote);
        int r = storage_console(con->storage)->session_add(con->storage, &cs, CONSOLE_SESSIONS_PER_OPERATOR, now);
        if (r >= 0) {
                /* __Host-: only over HTTPS, for this host and path /, not settable by a sibling domain */
                snprintf(reply->set_cookie, sizeof(reply->set_cookie),
                         CONSOLE_COOKIE "=%s; Path=/; Max-Age=%llu; Secure; HttpOnly; SameSite=Strict", token_hex,
                         (unsigned long long) (CONSOLE_SESSION_MAX_USEC / 1000000u));
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(name));
                json_object_object_add(o, "role", json_object_new_string(operator_role_to_string(role)));
                json_object_object_add(o, "auth", json_object_new_string("session"));
                json_object_object_add(o, "csrf", json_object_new_string(cs.csrf));
                json_object_object_add(o, "expires", json_object_new_string(journal_timestamp_format(cs.expires_usec, expires)));
                reply_json(reply, 200, o);
        }
        sodium_memzero(token_hex, sizeof(token_hex));
        return r;
}

/* Reads {"name":…,"password":…}. The password stays in the request's buffers, which are wiped after. */
static int login_body(const Request *req, char name[static OPERATOR_NAME_MAX + 1], json_object **ret_o,
                      const char **ret_pw, size_t *ret_pw_len) {
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(4);
        json_object *o, *n, *p;
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, req->body, (int) req->body_len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            (size_t) json_tokener_get_parse_end(tok) != req->body_len || !json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, "name", &n) || !json_object_is_type(n, json_type_string) ||
            !json_object_object_get_ex(o, "password", &p) || !json_object_is_type(p, json_type_string) ||
            !console_operator_name_ok(json_object_get_string(n))) {
                json_object_put(o);
                return -EINVAL;
        }
        snprintf(name, OPERATOR_NAME_MAX + 1, "%s", json_object_get_string(n));
        *ret_pw = json_object_get_string(p);
        *ret_pw_len = (size_t) json_object_get_string_len(p);
        *ret_o = o;
        return 0;
}

static void wipe(const char *p, size_t n) {
        if (p)
                sodium_memzero((void *) p, n);
}

int api_console_login(Server *srv, const Request *req, Reply *reply) {
        Console *con = server_console(srv);
        const StorageConsoleOps *ops = storage_console(con->storage);
        char name[OPERATOR_NAME_MAX + 1], remote[ACCESS_REMOTE_MAX], hash[OPERATOR_PWHASH_MAX];
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *pw = NULL;
        size_t pw_len = 0;
        uint64_t now = now_realtime_usec(), wait;
        OperatorAccount acc;
        int r;

        const char *type = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!type || strncasecmp(type, "application/json", 16) != 0) {
                reply_error(reply, 415, "json-required", 0, "the login is a JSON body (Content-Type: application/json)");
                return 0;
        }
        console_remote(req->connection, remote);
        if ((wait = throttle_wait(con, remote, now)) > 0) {
                reply_error(reply, 429, "too-many-failures", 0,
                            "too many failed logins from this address; try again in %llu seconds", (unsigned long long) wait);
                return 0;
        }
        r = login_body(req, name, &o, &pw, &pw_len);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                throttle_failed(con, remote, now);
                wipe(req->body, req->body_len);
                reply_error(reply, 400, "malformed", 0, "expected {\"name\":…,\"password\":…} with an operator name");
                return 0;
        }

        r = ops->operator_get(con->storage, name, &acc);
        bool known = r >= 0 && acc.role != ROLE_NONE;
        if (r < 0 && r != -ENOENT) {
                wipe(pw, pw_len);
                wipe(req->body, req->body_len);
                return r;
        }
        if (known && acc.locked_until_usec > now) {
                wipe(pw, pw_len);
                wipe(req->body, req->body_len);
                r = console_access_login(srv, req->connection, name, 429);
                if (r < 0)
                        return r;
                reply_error(reply, 429, "account-locked", 0, "too many failed logins for this name; try again in %llu seconds",
                            (unsigned long long) ((acc.locked_until_usec - now) / 1000000u + 1));
                return 0;
        }
        if (!known) {
                r = console_dummy_hash(con, hash);
                if (r < 0) {
                        wipe(pw, pw_len);
                        wipe(req->body, req->body_len);
                        return r;
                }
        } else
                memcpy(hash, acc.pwhash, sizeof(hash));
        verify_slot_take(con);
        bool ok = crypto_pwhash_str_verify(hash, pw, pw_len) == 0 && known &&
                  console_password_check(pw, pw_len) >= 0;
        verify_slot_give(con);
        wipe(pw, pw_len);
        wipe(req->body, req->body_len);
        sodium_memzero(hash, sizeof(hash));
        sodium_memzero(acc.pwhash, sizeof(acc.pwhash));

        if (!ok) {
                throttle_failed(con, remote, now);
                if (known) {
                        r = ops->operator_login_result(con->storage, name, false, now, lock_until(acc.failures + 1, now));
                        if (r < 0 && r != -ENOENT)
                                return r;
                }
                r = console_access_login(srv, req->connection, name, 401);
                if (r < 0)
                        return r;
                log_info("Console: failed login for '%s' from %s.", name, remote);
                /* the same answer for an unknown name and a wrong password */
                reply_error(reply, 401, "login-failed", 0, "wrong name or password");
                return 0;
        }
        r = ops->operator_login_result(con->storage, name, true, now, 0);
        if (r < 0)
                return r;
        r = console_access_login(srv, req->connection, name, 200);
        if (r < 0)
                return r;
        r = session_create(con, name, acc.role, remote, now, reply);
        if (r < 0)
                return r;
        log_info("Console: %s (%s) signed in from %s.", name, operator_role_to_string(acc.role), remote);
        return 0;
}

int api_console_logout(Server *srv, const Request *req, Reply *reply) {
        Console *con = server_console(srv);
        uint8_t hash[SHA256_SIZE];
        if (!req->peer->session || cookie_token_hash(req->connection, hash) < 0) {
                reply_error(reply, 400, "no-session", 0, "this request was not made with a console session");
                return 0;
        }
        int r = storage_console(con->storage)->session_remove(con->storage, hash);
        if (r < 0)
                return r;
        snprintf(reply->set_cookie, sizeof(reply->set_cookie),
                 CONSOLE_COOKIE "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict");
        json_object *o = json_object_new_object();
        json_object_object_add(o, "signed_out", json_object_new_boolean(true));
        reply_json(reply, 200, o);
        return 0;
}

int api_console_session(Server *srv, const Request *req, Reply *reply) {
        json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "name", json_object_new_string(req->peer->subject));
        json_object_object_add(o, "role", json_object_new_string(operator_role_to_string(req->peer->role)));
        json_object_object_add(o, "auth", json_object_new_string(req->peer->session ? "session" : "certificate"));
        json_object_object_add(o, "csrf", json_object_new_string(req->peer->session ? req->peer->csrf : ""));
        json_object_object_add(o, "version", json_object_new_string(MNGUARD_VERSION));
        reply_json(reply, 200, o);
        return 0;
}
