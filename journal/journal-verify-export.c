/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Verification of an NDJSON export, anywhere: every line is parsed, must be canonical JSON, and is hashed
 * again; the chain runs from the first record's prev_hash; the manifest line closes the file. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "journal-internal.h"

typedef struct ExportState {
        JournalVerifyResult *res;
        uint64_t line;
        bool have_prev, manifest;
        uint64_t prev_seq;
        char prev_hash[JOURNAL_HASH_HEX_SIZE], first_prev[JOURNAL_HASH_HEX_SIZE];
} ExportState;

_printf_(4, 5) static void fault(ExportState *s, JournalFault f, uint64_t seq, const char *fmt, ...) {
        va_list ap;
        char *d = s->res->detail;
        if (s->res->fault != JOURNAL_FAULT_NONE)
                return;
        int n = snprintf(d, JOURNAL_DETAIL_MAX, "line %" PRIu64 ": ", s->line);
        if (n > 0 && (size_t) n < JOURNAL_DETAIL_MAX) {
                va_start(ap, fmt);
                vsnprintf(d + n, JOURNAL_DETAIL_MAX - (size_t) n, fmt, ap);
                va_end(ap);
        }
        s->res->intact = false;
        s->res->fault = f;
        s->res->fault_sequence = seq;
}

/* 1 and a line in b (without the newline), 0 at the end, -EMSGSIZE for an overlong line, -ENOMEM. */
static int read_line(FILE *f, Buf *b, bool *ret_nul) {
        int c, r;
        buf_reset(b);
        *ret_nul = false;
        while ((c = getc_unlocked(f)) != EOF) {
                if (c == '\n')
                        return (r = buf_terminate(b)) < 0 ? r : 1;
                if (c == 0)
                        *ret_nul = true;
                if ((r = buf_putc(b, (char) c)) < 0)
                        return r;
        }
        if (ferror(f))
                return -EIO;
        if (b->len == 0)
                return 0;
        return (r = buf_terminate(b)) < 0 ? r : 1;
}

static const char *get_string(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static bool get_u64(json_object *o, const char *key, uint64_t *ret) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0)
                return false;
        *ret = json_object_get_uint64(v);
        return true;
}

static bool is_hash_hex(const char *s) {
        uint8_t tmp[JOURNAL_SHA256_SIZE];
        return s && hex_decode32(s, strlen(s), tmp) >= 0;
}

static void check_manifest(ExportState *s, json_object *m) {
        JournalVerifyResult *res = s->res;
        uint64_t count, format, v;
        const char *h;

        if (!json_object_is_type(m, json_type_object) || !get_u64(m, "format", &format) || format != JOURNAL_EXPORT_FORMAT ||
            !get_u64(m, "count", &count)) {
                fault(s, JOURNAL_FAULT_MANIFEST, s->prev_seq + 1, "manifest is not of format 1");
                return;
        }
        if (count != res->n_records) {
                fault(s, JOURNAL_FAULT_MANIFEST, s->prev_seq + 1, "manifest counts %" PRIu64 " records, the file has %" PRIu64,
                      count, res->n_records);
                return;
        }
        if (count == 0)
                return;
        if (!get_u64(m, "first_sequence", &v) || v != res->first_sequence) {
                fault(s, JOURNAL_FAULT_MANIFEST, res->first_sequence, "manifest names another first sequence");
                return;
        }
        if (!get_u64(m, "last_sequence", &v) || v != res->last_sequence) {
                fault(s, JOURNAL_FAULT_MANIFEST, res->last_sequence + 1, "manifest names another last sequence: records missing");
                return;
        }
        if (!(h = get_string(m, "last_hash")) || !streq(h, res->last_hash)) {
                fault(s, JOURNAL_FAULT_MANIFEST, res->last_sequence, "manifest names another last hash");
                return;
        }
        if (!(h = get_string(m, "first_prev_hash")) || !streq(h, s->first_prev))
                fault(s, JOURNAL_FAULT_MANIFEST, res->first_sequence, "manifest names another start of the chain");
}

