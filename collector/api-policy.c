/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policies and tickets over HTTP (docs/collector-api.md): a terminal's long-poll GET /v1/policy, and the
 * admin's POST /v1/policy, POST /v1/tickets, GET /v1/policies. */
#include <errno.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "exception.h"
#include "log.h"
#include "output.h"
#include "policy.h"
#include "publish.h"
#include "server.h"
#include "strutil.h"

#define POLICIES_LIST_DEFAULT 100u
#define POLICIES_LIST_MAX 10000u
#define POLL_RECHECKS 3         /* reads of the database in one run when things change meanwhile */

static json_object *base64_json(const char *data, size_t n) {
        size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
        char *b = malloc(len);
        if (!b)
                return NULL;
        sodium_bin2base64(b, len, (const unsigned char *) data, n, sodium_base64_VARIANT_ORIGINAL);
        json_object *o = json_object_new_string_len(b, (int) strlen(b));
        free(b);
        return o;
}

/* Decodes a base64 string member of o; -EINVAL when missing or not base64, -EFBIG above max. */
static int base64_member(json_object *o, const char *key, size_t max, char **ret, size_t *ret_len) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return -EINVAL;
        const char *s = json_object_get_string(v);
        size_t n = (size_t) json_object_get_string_len(v);
        if (n / 4 * 3 > max + 3)
                return -EFBIG;
        char *b = malloc(n / 4 * 3 + 4);
        if (!b)
                return -ENOMEM;
        size_t len = 0;
        const char *end = NULL;
        if (sodium_base642bin((unsigned char *) b, n / 4 * 3 + 3, s, n, NULL, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            end != s + n) {
                free(b);
                return -EINVAL;
        }
        if (len > max) {
                free(b);
                return -EFBIG;
        }
        b[len] = 0;
        *ret = b;
        *ret_len = len;
        return 0;
}

static int u64_arg(const Request *req, const char *name, uint64_t max, uint64_t *ret) {
        const char *v = MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
        if (!v)
                return 0;
        uint64_t x;
        if (strlen(v) > 20 || parse_u64(v, &x) < 0 || x > max)
                return -EINVAL;
        *ret = x;
        return 0;
}

typedef struct TicketsCtx {
        json_object *array;
        int64_t last;
} TicketsCtx;

static int ticket_add(const TicketRecord *t, void *userdata) {
        TicketsCtx *c = userdata;
        json_object *o = json_object_new_object(), *d = base64_json(t->data, t->data_len);
        if (!o || !d) {
                json_object_put(o);
                json_object_put(d);
                return -ENOMEM;
        }
        json_object_object_add(o, "id", json_object_new_int64(t->id));
        json_object_object_add(o, "ticket_id", json_object_new_string(t->ticket_id));
        json_object_object_add(o, "data", d);
        json_object_array_add(c->array, o);
        c->last = t->id;
        return 0;
}

