/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The meta table: host identity, the collector's ack, free keys for the daemon, and the journal's own
 * entries (format, last commit, anchor). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal-internal.h"

int db_meta_get(sqlite3 *db, const char *key, char **ret) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return db_errno(db, rc);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        int r;
        if (rc == SQLITE_ROW) {
                const char *v = (const char *) sqlite3_column_text(st, 0);
                /* NULL also when SQLite ran out of memory for it: not an empty value then */
                char *copy = !v && (sqlite3_errcode(db) & 0xff) == SQLITE_NOMEM ? NULL : strdup(v ? v : "");
                r = copy ? 0 : -ENOMEM;
                if (copy)
                        *ret = copy;
        } else
                r = rc == SQLITE_DONE ? -ENOENT : db_errno(db, rc);
        sqlite3_finalize(st);
        return r;
}

int journal_meta_put(Journal *j, const char *key, const char *value) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(j->db, JOURNAL_META_PUT_SQL, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return db_errno(j->db, rc);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : db_errno(j->db, rc);
}

int journal_meta_put_u64(Journal *j, const char *key, uint64_t value) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%" PRIu64, value);
        return journal_meta_put(j, key, buf);
}

int journal_meta_put_hash(Journal *j, const char *key, const uint8_t hash[static 32]) {
        char hex[JOURNAL_HASH_HEX_SIZE];
        hex_encode(hash, JOURNAL_SHA256_SIZE, hex);
        return journal_meta_put(j, key, hex);
}

int journal_meta_get_u64(Journal *j, const char *key, uint64_t *ret) {
        _cleanup_free_ char *v = NULL;
        int r = db_meta_get(j->db, key, &v);
        if (r < 0)
                return r;
        if (parse_u64(v, ret) < 0)
                return -EBADMSG;
        return 0;
}

int journal_meta_get_hash(Journal *j, const char *key, uint8_t ret[static 32]) {
        _cleanup_free_ char *v = NULL;
        int r = db_meta_get(j->db, key, &v);
        if (r < 0)
                return r;
        return hex_decode32(v, strlen(v), ret) < 0 ? -EBADMSG : 0;
}

static bool meta_key_reserved(const char *key) {
        static const char *const reserved[] = { "format", "created", "last_seq", "last_hash",
                                                "anchor_seq", "anchor_hash", "acked_seq" };
        for (size_t i = 0; i < ELEMENTSOF(reserved); i++)
                if (streq(key, reserved[i]))
                        return true;
        return false;
}

static bool meta_key_ok(const char *key) {
        size_t n = key ? strlen(key) : 0;
        if (n == 0 || n > JOURNAL_META_KEY_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = key[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
                        return false;
        }
        return true;
}

int journal_meta_get(Journal *j, const char *key, char **ret_value) {
        if (!j || !meta_key_ok(key) || !ret_value)
                return -EINVAL;
        return db_meta_get(j->db, key, ret_value);
}

int journal_meta_set(Journal *j, const char *key, const char *value) {
        if (!j || !meta_key_ok(key) || !value)
                return -EINVAL;
        if (j->readonly)
                return -EROFS;
        if (meta_key_reserved(key))
                return -EPERM;
        size_t n = strlen(value);
        if (n > JOURNAL_META_VALUE_MAX || !utf8_is_valid(value, n, NULL))
                return -EINVAL;
        /* commits what is pending first: the writer then holds no transaction */
        (void) journal_flush(j);
        return journal_meta_put(j, key, value);
}

int replace_string(char **p, const char *v) {
        char *c = NULL;
        if (v && !(c = strdup(v)))
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

int journal_get_host(Journal *j, char **ret_host_id, char **ret_host_name) {
        _cleanup_free_ char *id = NULL, *name = NULL;
        if (!j)
                return -EINVAL;
        if (j->host_id && !(id = strdup(j->host_id)))
                return -ENOMEM;
        if (j->host_name && !(name = strdup(j->host_name)))
                return -ENOMEM;
        if (ret_host_id)
                *ret_host_id = TAKE_PTR(id);
        if (ret_host_name)
                *ret_host_name = TAKE_PTR(name);
        return 0;
}

int journal_set_host(Journal *j, const char *host_id, const char *host_name) {
        int r;
        if (!j)
                return -EINVAL;
        if (j->readonly)
                return -EROFS;
        if (host_id) {
                if ((r = journal_meta_set(j, "host_id", host_id)) < 0 || (r = replace_string(&j->host_id, host_id)) < 0)
                        return r;
        }
        if (host_name) {
                if ((r = journal_meta_set(j, "host_name", host_name)) < 0 ||
                    (r = replace_string(&j->host_name, host_name)) < 0)
                        return r;
        }
        return 0;
}

int journal_get_acked(Journal *j, uint64_t *ret_sequence) {
        if (!j || !ret_sequence)
                return -EINVAL;
        int r = journal_meta_get_u64(j, "acked_seq", ret_sequence);
        if (r == -ENOENT) {
                *ret_sequence = 0;
                return 0;
        }
        return r;
}

int journal_set_acked(Journal *j, uint64_t sequence) {
        uint64_t cur;
        int r;
        if (!j)
                return -EINVAL;
        if (j->readonly)
                return -EROFS;
        if (sequence > journal_durable_sequence(j))
                return -ERANGE;
        if ((r = journal_get_acked(j, &cur)) < 0)
                return r;
        if (sequence <= cur)
                return 0;
        (void) journal_flush(j);
        return journal_meta_put_u64(j, "acked_seq", sequence);
}

