/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Canonical JSON: the exact bytes that the hash chain covers (definition in docs/journal.md). */
#include "journal-canon.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"

void buf_init(Buf *b, size_t max) {
        *b = (Buf) { .max = max };
}

void buf_done(Buf *b) {
        free(b->data);
        *b = (Buf) {};
}

static int buf_reserve(Buf *b, size_t n) {
        if (n > b->max || b->len > b->max - n)
                return -EMSGSIZE;
        size_t need = b->len + n + 1; /* room for a terminating NUL */
        if (need <= b->cap)
                return 0;
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < need)
                ncap *= 2;
        if (ncap > b->max + 1)
                ncap = b->max + 1;
        char *d = realloc(b->data, ncap);
        if (!d)
                return -ENOMEM;
        b->data = d;
        b->cap = ncap;
        return 0;
}

int buf_append(Buf *b, const void *p, size_t n) {
        if (b->len + n >= b->cap || n > b->max) {
                int r = buf_reserve(b, n);
                if (r < 0)
                        return r;
        }
        if (n > 0)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
}

int buf_putc(Buf *b, char c) {
        if (b->len + 1 >= b->cap) {
                int r = buf_reserve(b, 1);
                if (r < 0)
                        return r;
        }
        b->data[b->len++] = c;
        return 0;
}

int buf_terminate(Buf *b) {
        int r = buf_reserve(b, 0);
        if (r < 0)
                return r;
        b->data[b->len] = 0;
        return 0;
}

static const char hexdigits[] = "0123456789abcdef";