int api_policy_get(Server *srv, const Request *req, Reply *reply) {
        Storage *st = server_storage(srv);
        const char *host_id = req->peer->subject;
        uint64_t serial = 0, after = 0, wait = 0;
        HostState h = {};
        char group[GROUP_NAME_MAX + 1];
        int r;

        if (u64_arg(req, "serial", INT64_MAX, &serial) < 0 || u64_arg(req, "tickets-after", INT64_MAX, &after) < 0 ||
            u64_arg(req, "wait", POLICY_WAIT_MAX_SEC, &wait) < 0) {
                reply_error(reply, 400, "bad-argument", 0, "serial and tickets-after must be numbers, wait 0-%d seconds",
                            POLICY_WAIT_MAX_SEC);
                return 0;
        }
        /* the group the administrator assigned (hosts table), else the one of the enrollment token */
        r = storage_host_get(st, host_id, &h);
        if (r < 0 && r != -ENOENT)
                return r;
        snprintf(group, sizeof(group), "%s", h.group ?: req->peer->group[0] ? req->peer->group : GROUP_DEFAULT);
        host_state_done(&h);

        for (unsigned attempt = 0;; attempt++) {
                uint64_t generation = server_wait_begin(srv, req, (unsigned) wait);
                PolicyRecord p = {};
                r = storage_policy_latest(st, group, false, &p);
                if (r < 0 && r != -ENOENT)
                        return r;
                TicketsCtx tc = { .array = json_object_new_array(), .last = (int64_t) after };
                if (!tc.array)
                        return -ENOMEM;
                r = storage_tickets_after(st, host_id, (int64_t) after, PUBLISH_TICKETS_PER_POLL, ticket_add, &tc);
                if (r < 0) {
                        json_object_put(tc.array);
                        return r;
                }
                bool news = p.serial > serial || json_object_array_length(tc.array) > 0;
                if (!news && wait > 0 && attempt < POLL_RECHECKS) {
                        r = server_wait(srv, req, generation, group, serial);
                        if (r == SERVER_SUSPENDED || r == -EAGAIN) {
                                json_object_put(tc.array);
                                if (r == SERVER_SUSPENDED)
                                        return r;
                                continue;
                        }
                }
                json_object *o = json_object_new_object();
                if (!o) {
                        json_object_put(tc.array);
                        return -ENOMEM;
                }
                json_object_object_add(o, "group", json_object_new_string(group));
                json_object_object_add(o, "serial", json_object_new_uint64(p.serial));
                if (p.serial > serial) {
                        PolicyRecord full = {};
                        r = storage_policy_latest(st, group, true, &full);
                        if (r < 0) {
                                json_object_put(o);
                                json_object_put(tc.array);
                                return r == -ENOENT ? -EIO : r;
                        }
                        json_object *pj = policy_record_to_json(&full);
                        json_object *d = base64_json(full.data, full.data_len), *sg = base64_json(full.signature, full.signature_len);
                        json_object_object_add(o, "serial", json_object_new_uint64(full.serial));
                        policy_record_done(&full);
                        if (!pj || !d || !sg) {
                                json_object_put(pj);
                                json_object_put(d);
                                json_object_put(sg);
                                json_object_put(o);
                                json_object_put(tc.array);
                                return -ENOMEM;
                        }
                        json_object_object_add(pj, "data", d);
                        json_object_object_add(pj, "signature", sg);
                        json_object_object_add(o, "policy", pj);
                        log_info("Host %s (group %s) fetched policy %llu.", host_id, group, (unsigned long long) p.serial);
                }
                json_object_object_add(o, "tickets", tc.array);
                json_object_object_add(o, "tickets_after", json_object_new_int64(tc.last));
                reply_json(reply, 200, o);
                return 0;
        }
}

static int publish_refused(Reply *reply, const PublishError *err) {
        if (err->status == 503)
                reply->retry_after = true;
        reply_error(reply, err->status, err->code, err->line, "%s", err->message);
        return 0;
}

static int body_object(const Request *req, Reply *reply, json_object **ret) {
        json_tokener *t = json_tokener_new_ex(8);
        if (!t)
                return -ENOMEM;
        json_object *o = json_tokener_parse_ex(t, req->body, (int) req->body_len);
        bool ok = o && json_tokener_get_error(t) == json_tokener_success && json_object_is_type(o, json_type_object) &&
                  (size_t) json_tokener_get_parse_end(t) == req->body_len;
        json_tokener_free(t);
        if (!ok) {
                json_object_put(o);
                reply_error(reply, 400, "malformed", 0, "the body must be one JSON object");
                return -EINVAL;
        }
        *ret = o;
        return 0;
}

