/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "exception.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"
#include "macro.h"
#include "strutil.h"

void exception_clear(Exception *e) {
        free(e->serial);
        free(e->reason);
        *e = (Exception) {};
}

static bool hex_string(const char *s, size_t len) {
        return s && strlen(s) == len && lowercase_hex_valid(s, len);
}

static const char *str(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        const char *s = json_object_get_string(v);
        /* "\u0000" inside would make the C string a prefix of what was signed: not a valid field */
        return strlen(s) == (size_t) json_object_get_string_len(v) ? s : NULL;
}

int exception_parse(const char *data, size_t n, const SignPublicKey *trusted, size_t n_trusted, Exception *ret,
                    const char **ret_reason) {
        const char *reason = "malformed ticket";
        Exception e = {};
        int r = -EBADMSG;

        if (n > EXCEPTION_MAX_FILE) {
                *ret_reason = "ticket file too large";
                return -EFBIG;
        }
        const char *nl = memchr(data, '\n', n);
        if (!nl) {
                *ret_reason = "ticket has no signature";
                return -EBADMSG;
        }
        size_t jlen = (size_t) (nl - data);
        const char *keyid = NULL;
        r = sign_verify(trusted, n_trusted, SIGN_CONTEXT_TICKET, data, jlen, nl + 1, n - jlen - 1, &keyid);
        if (r < 0) {
                *ret_reason = r == -ENOKEY ? "ticket signed with a key that is not trusted"
                            : r == -EKEYREJECTED ? "bad ticket signature" : "malformed ticket signature";
                return r;
        }

        _cleanup_free_ char *line = strndup(data, jlen);
        json_tokener *tok = json_tokener_new_ex(4);
        json_object *o = line && tok ? json_tokener_parse_ex(tok, line, (int) jlen) : NULL;
        json_tokener_free(tok);
        json_object *dev, *ver;
        const char *s;
        r = -EBADMSG;
        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "mnguard-ticket", &ver) ||
            json_object_get_int(ver) != 1)
                goto finish;
        reason = "ticket id must be 16 hex digits";
        if (!hex_string(s = str(o, "id"), EXCEPTION_ID_HEX))
                goto finish;
        memcpy(e.id, s, EXCEPTION_ID_HEX + 1);
        reason = "ticket host_id must be 32 hex digits";
        if (!hex_string(s = str(o, "host_id"), 32))
                goto finish;
        memcpy(e.host_id, s, 33);
        reason = "ticket device must name vendor, product and serial";
        if (!json_object_object_get_ex(o, "device", &dev) || parse_hex4(str(dev, "vendor"), &e.vendor) < 0 ||
            parse_hex4(str(dev, "product"), &e.product) < 0 || isempty(str(dev, "serial")) ||
            strlen(str(dev, "serial")) > POLICY_MAX_NAME)
                goto finish;
        e.serial = strdup(str(dev, "serial"));
        reason = "ticket access must be read-only or read-write";
        s = str(o, "access");
        if (!s || (media_access_from_string(s) != MEDIA_READ_ONLY && media_access_from_string(s) != MEDIA_READ_WRITE))
                goto finish;
        e.access = (MediaAccess) media_access_from_string(s);
        reason = "ticket not_before/not_after must be RFC 3339 times, not_before < not_after";
        const char *nb = str(o, "not_before"), *na = str(o, "not_after");
        if (!nb || !na || journal_timestamp_parse(nb, strlen(nb), &e.not_before_usec) < 0 ||
            journal_timestamp_parse(na, strlen(na), &e.not_after_usec) < 0 || e.not_before_usec >= e.not_after_usec)
                goto finish;
        s = str(o, "reason");
        if (s)
                e.reason = untrusted_sanitize(s, strlen(s), 512);
        if (!e.serial || (s && !e.reason)) {
                r = -ENOMEM;
                goto finish;
        }
        memcpy(e.keyid, keyid, SIGN_KEYID_HEX + 1);
        snprintf(e.rule, sizeof(e.rule), "exception:%s", e.id);
        r = 0;
finish:
        json_object_put(o);
        if (r < 0) {
                exception_clear(&e);
                *ret_reason = reason;
                return r;
        }
        *ret = e;
        return 0;
}

bool exception_matches(const Exception *e, const MnDevice *d) {
        return d->has_ids && d->vendor == e->vendor && d->product == e->product && d->serial &&
               streq(d->serial, e->serial);
}

int exception_format(const Exception *e, char **ret) {
        char ts[2][JOURNAL_TIMESTAMP_MAX], ids[2][5];
        json_object *o = json_object_new_object(), *dev = json_object_new_object();
        snprintf(ids[0], sizeof(ids[0]), "%04x", e->vendor);
        snprintf(ids[1], sizeof(ids[1]), "%04x", e->product);
        json_object_object_add(o, "mnguard-ticket", json_object_new_int(1));
        json_object_object_add(o, "id", json_object_new_string(e->id));
        json_object_object_add(o, "host_id", json_object_new_string(e->host_id));
        json_object_object_add(dev, "vendor", json_object_new_string(ids[0]));
        json_object_object_add(dev, "product", json_object_new_string(ids[1]));
        json_object_object_add(dev, "serial", json_object_new_string(e->serial));
        json_object_object_add(o, "device", dev);
        json_object_object_add(o, "access", json_object_new_string(media_access_to_string(e->access)));
        json_object_object_add(o, "not_before", json_object_new_string(journal_timestamp_format(e->not_before_usec, ts[0])));
        json_object_object_add(o, "not_after", json_object_new_string(journal_timestamp_format(e->not_after_usec, ts[1])));
        if (e->reason)
                json_object_object_add(o, "reason", json_object_new_string(e->reason));
        char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