void hex_encode(const uint8_t *p, size_t n, char *out) {
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hexdigits[p[i] >> 4];
                out[2 * i + 1] = hexdigits[p[i] & 0xf];
        }
        out[2 * n] = 0;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int hex_decode32(const char *s, size_t n, uint8_t out[static 32]) {
        if (n != 64)
                return -EINVAL;
        for (size_t i = 0; i < 32; i++) {
                int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}

void record_hash(const char prev_hex[static 64], const char *body, size_t len, uint8_t out[static 32]) {
        /* Nettle's SHA-256 uses the CPU's SHA extensions (Debian builds it "fat"): about 4x libsodium's,
         * as fast as OpenSSL's, and nettle is in the daemon anyway (GnuTLS, under libcurl) while libcrypto
         * cost a resident daemon ~3 MiB (docs/performance.md). Hashing is what bounds appends and
         * verification. */
        struct sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, 64, (const uint8_t *) prev_hex);
        sha256_update(&c, len, (const uint8_t *) body);
        sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

/* ---- writing ---- */

/* Escapes a string as canonical JSON does, checking that it is valid UTF-8 on the way. Bytes other than
 * controls, '"' and '\\' stand for themselves. */
static int write_string(Buf *b, const char *s, size_t n, bool check_utf8) {
        int r = buf_putc(b, '"');
        if (r < 0)
                return r;
        size_t i = 0;
        while (i < n) {
                size_t run = i;
                for (;;) {
                        if (run >= n)
                                break;
                        unsigned char c = (unsigned char) s[run];
                        if (c >= 0x80) {
                                size_t l = check_utf8 ? utf8_sequence_length((const uint8_t *) s + run, n - run) : 1;
                                if (l == 0)
                                        return -EINVAL;
                                run += l;
                        } else if (c >= 0x20 && c != '"' && c != '\\')
                                run++;
                        else
                                break;
                }
                r = buf_append(b, s + i, run - i);
                if (r < 0)
                        return r;
                if (run >= n)
                        break;
                unsigned char c = (unsigned char) s[run];
                char esc[6] = { '\\', 0 };
                size_t elen = 2;
                switch (c) {
                case '"': esc[1] = '"'; break;
                case '\\': esc[1] = '\\'; break;
                case '\b': esc[1] = 'b'; break;
                case '\t': esc[1] = 't'; break;
                case '\n': esc[1] = 'n'; break;
                case '\f': esc[1] = 'f'; break;
                case '\r': esc[1] = 'r'; break;
                default:
                        esc[1] = 'u';
                        esc[2] = '0';
                        esc[3] = '0';
                        esc[4] = hexdigits[c >> 4];
                        esc[5] = hexdigits[c & 0xf];
                        elen = 6;
                }
                r = buf_append(b, esc, elen);
                if (r < 0)
                        return r;
                i = run + 1;
        }
        return buf_putc(b, '"');
}

int canon_write_string(Buf *b, const char *s, size_t n) {
        return write_string(b, s, n, false);
}

static int write_u64(Buf *b, bool negative, uint64_t v) {
        char d[24];
        size_t i = sizeof(d);
        do {
                d[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v > 0);
        if (negative)
                d[--i] = '-';
        return buf_append(b, d + i, sizeof(d) - i);
}

typedef struct KeyValue {
        const char *key;
        json_object *value;
} KeyValue;

static int cmp_keys(const void *a, const void *b) {
        /* strcmp compares as unsigned char: bytewise order of the UTF-8 encoding */
        return strcmp(((const KeyValue *) a)->key, ((const KeyValue *) b)->key);
}

static void sort_keys(KeyValue *kv, size_t n) {
        if (n > 16) {
                qsort(kv, n, sizeof(KeyValue), cmp_keys);
                return;
        }
        for (size_t i = 1; i < n; i++) {
                KeyValue x = kv[i];
                size_t k = i;
                while (k > 0 && strcmp(kv[k - 1].key, x.key) > 0) {
                        kv[k] = kv[k - 1];
                        k--;
                }
                kv[k] = x;
        }
}

static int write_value(Buf *b, json_object *o, unsigned depth);

static int write_object(Buf *b, json_object *o, unsigned depth) {
        enum { N_STACK = 32 };
        KeyValue stack_kv[N_STACK];
        _cleanup_free_ KeyValue *heap_kv = NULL;
        KeyValue *kv = stack_kv;
        size_t n = 0, total = (size_t) json_object_object_length(o);
        int r;

        if (total > JOURNAL_OBJECT_KEYS_MAX)
                return -E2BIG;
        if (total > N_STACK) {
                heap_kv = calloc(total, sizeof(KeyValue));
                if (!heap_kv)
                        return -ENOMEM;
                kv = heap_kv;
        }
        json_object_object_foreach(o, k, v) {
                if (n >= total)
                        return -EINVAL;
                kv[n++] = (KeyValue) { k, v };
        }
        sort_keys(kv, n);

        r = buf_putc(b, '{');
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && (r = buf_putc(b, ',')) < 0)
                        return r;
                r = write_string(b, kv[i].key, strlen(kv[i].key), true);
                if (r < 0)
                        return r;
                if ((r = buf_putc(b, ':')) < 0)
                        return r;
                r = write_value(b, kv[i].value, depth + 1);
                if (r < 0)
                        return r;
        }
        return buf_putc(b, '}');
}

static int write_value(Buf *b, json_object *o, unsigned depth) {
        int r;

        if (depth > JOURNAL_DEPTH_MAX)
                return -EINVAL;
        switch (json_object_get_type(o)) {
        case json_type_null:
                return buf_append(b, "null", 4);
        case json_type_boolean:
                return json_object_get_boolean(o) ? buf_append(b, "true", 4) : buf_append(b, "false", 5);
        case json_type_int: {
                int64_t i = json_object_get_int64(o);
                if (i < 0)
                        return write_u64(b, true, (uint64_t) 0 - (uint64_t) i);
                return write_u64(b, false, json_object_get_uint64(o));
        }
        case json_type_double:
                return -EINVAL;
        case json_type_string:
                return write_string(b, json_object_get_string(o), (size_t) json_object_get_string_len(o), true);
        case json_type_array: {
                size_t n = json_object_array_length(o);
                if ((r = buf_putc(b, '[')) < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        if (i > 0 && (r = buf_putc(b, ',')) < 0)
                                return r;
                        r = write_value(b, json_object_array_get_idx(o, i), depth + 1);
                        if (r < 0)
                                return r;
                }
                return buf_putc(b, ']');
        }
        case json_type_object:
                return write_object(b, o, depth);
        }
        return -EINVAL;
}

int canon_write(Buf *b, json_object *o) {
        return write_value(b, o, 0);
}

