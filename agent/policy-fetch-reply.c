/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Decoding a GET /v1/policy reply (docs/collector-api.md). Everything in it is untrusted: sizes are
 * bounded before decoding, base64 is strict (libsodium, original alphabet with padding, nothing
 * ignored), numbers must be non-negative integers. Nothing here decides: the manager checks signatures,
 * serials and host ids. Pure: no I/O, no logging. */
#include <errno.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "exception.h"
#include "policy-fetch.h"
#include "policy.h"
#include "sign.h"

#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

/* Decodes base64 text of at most max decoded bytes into a new NUL-terminated buffer. -EFBIG too large,
 * -EBADMSG not valid base64, -ENOMEM. */
static int decode_b64(const char *s, size_t len, size_t max, char **ret, size_t *ret_size) {
        if (len > sodium_base64_ENCODED_LEN(max, B64_VARIANT) - 1)
                return -EFBIG;
        size_t cap = len / 4 * 3 + 3;
        char *out = malloc(cap + 1);
        size_t n = 0;
        if (!out)
                return -ENOMEM;
        if (sodium_base642bin((unsigned char *) out, cap, s, len, NULL, &n, NULL, B64_VARIANT) != 0) {
                free(out);
                return -EBADMSG;
        }
        if (n > max) {
                free(out);
                return -EFBIG;
        }
        out[n] = 0;
        *ret = out;
        *ret_size = n;
        return 0;
}

/* A non-negative JSON integer. */
static bool get_u64(json_object *o, const char *key, uint64_t *ret) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0)
                return false;
        *ret = json_object_get_uint64(v);
        return true;
}

static const char *get_string(json_object *o, const char *key, size_t *ret_len) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        *ret_len = (size_t) json_object_get_string_len(v);
        return json_object_get_string(v);
}

static const char *b64_error(int r, const char *too_large, const char *invalid) {
        return r == -EFBIG ? too_large : invalid;
}

static int decode_policy(json_object *pol, PolicyFetchReply *p) {
        const char *data, *sig;
        size_t data_len = 0, sig_len = 0;
        uint64_t serial;
        int r;

        p->has_policy = true;
        p->policy_serial = p->group_serial;
        if (!json_object_is_type(pol, json_type_object)) {
                p->policy_error = "policy from the collector: not an object";
                return 0;
        }
        if (get_u64(pol, "serial", &serial))
                p->policy_serial = serial;
        data = get_string(pol, "data", &data_len);
        sig = get_string(pol, "signature", &sig_len);
        if (!data) {
                p->policy_error = "policy from the collector: no data";
                return 0;
        }
        if (!sig) {
                p->policy_error = "policy from the collector: no signature";
                return 0;
        }
        r = decode_b64(data, data_len, POLICY_MAX_FILE_SIZE, &p->policy, &p->policy_size);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                p->policy_error = b64_error(r, "policy from the collector: larger than a policy may be",
                                            "policy from the collector: data is not valid base64");
                return 0;
        }
        r = decode_b64(sig, sig_len, SIGN_MAX_TEXT, &p->signature, &p->signature_size);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                free(p->policy);
                p->policy = NULL;
                p->policy_size = 0;
                p->policy_error = b64_error(r, "policy from the collector: signature too large",
                                            "policy from the collector: signature is not valid base64");
        }
        return 0;
}

