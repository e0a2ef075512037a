/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Building replies: JSON documents and errors. */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "server.h"

void reply_json(Reply *r, unsigned status, json_object *o) {
        char *s = NULL;
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
        if (!o || mn_json_to_string(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &s) < 0) {
                static const char oom[] = "{\"error\":\"internal\",\"message\":\"out of memory\"}";
                r->status = 500;
                r->body = strdup(oom);
                r->body_len = r->body ? sizeof(oom) - 1 : 0;
        } else {
                r->status = status;
                r->body_len = strlen(s);
                r->body = s;
        }
        r->content_type = "application/json";
        json_object_put(o);
}

void reply_error(Reply *r, unsigned status, const char *code, unsigned line, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        json_object *o = json_object_new_object();
        if (o) {
                json_object_object_add(o, "error", json_object_new_string(code));
                json_object_object_add(o, "message", json_object_new_string(msg));
                if (line > 0)
                        json_object_object_add(o, "line", json_object_new_int64(line));
        }
        reply_json(r, status, o);
}

void reply_storage_error(Reply *r, int error) {
        if (storage_error_is_transient(error)) {
                r->retry_after = true;
                reply_error(r, 503, "storage-unavailable", 0, "the database is unavailable (%s); try again later",
                            strerror(-error));
        } else
                reply_error(r, 500, "storage-error", 0, "the database refused the operation (%s)", strerror(-error));
}