/* Records a fault in s; -ENOMEM when the check could not be made. */
static int check_record(ExportState *s, json_object *o, bool canonical, Buf *canon) {
        JournalVerifyResult *res = s->res;
        uint64_t expect = s->have_prev ? s->prev_seq + 1 : 0, seq;
        json_object *mn, *ev;
        const char *h, *p;
        char hash[JOURNAL_HASH_HEX_SIZE], computed[JOURNAL_HASH_HEX_SIZE];
        uint8_t digest[JOURNAL_SHA256_SIZE];

        if (!json_object_object_get_ex(o, "mnguard", &mn) || !json_object_is_type(mn, json_type_object) ||
            !json_object_object_get_ex(o, "event", &ev) || !json_object_is_type(ev, json_type_object) ||
            !get_u64(ev, "sequence", &seq) || !is_hash_hex(h = get_string(mn, "hash")) ||
            !is_hash_hex(p = get_string(mn, "prev_hash"))) {
                fault(s, JOURNAL_FAULT_MALFORMED, expect, "not a journal record");
                return 0;
        }
        /* Byte for byte what the journal wrote: no second reading of the same line (duplicate keys,
         * spacing, number forms) can differ from what was hashed. */
        if (!canonical) {
                fault(s, JOURNAL_FAULT_MALFORMED, seq, "record %" PRIu64 " is not in canonical form: modified", seq);
                return 0;
        }
        if (s->have_prev && seq != expect) {
                if (seq > expect)
                        fault(s, JOURNAL_FAULT_MISSING, expect, "record %" PRIu64 " missing (the file goes on at %" PRIu64 ")",
                              expect, seq);
                else
                        fault(s, JOURNAL_FAULT_SEQUENCE, seq, "record %" PRIu64 " follows record %" PRIu64 ": reordered",
                              seq, s->prev_seq);
                return 0;
        }
        if (s->have_prev && !streq(p, s->prev_hash)) {
                fault(s, JOURNAL_FAULT_LINK, seq, "record %" PRIu64 " does not follow record %" PRIu64 ": inserted or replaced",
                      seq, s->prev_seq);
                return 0;
        }
        memcpy(hash, h, sizeof(hash));
        json_object_object_del(mn, "hash");
        buf_reset(canon);
        int r = canon_write(canon, o);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                fault(s, JOURNAL_FAULT_MALFORMED, seq, "record %" PRIu64 " cannot be hashed", seq);
                return 0;
        }
        record_hash(p, canon->data, canon->len, digest);
        hex_encode(digest, sizeof(digest), computed);
        if (!streq(computed, hash)) {
                fault(s, JOURNAL_FAULT_MODIFIED, seq, "record %" PRIu64 " does not match its hash: modified", seq);
                return 0;
        }
        if (!s->have_prev) {
                res->first_sequence = seq;
                memcpy(s->first_prev, p, sizeof(s->first_prev));
        }
        s->have_prev = true;
        s->prev_seq = seq;
        memcpy(s->prev_hash, hash, sizeof(hash));
        res->n_records++;
        res->last_sequence = seq;
        memcpy(res->last_hash, hash, sizeof(hash));
        return 0;
}

/* One parse of line: 1 and *ret when it is a JSON object (*ret_canonical: the line is exactly its
 * canonical form, which is left in canon), 0 when it is not, -ENOMEM. */
static int parse_once(json_tokener *tok, const Buf *line, Buf *canon, json_object **ret, bool *ret_canonical) {
        json_tokener_reset(tok);
        json_object *o = json_tokener_parse_ex(tok, line->data, (int) line->len);
        enum json_tokener_error e = json_tokener_get_error(tok);
        int r;

        buf_reset(canon);
        if (!o && e == json_tokener_success)
                return -ENOMEM; /* json-c before 0.17: out of memory, without an error */
        if (!o || e != json_tokener_success || (size_t) json_tokener_get_parse_end(tok) != line->len ||
            !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return 0;
        }
        r = canon_write(canon, o);
        if (r == -ENOMEM) {
                json_object_put(o);
                return r;
        }
        *ret_canonical = r >= 0 && canon->len == line->len && memcmp(canon->data, line->data, line->len) == 0;
        *ret = o;
        return 1;
}

