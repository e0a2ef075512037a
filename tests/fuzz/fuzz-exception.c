/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: exception tickets (agent/exception.c exception_parse), trusted key fixed
 * (fuzz-keys.h). First byte even: the rest is a whole ticket file (JSON line, newline, signature block),
 * as mnguardctl exception import hands it over; the seeds are tickets signed with the fixed key
 * (make-fuzz-seeds), so mutations reach both the signature block and, when they keep it valid, the JSON.
 * Odd: the rest is the JSON line alone and this target signs it with the fixed key first: the ticket's
 * JSON parsed behind a valid signature, as only an administrator could produce it, without weakening
 * the production path (the signature is checked as always).
 * Invariants: an accepted ticket has well-formed fields, formats (exception_format) to a line that
 * parses back to the same ticket, and matches the device it names. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "exception.h"
#include "fuzz-keys.h"
#include "fuzz-util.h"
#include "macro.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_object *parse_json_line(const char *s, size_t n) {
        json_tokener *tok = json_tokener_new_ex(4);
        json_object *o = tok ? json_tokener_parse_ex(tok, s, (int) n) : NULL;
        json_tokener_free(tok);
        return o;
}

static SignSecretKey secret;
static SignPublicKey trusted;

static void setup(void) {
        static bool done;
        if (!done) {
                FUZZ_CHECK(fuzz_keys(&secret, &trusted) == 0);
                done = true;
        }
}

/* line (no newline in it) and its signature with the fixed key, as a ticket file */
static char *sign_line(const char *line, size_t len, size_t *ret_len) {
        char *sig = NULL, *file = NULL;
        if (sign_detached(&secret, SIGN_CONTEXT_TICKET, line, len, &sig) < 0)
                return NULL;
        size_t slen = strlen(sig);
        file = malloc(len + 1 + slen);
        if (file) {
                memcpy(file, line, len);
                file[len] = '\n';
                memcpy(file + len + 1, sig, slen);
                *ret_len = len + 1 + slen;
        }
        free(sig);
        return file;
}

/* The ticket's strings as its JSON says them (escapes decoded, NULs kept): what was signed is what is
 * granted, not a prefix of it. */
static void check_same_strings(const char *file, size_t n, const Exception *e) {
        const char *nl = memchr(file, '\n', n);
        json_object *o = parse_json_line(file, (size_t) (nl - file)), *dev, *v;
        if (!o)
                return;
        FUZZ_CHECK(json_object_object_get_ex(o, "id", &v) && (size_t) json_object_get_string_len(v) == strlen(e->id));
        FUZZ_CHECK(json_object_object_get_ex(o, "host_id", &v) &&
                   (size_t) json_object_get_string_len(v) == strlen(e->host_id));
        FUZZ_CHECK(json_object_object_get_ex(o, "device", &dev) && json_object_object_get_ex(dev, "serial", &v) &&
                   (size_t) json_object_get_string_len(v) == strlen(e->serial));
        json_object_put(o);
}

static void check_accepted(const Exception *e) {
        FUZZ_CHECK(strlen(e->id) == EXCEPTION_ID_HEX && lowercase_hex_valid(e->id, EXCEPTION_ID_HEX));
        FUZZ_CHECK(strlen(e->host_id) == 32 && lowercase_hex_valid(e->host_id, 32));
        FUZZ_CHECK(e->serial && *e->serial && strlen(e->serial) <= POLICY_MAX_NAME);
        FUZZ_CHECK(e->access == MEDIA_READ_ONLY || e->access == MEDIA_READ_WRITE);
        FUZZ_CHECK(e->not_before_usec < e->not_after_usec);
        FUZZ_CHECK(!e->reason || (strlen(e->reason) <= 512 + 3 && utf8_is_valid(e->reason, strlen(e->reason), NULL)));
        FUZZ_CHECK(streq(e->keyid, trusted.keyid));

        /* the device it names is matched, another serial is not */
        MnDevice d = { .has_ids = true, .vendor = e->vendor, .product = e->product, .serial = e->serial };
        FUZZ_CHECK(exception_matches(e, &d));
        char *other = NULL;
        FUZZ_CHECK(asprintf(&other, "%sx", e->serial) > 0);
        d.serial = other;
        FUZZ_CHECK(!exception_matches(e, &d));
        free(other);

        /* formatted and signed again, it parses to the same ticket */
        char *line = NULL, *file = NULL;
        size_t flen = 0;
        FUZZ_CHECK(exception_format(e, &line) == 0);
        FUZZ_CHECK(!strchr(line, '\n'));
        file = sign_line(line, strlen(line), &flen);
        FUZZ_CHECK(file);
        Exception again = {};
        const char *why = NULL;
        int r = exception_parse(file, flen, &trusted, 1, &again, &why);
        if (r == -ENOMEM)
                goto finish;
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(streq(again.id, e->id) && streq(again.host_id, e->host_id));
        FUZZ_CHECK(again.vendor == e->vendor && again.product == e->product && streq(again.serial, e->serial));
        FUZZ_CHECK(again.access == e->access);
        FUZZ_CHECK(again.not_before_usec == e->not_before_usec && again.not_after_usec == e->not_after_usec);
        FUZZ_CHECK((!again.reason && !e->reason) || (again.reason && e->reason && streq(again.reason, e->reason)));
        FUZZ_CHECK(streq(again.rule, e->rule));
finish:
        exception_clear(&again);
        free(line);
        free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *owned = NULL;
        const char *file;
        size_t n;

        setup();
        if (size == 0)
                return 0;
        if (data[0] % 2 == 0) {
                file = (const char *) data + 1;
                n = size - 1;
        } else {
                /* the ticket's JSON is one line: it ends at the first newline */
                const char *line = (const char *) data + 1, *nl = memchr(line, '\n', size - 1);
                owned = sign_line(line, nl ? (size_t) (nl - line) : size - 1, &n);
                if (!owned)
                        return 0;
                file = owned;
        }

        Exception e = {};
        const char *why = NULL;
        int r = exception_parse(file, n, &trusted, 1, &e, &why);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG || r == -EKEYREJECTED || r == -ENOKEY || r == -EFBIG || r == -ENOMEM);
                FUZZ_CHECK(r == -ENOMEM || (why && *why));
        } else {
                FUZZ_CHECK(r == 0);
                check_same_strings(file, n, &e);
                check_accepted(&e);
                exception_clear(&e);
        }
        free(owned);
        return 0;
}
