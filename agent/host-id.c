/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "host-id.h"

#include <errno.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "strutil.h"

#define IDENTITY_FILE "identity.json"
#define IDENTITY_MAX_SIZE 4096

static void hex(const unsigned char *in, size_t n, char *out) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * n] = 0;
}

static bool valid_hex_id(const char *s) {
        return s && strlen(s) == HOST_ID_LEN && lowercase_hex_valid(s, HOST_ID_LEN);
}

/* The machine id is a secret of sorts (machine-id(5)): keep only a keyed hash of it. */
static int machine_fingerprint(const char *path, char out[65]) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file(path, 256, &data, &size);
        if (r == -ENOENT) {
                out[0] = 0;
                return 0;
        }
        if (r < 0)
                return r;
        while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == ' '))
                size--;
        unsigned char h[crypto_generichash_BYTES];
        static const unsigned char key[] = "mnguard host identity v1";
        crypto_generichash(h, sizeof(h), (const unsigned char *) data, size, key, sizeof(key) - 1);
        hex(h, sizeof(h), out);
        return 0;
}

static int write_identity(const char *path, const char *host_id, const char *fingerprint) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "host_id", json_object_new_string(host_id));
        json_object_object_add(o, "machine", json_object_new_string(fingerprint));
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        int r = write_file_atomic(path, s, strlen(s), 0600);
        json_object_put(o);
        return r;
}

int host_identity_load(const char *state_dir, const char *machine_id_path, HostIdentity *ret) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        char fingerprint[65];
        HostIdentity id = {};
        int r;

        if (sodium_init() < 0)
                return -EIO;
        if (asprintf(&path, "%s/" IDENTITY_FILE, state_dir) < 0)
                return -ENOMEM;
        r = machine_fingerprint(machine_id_path, fingerprint);
        if (r < 0)
                return r;

        r = read_full_file(path, IDENTITY_MAX_SIZE, &data, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r >= 0) {
                json_object *o = json_tokener_parse(data), *h, *m;
                bool ok = o && json_object_object_get_ex(o, "host_id", &h) &&
                          json_object_object_get_ex(o, "machine", &m) && valid_hex_id(json_object_get_string(h));
                if (ok && streq(json_object_get_string(m), fingerprint)) {
                        memcpy(id.host_id, json_object_get_string(h), HOST_ID_LEN + 1);
                        json_object_put(o);
                        *ret = id;
                        return 0;
                }
                if (ok) {
                        memcpy(id.previous_host_id, json_object_get_string(h), HOST_ID_LEN + 1);
                        id.changed_machine = true;
                } else
                        id.created = true; /* unreadable identity: start afresh, the old file is replaced */
                json_object_put(o);
        } else
                id.created = true;

        unsigned char raw[HOST_ID_LEN / 2];
        randombytes_buf(raw, sizeof(raw));
        hex(raw, sizeof(raw), id.host_id);
        r = write_identity(path, id.host_id, fingerprint);
        if (r < 0)
                return r;
        *ret = id;
        return 0;
}

int host_identity_remove(const char *state_dir) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/" IDENTITY_FILE, state_dir) < 0)
                return -ENOMEM;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}