int api_policy_publish(Server *srv, const Request *req, Reply *reply) {
        _cleanup_free_ char *data = NULL, *sig = NULL;
        size_t size = 0, sig_size = 0, n_trusted;
        json_object *o = NULL, *g;
        PublishError err;
        PolicyRecord rec;

        int r = body_object(req, reply, &o);
        if (r < 0)
                return r == -EINVAL ? 0 : r;
        const char *group = json_object_object_get_ex(o, "group", &g) && json_object_is_type(g, json_type_string)
                                    ? json_object_get_string(g) : GROUP_DEFAULT;
        char grp[GROUP_NAME_MAX + 2];
        snprintf(grp, sizeof(grp), "%s", group);
        r = base64_member(o, "data", POLICY_MAX_FILE_SIZE, &data, &size);
        if (r >= 0)
                r = base64_member(o, "signature", SIGN_MAX_TEXT, &sig, &sig_size);
        json_object_put(o);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                reply_error(reply, 400, "malformed", 0, "data and signature must be base64 strings (at most %d and %d bytes)",
                            POLICY_MAX_FILE_SIZE, SIGN_MAX_TEXT);
                return 0;
        }
        const SignPublicKey *trusted = server_trusted_keys(srv, &n_trusted);
        r = publish_policy(server_storage(srv), trusted, n_trusted, grp, data, size, sig, sig_size, req->peer->subject,
                           &rec, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_notice("Operator %s: publishing to group %s refused: %s", req->peer->subject, grp, err.message);
                return publish_refused(reply, &err);
        }
        log_info("Operator %s published policy %llu \"%s\" (key %s) to group %s.", req->peer->subject,
                 (unsigned long long) rec.serial, rec.name, rec.key_id, rec.group);
        server_published(srv);
        reply_json(reply, 200, policy_record_to_json(&rec));
        return 0;
}

int api_ticket_queue(Server *srv, const Request *req, Reply *reply) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0, n_trusted;
        json_object *o = NULL;
        PublishError err;
        TicketRecord t;

        int r = body_object(req, reply, &o);
        if (r < 0)
                return r == -EINVAL ? 0 : r;
        r = base64_member(o, "data", EXCEPTION_MAX_FILE, &data, &size);
        json_object_put(o);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                reply_error(reply, 400, "malformed", 0, "data must be the ticket file in base64 (at most %d bytes)",
                            EXCEPTION_MAX_FILE);
                return 0;
        }
        const SignPublicKey *trusted = server_trusted_keys(srv, &n_trusted);
        r = publish_ticket(server_storage(srv), trusted, n_trusted, data, size, req->peer->subject, &t, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return publish_refused(reply, &err);
        log_info("Operator %s queued ticket %s for host %s.", req->peer->subject, t.ticket_id, t.host_id);
        server_published(srv);
        json_object *j = json_object_new_object();
        if (j) {
                json_object_object_add(j, "id", json_object_new_int64(t.id));
                json_object_object_add(j, "ticket_id", json_object_new_string(t.ticket_id));
                json_object_object_add(j, "host_id", json_object_new_string(t.host_id));
        }
        reply_json(reply, 200, j);
        return 0;
}

static int policy_list_add(const PolicyRecord *p, void *userdata) {
        json_object *o = policy_record_to_json(p);
        if (!o)
                return -ENOMEM;
        json_object_array_add(userdata, o);
        return 0;
}

int api_policies(Server *srv, const Request *req, Reply *reply) {
        const char *group = MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, "group");
        uint64_t limit = POLICIES_LIST_DEFAULT;
        if (group && !group_name_is_valid(group)) {
                reply_error(reply, 400, "bad-argument", 0, "group must be 1-%d characters of A-Z a-z 0-9 _ . -", GROUP_NAME_MAX);
                return 0;
        }
        if (u64_arg(req, "limit", POLICIES_LIST_MAX, &limit) < 0 || limit == 0) {
                reply_error(reply, 400, "bad-argument", 0, "limit must be 1-%u", POLICIES_LIST_MAX);
                return 0;
        }
        json_object *a = json_object_new_array();
        if (!a)
                return -ENOMEM;
        int r = storage_policies(server_storage(srv), group, limit, policy_list_add, a);
        if (r < 0) {
                json_object_put(a);
                return r;
        }
        reply_json(reply, 200, a);
        return 0;
}
