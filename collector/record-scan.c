/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fast path of record parsing: one pass over a line that checks it is canonical JSON and picks out
 * the members ingest needs, without building a tree. It accepts only lines it can prove canonical under
 * stricter rules than docs/journal.md (no key with an escape, numbers below 10^18, only the escapes the
 * canonical form writes); everything else goes to the json-c path in batch.c, which decides and explains.
 * Measured reason (bench-collector): json-c parsing plus a canonical rewrite were two thirds of the
 * collector's CPU per event. */
#include <errno.h>
#include <gnutls/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "journal.h"
#include "record-scan.h"
#include "strutil.h"

#define SCAN_NUMBER_DIGITS_MAX 18

typedef struct Scanner {
        const char *p, *end;
        unsigned depth;
        ScanFields *f;
} Scanner;

/* Paths of interest, by depth: the top-level key and the key inside it. */
typedef enum Slot {
        SLOT_NONE,
        SLOT_TIMESTAMP = SCAN_TIMESTAMP, SLOT_SEQUENCE = SCAN_SEQUENCE, SLOT_ACTION = SCAN_ACTION,
        SLOT_HOST_ID = SCAN_HOST_ID, SLOT_HOST_NAME = SCAN_HOST_NAME, SLOT_USER_NAME = SCAN_USER_NAME,
        SLOT_SERIAL = SCAN_SERIAL, SLOT_VENDOR = SCAN_VENDOR, SLOT_PRODUCT = SCAN_PRODUCT,
        SLOT_PREV_HASH = SCAN_PREV_HASH, SLOT_HASH = SCAN_HASH, SLOT_POLICY_SERIAL = SCAN_POLICY_SERIAL,
        SLOT_VERSION = SCAN_VERSION,
} Slot;

static Slot slot_of(const char *top, size_t top_len, const char *key, size_t key_len) {
#define IS(s, n, lit) ((n) == sizeof(lit) - 1 && memcmp((s), lit, sizeof(lit) - 1) == 0)
        if (!top)
                return IS(key, key_len, "@timestamp") ? SLOT_TIMESTAMP : SLOT_NONE;
        if (IS(top, top_len, "event"))
                return IS(key, key_len, "sequence") ? SLOT_SEQUENCE : IS(key, key_len, "action") ? SLOT_ACTION : SLOT_NONE;
        if (IS(top, top_len, "host"))
                return IS(key, key_len, "id") ? SLOT_HOST_ID : IS(key, key_len, "name") ? SLOT_HOST_NAME : SLOT_NONE;
        if (IS(top, top_len, "user"))
                return IS(key, key_len, "name") ? SLOT_USER_NAME : SLOT_NONE;
        if (IS(top, top_len, "device"))
                return IS(key, key_len, "serial") ? SLOT_SERIAL : IS(key, key_len, "vendor") ? SLOT_VENDOR
                     : IS(key, key_len, "product") ? SLOT_PRODUCT : SLOT_NONE;
        if (IS(top, top_len, "mnguard"))
                return IS(key, key_len, "prev_hash") ? SLOT_PREV_HASH : IS(key, key_len, "hash") ? SLOT_HASH
                     : IS(key, key_len, "policy_serial") ? SLOT_POLICY_SERIAL : IS(key, key_len, "version") ? SLOT_VERSION
                     : SLOT_NONE;
        return SLOT_NONE;
#undef IS
}