/* Parses a line into *ret (NULL: not a JSON object). json-c before 0.17 does not report running out of
 * memory while parsing: it drops members or cuts strings short and says nothing. So a line that does not
 * come out as a canonical JSON object is parsed a second time, and only the same result twice is a
 * verdict on the line; anything else means that memory ran out (-ENOMEM). */
static int parse_line(json_tokener *tok, const Buf *line, Buf *canon, Buf *canon2, json_object **ret, bool *ret_canonical) {
        json_object *o = NULL, *o2 = NULL;
        bool c = false, c2 = false;
        int r, r2;

        r = parse_once(tok, line, canon, &o, &c);
        if (r < 0)
                return r;
        if (r > 0 && c) {
                *ret = o;
                *ret_canonical = true;
                return 0;
        }
        r2 = parse_once(tok, line, canon2, &o2, &c2);
        if (r2 < 0) {
                json_object_put(o);
                return r2;
        }
        if (r2 > 0 && c2) {
                json_object_put(o);
                *ret = o2;
                *ret_canonical = true;
                return 0;
        }
        json_object_put(o2);
        if (r != r2 || canon->len != canon2->len || (canon->len > 0 && memcmp(canon->data, canon2->data, canon->len) != 0)) {
                json_object_put(o);
                return -ENOMEM;
        }
        *ret = o;
        *ret_canonical = false;
        return 0;
}

int journal_verify_export(FILE *f, JournalVerifyResult *ret) {
        JournalVerifyResult res = {};
        ExportState s = { .res = &res };
        json_tokener *tok = NULL;
        Buf line, canon, canon2;
        bool nul;
        int r;

        if (!f || !ret)
                return -EINVAL;
        tok = json_tokener_new_ex(JOURNAL_DEPTH_MAX + 2);
        if (!tok)
                return -ENOMEM;
        buf_init(&line, JOURNAL_EXPORT_LINE_MAX);
        buf_init(&canon, JOURNAL_EXPORT_LINE_MAX);
        buf_init(&canon2, JOURNAL_EXPORT_LINE_MAX);
        res.intact = true;

        while (res.fault == JOURNAL_FAULT_NONE) {
                uint64_t expect = s.have_prev ? s.prev_seq + 1 : 0;
                r = read_line(f, &line, &nul);
                if (r == -EMSGSIZE) {
                        s.line++;
                        fault(&s, JOURNAL_FAULT_MALFORMED, expect, "line longer than %u bytes", JOURNAL_EXPORT_LINE_MAX);
                        break;
                }
                if (r < 0)
                        goto finish;
                if (r == 0)
                        break;
                s.line++;
                if (s.manifest) {
                        fault(&s, JOURNAL_FAULT_MANIFEST, expect, "lines after the manifest");
                        break;
                }
                _cleanup_(json_object_putp) json_object *o = NULL;
                bool canonical = false;
                if (!nul && (r = parse_line(tok, &line, &canon, &canon2, &o, &canonical)) < 0)
                        goto finish;
                if (!o) {
                        fault(&s, JOURNAL_FAULT_MALFORMED, expect, "not a JSON object");
                        break;
                }
                json_object *m;
                if (json_object_object_get_ex(o, "mnguard_manifest", &m)) {
                        s.manifest = true;
                        check_manifest(&s, m);
                } else if ((r = check_record(&s, o, canonical, &canon)) < 0)
                        goto finish;
        }
        if (res.fault == JOURNAL_FAULT_NONE && !s.manifest)
                fault(&s, JOURNAL_FAULT_MANIFEST, s.have_prev ? s.prev_seq + 1 : 0,
                      "no manifest line: the export is incomplete");
        r = 0;
        *ret = res;
finish:
        json_tokener_free(tok);
        buf_done(&line);
        buf_done(&canon);
        buf_done(&canon2);
        return r;
}
