/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the daemon's control socket requests (agent/control.c). The input is what a client
 * writes: newline-delimited lines, each parsed as the server parses it (control_request_parse), then
 * every member run through the verbs' argument parsers (control_arg_string/control_arg_u64, with the
 * bounds daemon-verbs.c uses) and the accepted strings put into an event record as the verbs do.
 * Invariants: an accepted string is within its bound, valid UTF-8 without NUL; an event built from
 * accepted strings serializes to JSON that parses back with the same values. */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "control.h"
#include "event.h"
#include "fuzz-util.h"
#include "macro.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The string bounds of daemon-verbs.c: order (16), selection (32), sha256 and schemes (64), filters,
 * queues, apps (256), titles and notes (1024), paths (4096). */
static const size_t bounds[] = { 16, 32, 64, 256, 1024, 4096 };

static void check_member(json_object *req, const char *key, json_object *ev) {
        for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
                const char *s = (const char *) 1;
                int r = control_arg_string(req, key, bounds[b], &s);
                if (r < 0) {
                        FUZZ_CHECK(r == -EINVAL);
                        continue;
                }
                if (!s)
                        continue;
                size_t n = strlen(s);
                FUZZ_CHECK(n <= bounds[b]);
                FUZZ_CHECK(utf8_is_valid(s, n, NULL));
                mn_event_set_untrusted(mn_event_section(ev, "fuzz"), key, s);
        }
        uint64_t v = 1;
        int r = control_arg_u64(req, key, &v);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        if (r == 0) {
                json_object *o;
                if (json_object_object_get_ex(req, key, &o) && !json_object_is_type(o, json_type_null))
                        FUZZ_CHECK(json_object_is_type(o, json_type_int));
                else
                        FUZZ_CHECK(v == 0);
        }
}

static void check_event(json_object *ev) {
        const char *text = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        FUZZ_CHECK(text);
        json_object *back = json_tokener_parse(text);
        FUZZ_CHECK(back);
        json_object *a, *b;
        if (json_object_object_get_ex(ev, "fuzz", &a)) {
                FUZZ_CHECK(json_object_object_get_ex(back, "fuzz", &b));
                json_object_object_foreach(a, k, v) {
                        json_object *w;
                        FUZZ_CHECK(json_object_object_get_ex(b, k, &w));
                        const char *sv = json_object_get_string(v), *sw = json_object_get_string(w);
                        FUZZ_CHECK(strlen(sv) <= MN_UNTRUSTED_MAX + 3);
                        FUZZ_CHECK(utf8_is_valid(sv, strlen(sv), NULL));
                        FUZZ_CHECK(streq(sv, sw));
                }
        }
        json_object_put(back);
}

static void one_line(const char *line, size_t len) {
        json_object *req = NULL;
        const char *verb = NULL;
        int r = control_request_parse(line, len, &req, &verb);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG || r == -ENOMEM);
                return;
        }
        FUZZ_CHECK(json_object_is_type(req, json_type_object) && verb);

        json_object *ev = mn_event_new("fuzz", MN_OUTCOME_SUCCESS, NULL);
        FUZZ_CHECK(ev);
        json_object_object_foreach(req, key, val) {
                (void) val;
                check_member(req, key, ev);
        }
        /* members asked for that are not there: absent means NULL (or 0), not an error */
        check_member(req, "no such member", ev);
        check_event(ev);
        json_object_put(ev);
        json_object_put(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* Lines as client_read() cuts them: at '\n', empty lines skipped, longer than the limit refused. */
        const char *p = (const char *) data, *end = p + size;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                if (len > 0 && len <= CONTROL_MAX_MESSAGE) {
                        /* the server hands the parser a NUL-terminated copy (the newline overwritten) */
                        char *line = fuzz_strndup((const uint8_t *) p, len);
                        if (line)
                                one_line(line, len);
                        free(line);
                }
                p += len + 1;
        }
        return 0;
}