/* A string starting at the opening quote; *ret_escaped tells whether it holds escapes. */
static int scan_string(Scanner *s, const char **ret_start, size_t *ret_len, bool *ret_escaped) {
        const char *p = s->p + 1;
        bool escaped = false;
        while (p < s->end) {
                unsigned char c = (unsigned char) *p;
                if (c == '"') {
                        *ret_start = s->p + 1;
                        *ret_len = (size_t) (p - s->p - 1);
                        *ret_escaped = escaped;
                        s->p = p + 1;
                        return 0;
                }
                if (c < 0x20)
                        return -EINVAL;
                if (c == '\\') {
                        escaped = true;
                        if (p + 1 >= s->end)
                                return -EINVAL;
                        char e = p[1];
                        if (e == '"' || e == '\\' || e == 'b' || e == 't' || e == 'n' || e == 'f' || e == 'r') {
                                p += 2;
                                continue;
                        }
                        /* \u00XX, lowercase, only for the controls without a short form */
                        if (e != 'u' || s->end - p < 6 || p[2] != '0' || p[3] != '0' || (p[4] != '0' && p[4] != '1'))
                                return -EINVAL;
                        char h = p[5];
                        unsigned v = (unsigned) (p[4] - '0') * 16 +
                                     (h >= '0' && h <= '9' ? (unsigned) (h - '0') : h >= 'a' && h <= 'f' ? (unsigned) (h - 'a' + 10) : 99);
                        if (v > 0x1f || v == 0x08 || v == 0x09 || v == 0x0a || v == 0x0c || v == 0x0d)
                                return -EINVAL;
                        p += 6;
                        continue;
                }
                if (c < 0x80) {
                        p++;
                        continue;
                }
                size_t n = utf8_sequence_length((const uint8_t *) p, (size_t) (s->end - p));
                if (n == 0)
                        return -EINVAL;
                p += n;
        }
        return -EINVAL;
}

static int scan_number(Scanner *s, const char **ret_start, size_t *ret_len) {
        const char *p = s->p;
        if (p < s->end && *p == '-')
                p++;
        const char *digits = p;
        while (p < s->end && *p >= '0' && *p <= '9')
                p++;
        size_t n = (size_t) (p - digits);
        if (n == 0 || n > SCAN_NUMBER_DIGITS_MAX || (n > 1 && digits[0] == '0') || (digits[0] == '0' && digits != s->p))
                return -EINVAL;         /* "-0" is not canonical either */
        if (p < s->end && (*p == '.' || *p == 'e' || *p == 'E'))
                return -EINVAL;
        *ret_start = s->p;
        *ret_len = (size_t) (p - s->p);
        s->p = p;
        return 0;
}

static int scan_value(Scanner *s, const char *top, size_t top_len, Slot slot);

static int scan_object(Scanner *s, const char *top, size_t top_len) {
        const char *prev_key = NULL;
        size_t prev_len = 0, n_keys = 0;
        if (++s->depth > JOURNAL_DEPTH_MAX)
                return -EINVAL;
        s->p++;                 /* { */
        if (s->p < s->end && *s->p == '}') {
                s->p++;
                s->depth--;
                return 0;
        }
        for (;;) {
                const char *member_start = s->p, *key;
                size_t key_len;
                bool escaped;
                if (s->p >= s->end || *s->p != '"' || scan_string(s, &key, &key_len, &escaped) < 0 || escaped)
                        return -EINVAL;
                /* strictly increasing, bytewise, a prefix first */
                if (prev_key) {
                        size_t m = prev_len < key_len ? prev_len : key_len;
                        int c = memcmp(prev_key, key, m);
                        if (c > 0 || (c == 0 && prev_len >= key_len))
                                return -EINVAL;
                }
                if (++n_keys > JOURNAL_OBJECT_KEYS_MAX)
                        return -EINVAL;
                prev_key = key;
                prev_len = key_len;
                if (s->p >= s->end || *s->p != ':')
                        return -EINVAL;
                s->p++;
                Slot slot = s->depth <= 2 ? slot_of(s->depth == 1 ? NULL : top, top_len, key, key_len) : SLOT_NONE;
                int r = scan_value(s, s->depth == 1 ? key : top, s->depth == 1 ? key_len : top_len, slot);
                if (r < 0)
                        return r;
                if (slot == SLOT_HASH) {
                        /* the member and one adjacent comma: what to cut for the hashed body */
                        s->f->hash_member = member_start;
                        s->f->hash_member_len = (size_t) (s->p - member_start);
                        s->f->hash_comma_before = member_start[-1] == ',';
                }
                if (s->p >= s->end)
                        return -EINVAL;
                if (*s->p == '}') {
                        s->p++;
                        s->depth--;
                        return 0;
                }
                if (*s->p != ',')
                        return -EINVAL;
                s->p++;
        }
}

