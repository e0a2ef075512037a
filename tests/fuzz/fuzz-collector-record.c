/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: one event record line as the collector ingests it (collector/batch.c record_parse),
 * differentially: the one-pass fast path (collector/record-scan.c) must never accept a line the json-c
 * path refuses, and must read every field the same. The input is one line, as the batch parser cuts it. */
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "batch.h"
#include "fuzz-util.h"
#include "macro.h"
#include "record-scan.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool streq_null(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The record's own host.id, as its JSON says it (json-c: escapes decoded, NULs kept). */
static void check_host_id(const char *line, size_t len, const char *host_id) {
        json_tokener *tok = json_tokener_new_ex(64);
        json_object *o = tok ? json_tokener_parse_ex(tok, line, (int) len) : NULL, *host, *id;
        json_tokener_free(tok);
        if (!o)
                return;
        /* the host the collector files the record under is exactly the one the record names */
        FUZZ_CHECK(json_object_object_get_ex(o, "host", &host) && json_object_object_get_ex(host, "id", &id));
        FUZZ_CHECK(json_object_get_string_len(id) == HOST_ID_LEN);
        FUZZ_CHECK(memcmp(json_object_get_string(id), host_id, HOST_ID_LEN) == 0);
        json_object_put(o);
}

static void check_record(const IngestRecord *r, const char *line, size_t len, const char *host_id,
                         const char *host_name) {
        FUZZ_CHECK(r->sequence > 0 && r->sequence < (uint64_t) INT64_MAX);
        FUZZ_CHECK(r->timestamp_usec < (uint64_t) INT64_MAX);
        FUZZ_CHECK(host_id_is_valid(host_id));
        FUZZ_CHECK(strlen(r->action) > 0 && strlen(r->action) <= ACTION_MAX);
        FUZZ_CHECK(!r->user_name || (strlen(r->user_name) > 0 && strlen(r->user_name) <= USER_NAME_MAX));
        FUZZ_CHECK(!r->dev_serial || (strlen(r->dev_serial) > 0 && strlen(r->dev_serial) <= DEVICE_SERIAL_MAX));
        FUZZ_CHECK(r->dev_vidpid[0] == 0 || strlen(r->dev_vidpid) == 9);
        FUZZ_CHECK(!host_name || (strlen(host_name) > 0 && strlen(host_name) <= HOST_NAME_MAX_BYTES));
        FUZZ_CHECK(r->json && r->json_len == len && memcmp(r->json, line, len) == 0);
        FUZZ_CHECK(r->hash_ok == (memcmp(r->digest, r->hash, SHA256_SIZE) == 0));
        check_host_id(line, len, host_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *line = (const char *) data;
        IngestRecord a = {}, b = {};
        char hid_a[HOST_ID_LEN + 1] = "", hid_b[HOST_ID_LEN + 1] = "", err_a[256] = "", err_b[256] = "";
        char *name_a = NULL, *name_b = NULL;
        ScanFields f;

        /* the scanner alone: what it points at lies inside the line */
        if (record_scan(line, size, &f) == 0) {
                FUZZ_CHECK(f.hash_member >= line && f.hash_member + f.hash_member_len <= line + size);
                for (size_t k = 1; k < _SCAN_MAX; k++)
                        FUZZ_CHECK(!f.values[k].p || (f.values[k].p >= line && f.values[k].p + f.values[k].n <= line + size));
        }

        int ra = record_parse(line, size, &a, hid_a, &name_a, err_a, sizeof(err_a));
        int rb = record_parse_full(line, size, &b, hid_b, &name_b, err_b, sizeof(err_b));
        if (ra == -ENOMEM || rb == -ENOMEM)
                goto finish;
        /* the fast path may not accept what the full parser refuses, nor refuse what it accepts */
        FUZZ_CHECK(ra == rb);
        if (ra < 0) {
                FUZZ_CHECK(ra == -EBADMSG);
                FUZZ_CHECK(memchr(err_a, 0, sizeof(err_a)) && strlen(err_a) > 0);
                goto finish;
        }
        check_record(&a, line, size, hid_a, name_a);
        check_record(&b, line, size, hid_b, name_b);
        FUZZ_CHECK(streq(hid_a, hid_b));
        FUZZ_CHECK(streq_null(name_a, name_b));
        FUZZ_CHECK(a.sequence == b.sequence && a.timestamp_usec == b.timestamp_usec);
        FUZZ_CHECK(streq(a.action, b.action));
        FUZZ_CHECK(memcmp(a.hash, b.hash, SHA256_SIZE) == 0 && memcmp(a.prev_hash, b.prev_hash, SHA256_SIZE) == 0);
        FUZZ_CHECK(memcmp(a.digest, b.digest, SHA256_SIZE) == 0 && a.hash_ok == b.hash_ok);
        FUZZ_CHECK(streq_null(a.user_name, b.user_name) && streq_null(a.dev_serial, b.dev_serial));
        FUZZ_CHECK(streq(a.dev_vidpid, b.dev_vidpid));
finish:
        if (ra == 0)
                record_done(&a);
        if (rb == 0)
                record_done(&b);
        free(name_a);
        free(name_b);
        return 0;
}
