/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "collector-test-util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "journal.h"

static const char *const actions[] = { "device-blocked", "device-connected", "device-allowed", "file-written",
                                       "print-blocked", "clipboard-blocked" };
static const char *const users[] = { "tanaka", "suzuki", "sato", "takahashi" };

void ct_host_id(unsigned n, char out[static HOST_ID_LEN + 1]) {
        snprintf(out, HOST_ID_LEN + 1, "%08x%08x%08x%08x", 0x5f0c2a8eu, n, 0x1f8a3c6bu, n * 2654435761u);
}

json_object *ct_event(const char *host_id, const char *host_name, unsigned i, uint64_t ts_usec) {
        char ts[JOURNAL_TIMESTAMP_MAX], serial[32], product[8];
        json_object *ev = json_object_new_object(), *e = json_object_new_object(), *h = json_object_new_object(),
                    *u = json_object_new_object(), *d = json_object_new_object(), *m = json_object_new_object(),
                    *cls = json_object_new_array();
        snprintf(serial, sizeof(serial), "4C5300012301%08u", i % 50);
        snprintf(product, sizeof(product), "%04x", 0x5581 + i % 3);
        json_object_object_add(ev, "@timestamp", json_object_new_string(journal_timestamp_format(ts_usec, ts)));
        json_object_object_add(ev, "event", e);
        json_object_object_add(e, "action", json_object_new_string(actions[i % ELEMENTSOF(actions)]));
        json_object_object_add(e, "outcome", json_object_new_string("success"));
        json_object_object_add(e, "reason", json_object_new_string("default storage block"));
        json_object_object_add(ev, "host", h);
        json_object_object_add(h, "id", json_object_new_string(host_id));
        json_object_object_add(h, "name", json_object_new_string(host_name));
        json_object_object_add(ev, "user", u);
        json_object_object_add(u, "name", json_object_new_string(users[i % ELEMENTSOF(users)]));
        json_object_object_add(u, "id", json_object_new_int(1001 + (int) (i % ELEMENTSOF(users))));
        json_object_object_add(ev, "device", d);
        json_object_object_add(d, "vendor", json_object_new_string("0781"));
        json_object_object_add(d, "product", json_object_new_string(product));
        json_object_object_add(d, "serial", json_object_new_string(serial));
        json_object_object_add(d, "model", json_object_new_string("Cruzer Blade \"改\"\tß"));
        json_object_object_add(d, "bus", json_object_new_string("usb"));
        json_object_array_add(cls, json_object_new_string("storage"));
        json_object_object_add(d, "classes", cls);
        json_object_object_add(d, "syspath", json_object_new_string("/devices/pci0000:00/0000:00:14.0/usb1/1-2"));
        json_object_object_add(ev, "mnguard", m);
        json_object_object_add(m, "policy_serial", json_object_new_uint64(2026112601));
        json_object_object_add(m, "rule", json_object_new_string("default"));
        return ev;
}

void ct_chain_init(CtChain *c, const char *host_id, const char *host_name) {
        *c = (CtChain) { .next_sequence = 1 };
        snprintf(c->host_id, sizeof(c->host_id), "%s", host_id);
        snprintf(c->host_name, sizeof(c->host_name), "%s", host_name);
        memset(c->prev_hex, '0', 64);
        c->prev_hex[64] = 0;
}

int ct_chain_next(CtChain *c, unsigned i, uint64_t ts_usec, char **ret, size_t *ret_len) {
        json_object *ev = ct_event(c->host_id, c->host_name, i, ts_usec), *e, *m;
        char *body = NULL, *full = NULL;
        size_t body_len = 0, full_len = 0;
        uint8_t h[SHA256_SIZE];
        char hex[65];
        int r;

        json_object_object_get_ex(ev, "event", &e);
        json_object_object_get_ex(ev, "mnguard", &m);
        json_object_object_add(e, "sequence", json_object_new_uint64(c->next_sequence));
        json_object_object_add(m, "prev_hash", json_object_new_string(c->prev_hex));
        r = journal_canonical_json(ev, &body, &body_len);
        if (r >= 0) {
                record_chain_hash(c->prev_hex, body, body_len, h);
                hash_to_hex(h, hex);
                json_object_object_add(m, "hash", json_object_new_string(hex));
                r = journal_canonical_json(ev, &full, &full_len);
        }
        free(body);
        json_object_put(ev);
        if (r < 0)
                return r;
        memcpy(c->prev_hex, hex, sizeof(hex));
        c->next_sequence++;
        *ret = full;
        *ret_len = full_len;
        return 0;
}