static int scan_array(Scanner *s) {
        if (++s->depth > JOURNAL_DEPTH_MAX)
                return -EINVAL;
        s->p++;
        if (s->p < s->end && *s->p == ']') {
                s->p++;
                s->depth--;
                return 0;
        }
        for (;;) {
                int r = scan_value(s, NULL, 0, SLOT_NONE);
                if (r < 0)
                        return r;
                if (s->p >= s->end)
                        return -EINVAL;
                if (*s->p == ']') {
                        s->p++;
                        s->depth--;
                        return 0;
                }
                if (*s->p != ',')
                        return -EINVAL;
                s->p++;
        }
}

static int literal(Scanner *s, const char *lit) {
        size_t n = strlen(lit);
        if ((size_t) (s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
                return -EINVAL;
        s->p += n;
        return 0;
}

static int scan_value(Scanner *s, const char *top, size_t top_len, Slot slot) {
        const char *v;
        size_t n;
        bool escaped;
        int r;
        if (s->p >= s->end)
                return -EINVAL;
        switch (*s->p) {
        case '{':
                return scan_object(s, top, top_len);
        case '[':
                return scan_array(s);
        case '"':
                r = scan_string(s, &v, &n, &escaped);
                if (r < 0)
                        return r;
                if (slot != SLOT_NONE && slot != SLOT_SEQUENCE && slot != SLOT_POLICY_SERIAL) {
                        if (escaped)
                                return -EINVAL;         /* index columns need the plain text: the slow path */
                        s->f->values[slot] = (ScanSpan) { v, n };
                }
                return 0;
        case 't':
                return literal(s, "true");
        case 'f':
                return literal(s, "false");
        case 'n':
                return literal(s, "null");
        default:
                r = scan_number(s, &v, &n);
                if (r >= 0 && (slot == SLOT_SEQUENCE || slot == SLOT_POLICY_SERIAL))
                        s->f->values[slot] = (ScanSpan) { v, n };
                return r;
        }
}

int record_scan(const char *line, size_t len, ScanFields *ret) {
        ScanFields f = {};
        Scanner s = { .p = line, .end = line + len, .f = &f };
        if (len == 0 || len > JOURNAL_RECORD_MAX || line[0] != '{')
                return -EINVAL;
        int r = scan_object(&s, NULL, 0);
        if (r < 0 || s.p != s.end || !f.hash_member)
                return -EINVAL;
        *ret = f;
        return 0;
}

/* A copy for an index column in *ret, NULL when absent or too long; -ENOMEM. */
static int span_dup(ScanSpan v, size_t max, char **ret) {
        *ret = NULL;
        if (!v.p || v.n == 0 || v.n > max || memchr(v.p, 0, v.n))
                return 0;
        *ret = strndup(v.p, v.n);
        return *ret ? 0 : -ENOMEM;
}

/* The fast path (record-scan.c): -EAGAIN when the line is not proven canonical or a member is missing or
 * odd; the json-c path then decides and says why. */
int record_parse_fast(const char *line, size_t len, IngestRecord *ret, char *ret_host_id, char **ret_host_name) {
        ScanFields f;
        IngestRecord rec = {};
        char hex[65];
        uint64_t seq;
        if (record_scan(line, len, &f) < 0)
                return -EAGAIN;
        ScanSpan *v = f.values;
        if (v[SCAN_HOST_ID].n != HOST_ID_LEN || v[SCAN_SEQUENCE].n == 0 || v[SCAN_SEQUENCE].p[0] == '-' ||
            v[SCAN_ACTION].n == 0 || v[SCAN_ACTION].n > ACTION_MAX || !v[SCAN_TIMESTAMP].p)
                return -EAGAIN;
        memcpy(ret_host_id, v[SCAN_HOST_ID].p, HOST_ID_LEN);
        ret_host_id[HOST_ID_LEN] = 0;
        memcpy(hex, v[SCAN_SEQUENCE].p, v[SCAN_SEQUENCE].n);
        hex[v[SCAN_SEQUENCE].n] = 0;
        if (!host_id_is_valid(ret_host_id) || parse_u64(hex, &seq) < 0 || seq == 0 ||
            journal_timestamp_parse(v[SCAN_TIMESTAMP].p, v[SCAN_TIMESTAMP].n, &rec.timestamp_usec) < 0 ||
            rec.timestamp_usec >= (uint64_t) INT64_MAX || hash_from_hex(v[SCAN_PREV_HASH].p, v[SCAN_PREV_HASH].n, rec.prev_hash) < 0 ||
            hash_from_hex(v[SCAN_HASH].p, v[SCAN_HASH].n, rec.hash) < 0 || memchr(v[SCAN_ACTION].p, 0, v[SCAN_ACTION].n))
                return -EAGAIN;
        rec.sequence = seq;
        memcpy(rec.action, v[SCAN_ACTION].p, v[SCAN_ACTION].n);
        rec.action[v[SCAN_ACTION].n] = 0;

        /* the hashed body is the line without the hash member and one comma: hash it in pieces */
        const char *cut = f.hash_member;
        size_t cut_len = f.hash_member_len;
        if (f.hash_comma_before) {
                cut--;
                cut_len++;
        } else if (cut + cut_len < line + len && cut[cut_len] == ',')
                cut_len++;
        gnutls_hash_hd_t h;
        if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
                return -ENOMEM;
        gnutls_hash(h, v[SCAN_PREV_HASH].p, 64);
        gnutls_hash(h, line, (size_t) (cut - line));
        gnutls_hash(h, cut + cut_len, len - (size_t) (cut - line) - cut_len);
        gnutls_hash_deinit(h, rec.digest);
        rec.hash_ok = memcmp(rec.digest, rec.hash, SHA256_SIZE) == 0;

        if (span_dup(v[SCAN_USER_NAME], USER_NAME_MAX, &rec.user_name) < 0 ||
            span_dup(v[SCAN_SERIAL], DEVICE_SERIAL_MAX, &rec.dev_serial) < 0) {
                record_done(&rec);
                return -ENOMEM;
        }
        if (v[SCAN_VENDOR].n == 4 && v[SCAN_PRODUCT].n == 4) {
                char vp[10];
                memcpy(vp, v[SCAN_VENDOR].p, 4);
                vp[4] = ':';
                memcpy(vp + 5, v[SCAN_PRODUCT].p, 4);
                vp[9] = 0;
                if (!device_is_vidpid(vp, rec.dev_vidpid))
                        rec.dev_vidpid[0] = 0;
        }
        if (v[SCAN_POLICY_SERIAL].n > 0 && v[SCAN_POLICY_SERIAL].p[0] != '-') {
                memcpy(hex, v[SCAN_POLICY_SERIAL].p, v[SCAN_POLICY_SERIAL].n);
                hex[v[SCAN_POLICY_SERIAL].n] = 0;
                if (parse_u64(hex, &rec.policy_serial) < 0)
                        rec.policy_serial = 0;
        }
        if (streq(rec.action, "agent-started") && agent_version_is_valid(v[SCAN_VERSION].p, v[SCAN_VERSION].n)) {
                memcpy(rec.agent_version, v[SCAN_VERSION].p, v[SCAN_VERSION].n);
                rec.agent_version[v[SCAN_VERSION].n] = 0;
        }
        if (ret_host_name && span_dup(v[SCAN_HOST_NAME], HOST_NAME_MAX_BYTES, ret_host_name) < 0) {
                record_done(&rec);
                return -ENOMEM;
        }
        rec.json = strndup(line, len);
        if (!rec.json) {
                record_done(&rec);
                return -ENOMEM;
        }
        rec.json_len = len;
        *ret = rec;
        return 0;
}