static int decode_ticket(json_object *t, PolicyFetchTicket *ret) {
        const char *data;
        size_t len = 0;
        *ret = (PolicyFetchTicket) {};
        if (!json_object_is_type(t, json_type_object) || !get_u64(t, "id", &ret->id) || ret->id == 0) {
                ret->id = 0;
                ret->error = "ticket from the collector without an id";
                return 0;
        }
        data = get_string(t, "data", &len);
        if (!data) {
                ret->error = "ticket from the collector without data";
                return 0;
        }
        int r = decode_b64(data, len, EXCEPTION_MAX_FILE, &ret->data, &ret->size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                ret->error = b64_error(r, "ticket from the collector is too large",
                                       "ticket from the collector is not valid base64");
        return 0;
}

static int ticket_compare(const void *a, const void *b) {
        uint64_t x = ((const PolicyFetchTicket *) a)->id, y = ((const PolicyFetchTicket *) b)->id;
        return x < y ? -1 : x > y;
}

int policy_fetch_reply_parse(const char *body, size_t size, uint64_t tickets_after_sent, PolicyFetchReply *ret,
                             const char **ret_error) {
        PolicyFetchReply p = { .tickets_after = tickets_after_sent };
        json_object *o = NULL, *pol, *tickets = NULL;
        const char *error = NULL;
        uint64_t after;
        int r = -EBADMSG;

        if (size > POLICY_FETCH_REPLY_MAX || size > INT32_MAX) {
                error = "reply too large";
                goto out;
        }
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, body, (int) size);
        bool complete = json_tokener_get_error(tok) == json_tokener_success &&
                        json_tokener_get_parse_end(tok) == size;
        json_tokener_free(tok);
        if (!o || !complete || !json_object_is_type(o, json_type_object)) {
                error = "reply is not a JSON object";
                goto out;
        }
        if (!get_u64(o, "serial", &p.group_serial)) {
                error = "reply without a serial";
                goto out;
        }
        if (json_object_object_get_ex(o, "tickets", &tickets) && !json_object_is_type(tickets, json_type_null) &&
            !json_object_is_type(tickets, json_type_array)) {
                error = "reply whose tickets are not an array";
                goto out;
        }
        if (json_object_object_get_ex(o, "tickets_after", NULL)) {
                if (!get_u64(o, "tickets_after", &after)) {
                        error = "reply with an invalid tickets_after";
                        goto out;
                }
                if (after > p.tickets_after)
                        p.tickets_after = after;
        }

        if (json_object_object_get_ex(o, "policy", &pol) && !json_object_is_type(pol, json_type_null)) {
                r = decode_policy(pol, &p);
                if (r < 0)
                        goto out;
        }

        size_t n = tickets && json_object_is_type(tickets, json_type_array) ? json_object_array_length(tickets) : 0;
        if (n > 0) {
                p.tickets = calloc(n, sizeof(PolicyFetchTicket));
                if (!p.tickets) {
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t i = 0; i < n; i++) {
                        PolicyFetchTicket *t = &p.tickets[p.n_tickets];
                        r = decode_ticket(json_object_array_get_idx(tickets, i), t);
                        if (r < 0)
                                goto out;
                        if (t->id != 0 && t->id <= tickets_after_sent) {
                                /* received before: its one use is recorded already */
                                free(t->data);
                                continue;
                        }
                        p.n_tickets++;
                }
                qsort(p.tickets, p.n_tickets, sizeof(PolicyFetchTicket), ticket_compare);
                if (p.n_tickets > POLICY_FETCH_TICKETS_MAX) {
                        /* the rest (higher ids) come with the next request */
                        for (size_t i = POLICY_FETCH_TICKETS_MAX; i < p.n_tickets; i++)
                                free(p.tickets[i].data);
                        p.n_tickets = POLICY_FETCH_TICKETS_MAX;
                        uint64_t last = p.tickets[p.n_tickets - 1].id;
                        p.tickets_after = last > tickets_after_sent ? last : tickets_after_sent;
                } else if (p.n_tickets > 0 && p.tickets[p.n_tickets - 1].id > p.tickets_after)
                        p.tickets_after = p.tickets[p.n_tickets - 1].id;
        }
        r = 0;
out:
        json_object_put(o);
        if (r < 0) {
                policy_fetch_reply_clear(&p);
                if (ret_error)
                        *ret_error = error ?: "out of memory";
                return r;
        }
        *ret = p;
        return 0;
}

void policy_fetch_reply_clear(PolicyFetchReply *r) {
        if (!r)
                return;
        free(r->policy);
        free(r->signature);
        for (size_t i = 0; i < r->n_tickets; i++)
                free(r->tickets[i].data);
        free(r->tickets);
        *r = (PolicyFetchReply) {};
}