int journal_canonical_json(json_object *o, char **ret, size_t *ret_len) {
        Buf b;
        int r;

        buf_init(&b, JOURNAL_RECORD_MAX);
        r = canon_write(&b, o);
        if (r >= 0)
                r = buf_terminate(&b);
        if (r < 0) {
                buf_done(&b);
                return r;
        }
        if (ret_len)
                *ret_len = b.len;
        *ret = b.data;
        return 0;
}

bool canon_mnguard_key_ok(const char *key) {
        if (isempty(key))
                return false;
        for (const char *p = key; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return true;
}

/* ---- reading canonical text ---- */

/* p is just after an opening quote; returns the closing quote or NULL. */
static const char *skip_string(const char *p, const char *e) {
        const char *start = p;
        /* most strings are short and plain: look at the first bytes one by one before calling memchr() */
        for (const char *q = p; q < e && q < p + 24 && *q != '\\'; q++)
                if (*q == '"')
                        return q;
        for (;;) {
                const char *q = memchr(p, '"', (size_t) (e - p));
                if (!q)
                        return NULL;
                /* escaped when preceded by an odd number of backslashes */
                const char *bs = q;
                while (bs > start && bs[-1] == '\\')
                        bs--;
                if (((q - bs) & 1) == 0)
                        return q;
                p = q + 1;
        }
}

/* Returns the end of the value starting at p, or NULL. */
static const char *skip_value(const char *p, const char *e) {
        if (p >= e)
                return NULL;
        if (*p == '"') {
                const char *q = skip_string(p + 1, e);
                return q ? q + 1 : NULL;
        }
        if (*p == '{' || *p == '[') {
                unsigned depth = 0;
                while (p < e) {
                        char c = *p;
                        if (c == '"') {
                                const char *q = skip_string(p + 1, e);
                                if (!q)
                                        return NULL;
                                p = q + 1;
                                continue;
                        }
                        if (c == '{' || c == '[')
                                depth++;
                        else if ((c == '}' || c == ']') && --depth == 0)
                                return p + 1;
                        p++;
                }
                return NULL;
        }
        const char *s = p;
        while (p < e && *p != ',' && *p != '}' && *p != ']')
                p++;
        return p > s ? p : NULL;
}

typedef struct Member {
        Span key;       /* escaped key bytes */
        Span value;     /* value text */
        const char *start;      /* the key's opening quote */
} Member;

/* Iterates over an object's members. *pp starts just after '{' and is moved on; returns 1 with a member,
 * 0 at the closing brace (*pp then points after it), -EBADMSG when malformed. */
static int next_member(const char **pp, const char *e, bool first, Member *m) {
        const char *p = *pp;
        if (p >= e)
                return -EBADMSG;
        if (*p == '}') {
                *pp = p + 1;
                return 0;
        }
        if (!first) {
                if (*p != ',')
                        return -EBADMSG;
                p++;
        }
        if (p >= e || *p != '"')
                return -EBADMSG;
        m->start = p;
        const char *q = skip_string(p + 1, e);
        if (!q || q + 1 >= e || q[1] != ':')
                return -EBADMSG;
        m->key = (Span) { p + 1, (size_t) (q - p - 1) };
        p = q + 2;
        const char *v = skip_value(p, e);
        if (!v)
                return -EBADMSG;
        m->value = (Span) { p, (size_t) (v - p) };
        *pp = v;
        return 1;
}

static bool key_is(Span k, const char *lit, size_t litlen) {
        return k.n == litlen && memcmp(k.p, lit, litlen) == 0;
}
#define KEY_IS(k, lit) key_is((k), lit, sizeof(lit) - 1)

static Span string_content(Span v) {
        if (v.n >= 2 && v.p[0] == '"')
                return (Span) { v.p + 1, v.n - 2 };
        return (Span) {};
}

static bool is_object(Span v) {
        return v.n >= 2 && v.p[0] == '{';
}

typedef struct Want {
        const char *key;
        size_t keylen;
        Span *out;
        bool string;    /* store the string's content; otherwise the value text */
} Want;

/* Reads the members of the object at p, storing the wanted ones; returns the end of the object. */
static const char *scan_object(const char *p, const char *e, const Want *want, size_t n_want) {
        Member m;
        int r;
        p++;
        for (bool first = true; (r = next_member(&p, e, first, &m)) > 0; first = false)
                for (size_t i = 0; i < n_want; i++)
                        if (key_is(m.key, want[i].key, want[i].keylen)) {
                                *want[i].out = want[i].string ? string_content(m.value) : m.value;
                                break;
                        }
        return r < 0 ? NULL : p;
}
#define WANT(lit, out, str) { lit, sizeof(lit) - 1, out, str }

/* Like next_member(), but leaves the value unread: *pp points at it. */
static int next_key(const char **pp, const char *e, bool first, Span *key) {
        const char *p = *pp;
        if (p >= e)
                return -EBADMSG;
        if (*p == '}') {
                *pp = p + 1;
                return 0;
        }
        if (!first) {
                if (*p != ',')
                        return -EBADMSG;
                p++;
        }
        if (p >= e || *p != '"')
                return -EBADMSG;
        const char *q = skip_string(p + 1, e);
        if (!q || q + 1 >= e || q[1] != ':')
                return -EBADMSG;
        *key = (Span) { p + 1, (size_t) (q - p - 1) };
        *pp = q + 2;
        return 1;
}

int canon_scan_record(const char *json, size_t len, RecordFields *ret) {
        RecordFields f = {};
        const char *p = json, *e = json + len;
        Span key;
        int r;

        if (len < 2 || json[0] != '{')
                return -EBADMSG;
        p++;
        for (bool first = true; (r = next_key(&p, e, first, &key)) > 0; first = false) {
                const char *v = p, *end;
                bool obj = v < e && *v == '{';
                if (obj && KEY_IS(key, "event")) {
                        const Want w[] = { WANT("action", &f.action, true), WANT("sequence", &f.sequence, false) };
                        end = scan_object(v, e, w, ELEMENTSOF(w));
                } else if (obj && KEY_IS(key, "mnguard")) {
                        const Want w[] = { WANT("prev_hash", &f.prev_hash, true), WANT("anchor", &f.anchor, false) };
                        end = scan_object(v, e, w, ELEMENTSOF(w));
                        if (end)
                                f.mnguard = (Span) { v, (size_t) (end - v) };
                } else if (obj && KEY_IS(key, "user")) {
                        const Want w[] = { WANT("name", &f.user, true) };
                        end = scan_object(v, e, w, ELEMENTSOF(w));
                } else if (obj && KEY_IS(key, "host")) {
                        const Want w[] = { WANT("id", &f.host_id, true) };
                        end = scan_object(v, e, w, ELEMENTSOF(w));
                } else if (obj && KEY_IS(key, "device")) {
                        const Want w[] = { WANT("serial", &f.serial, true), WANT("vendor", &f.vendor, true),
                                           WANT("product", &f.product, true) };
                        end = scan_object(v, e, w, ELEMENTSOF(w));
                } else {
                        end = skip_value(v, e);
                        if (end && KEY_IS(key, "@timestamp"))
                                f.timestamp = string_content((Span) { v, (size_t) (end - v) });
                }
                if (!end)
                        return -EBADMSG;
                p = end;
        }
        if (r < 0 || p != e)
                return -EBADMSG;
        if (f.anchor.p && !is_object(f.anchor))
                f.anchor = (Span) {};
        *ret = f;
        return 0;
}

int canon_parse_u64(Span s, uint64_t *ret) {
        uint64_t v = 0;
        if (s.n == 0 || s.n > 20 || (s.n > 1 && s.p[0] == '0'))
                return -EINVAL;
        for (size_t i = 0; i < s.n; i++) {
                if (s.p[i] < '0' || s.p[i] > '9')
                        return -EINVAL;
                unsigned d = (unsigned) (s.p[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EINVAL;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

static int hex4(const char *p, uint32_t *ret) {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++) {
                char c = p[i];
                int d = hexval(c >= 'A' && c <= 'F' ? (char) (c - 'A' + 'a') : c);
                if (d < 0)
                        return -EBADMSG;
                v = v << 4 | (uint32_t) d;
        }
        *ret = v;
        return 0;
}

int canon_unescape(Span s, char *out, size_t outmax, size_t *ret_len) {
        size_t o = 0;
        for (size_t i = 0; i < s.n;) {
                char tmp[4];
                size_t tn = 1;
                char c = s.p[i];
                if (c != '\\') {
                        tmp[0] = c;
                        i++;
                } else {
                        if (i + 1 >= s.n)
                                return -EBADMSG;
                        char x = s.p[i + 1];
                        i += 2;
                        switch (x) {
                        case '"': case '\\': case '/': tmp[0] = x; break;
                        case 'b': tmp[0] = '\b'; break;
                        case 'f': tmp[0] = '\f'; break;
                        case 'n': tmp[0] = '\n'; break;
                        case 'r': tmp[0] = '\r'; break;
                        case 't': tmp[0] = '\t'; break;
                        case 'u': {
                                uint32_t cp, lo;
                                if (i + 4 > s.n || hex4(s.p + i, &cp) < 0)
                                        return -EBADMSG;
                                i += 4;
                                if (cp >= 0xdc00 && cp <= 0xdfff)
                                        return -EBADMSG;
                                if (cp >= 0xd800 && cp <= 0xdbff) {
                                        if (i + 6 > s.n || s.p[i] != '\\' || s.p[i + 1] != 'u' ||
                                            hex4(s.p + i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                                                return -EBADMSG;
                                        i += 6;
                                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                }
                                if (cp < 0x80)
                                        tmp[0] = (char) cp;
                                else if (cp < 0x800) {
                                        tmp[0] = (char) (0xc0 | cp >> 6);
                                        tmp[1] = (char) (0x80 | (cp & 0x3f));
                                        tn = 2;
                                } else if (cp < 0x10000) {
                                        tmp[0] = (char) (0xe0 | cp >> 12);
                                        tmp[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
                                        tmp[2] = (char) (0x80 | (cp & 0x3f));
                                        tn = 3;
                                } else {
                                        tmp[0] = (char) (0xf0 | cp >> 18);
                                        tmp[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
                                        tmp[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
                                        tmp[3] = (char) (0x80 | (cp & 0x3f));
                                        tn = 4;
                                }
                                break;
                        }
                        default:
                                return -EBADMSG;
                        }
                }
                if (o + tn >= outmax)
                        return -ENOBUFS;
                memcpy(out + o, tmp, tn);
                o += tn;
        }
        if (o >= outmax)
                return -ENOBUFS;
        out[o] = 0;
        if (ret_len)
                *ret_len = o;
        return 0;
}

int canon_splice_hash(const char *body, size_t len, const RecordFields *f, const char hash_hex[static 65], Buf *out) {
        static const char key[] = "hash";
        const char *p, *e, *at;
        Member m;
        bool first = true, any = false;
        int r;

        if (!f->mnguard.p)
                return -EBADMSG;
        p = f->mnguard.p + 1;
        e = f->mnguard.p + f->mnguard.n;
        at = NULL;
        for (; (r = next_member(&p, e, first, &m)) > 0; first = false) {
                any = true;
                size_t n = m.key.n < 4 ? m.key.n : 4;
                int c = memcmp(m.key.p, key, n);
                if (c > 0 || (c == 0 && m.key.n >= 4)) {
                        at = m.start;
                        break;
                }
        }
        if (r < 0)
                return r;
        bool comma_after = at != NULL;
        if (!at)
                at = f->mnguard.p + f->mnguard.n - 1; /* the closing brace */
        size_t head = (size_t) (at - body);
        if ((r = buf_append(out, body, head)) < 0)
                return r;
        if (!comma_after && any && (r = buf_putc(out, ',')) < 0)
                return r;
        if ((r = buf_append(out, "\"hash\":\"", 8)) < 0 || (r = buf_append(out, hash_hex, 64)) < 0 ||
            (r = buf_putc(out, '"')) < 0)
                return r;
        if (comma_after && (r = buf_putc(out, ',')) < 0)
                return r;
        return buf_append(out, body + head, len - head);
}
