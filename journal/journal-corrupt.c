/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A corrupt journal is set aside (never deleted) and a new one continues its sequence; the ".head" file
 * remembers the last committed sequence and hash for when the old file cannot be read at all. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal-internal.h"

#define HEAD_MAGIC "mnguard-journal-head 1 "
/* Magic, 20 digits, space, 64 hex digits, newline: always the same length, rewritten in place. */
#define HEAD_LEN (sizeof(HEAD_MAGIC) - 1 + 20 + 1 + 64 + 1)
/* Set-aside names tried when one already exists (two corruptions within a second). */
#define SET_ASIDE_TRIES_MAX 100

void journal_write_head_hint(Journal *j) {
        char hex[JOURNAL_HASH_HEX_SIZE], line[HEAD_LEN + 1];

        if (j->head_fd < 0 || j->readonly)
                return;
        hex_encode(j->durable_hash, JOURNAL_SHA256_SIZE, hex);
        int n = snprintf(line, sizeof(line), HEAD_MAGIC "%020" PRIu64 " %s\n", j->durable_seq, hex);
        if (n == (int) HEAD_LEN)
                (void) !pwrite(j->head_fd, line, HEAD_LEN, 0);
}

static int read_head_hint(const char *path, uint64_t *ret_seq, uint8_t ret_hash[static 32]) {
        _cleanup_free_ char *p = NULL;
        char line[HEAD_LEN];
        const size_t m = sizeof(HEAD_MAGIC) - 1;

        if (asprintf(&p, "%s.head", path) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        ssize_t n = pread(fd, line, sizeof(line), 0);
        if (n != (ssize_t) HEAD_LEN || memcmp(line, HEAD_MAGIC, m) != 0 || line[m + 20] != ' ' ||
            line[HEAD_LEN - 1] != '\n')
                return -EBADMSG;
        uint64_t seq;
        if (canon_parse_u64((Span) { line + m, 20 }, &seq) < 0) {
                /* zero-padded: skip the leading zeros the canonical parser refuses */
                size_t z = 0;
                while (z < 19 && line[m + z] == '0')
                        z++;
                if (canon_parse_u64((Span) { line + m + z, 20 - z }, &seq) < 0)
                        return -EBADMSG;
        }
        if (hex_decode32(line + m + 21, 64, ret_hash) < 0)
                return -EBADMSG;
        *ret_seq = seq;
        return 0;
}

static int rename_noreplace(const char *from, const char *to) {
        if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) >= 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS)
                return -errno;
        /* file system without RENAME_NOREPLACE */
        if (access(to, F_OK) >= 0)
                return -EEXIST;
        return rename(from, to) < 0 ? -errno : 0;
}

static void fsync_parent(const char *path) {
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return;
        char *slash = strrchr(dir, '/');
        if (slash == dir)
                slash[1] = 0;
        else if (slash)
                *slash = 0;
        else {
                free(dir);
                dir = strdup(".");
                if (!dir)
                        return;
        }
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                (void) fsync(fd);
}

/* Renames path, path-wal, path-shm to "<path>.corrupt-<UTC>[-N]" (+ -wal, -shm). */
static int set_aside(const char *path, char **ret_name) {
        static const char *const suffixes[] = { "-wal", "-shm" };
        char stamp[32];
        struct tm tm;
        time_t t = time(NULL);
        int r = -EEXIST;

        if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
                return -EINVAL;
        for (int i = 1; i <= SET_ASIDE_TRIES_MAX; i++) {
                _cleanup_free_ char *name = NULL;
                bool taken = false;
                if ((i == 1 ? asprintf(&name, "%s.corrupt-%s", path, stamp)
                            : asprintf(&name, "%s.corrupt-%s-%d", path, stamp, i)) < 0)
                        return -ENOMEM;
                /* the names of the -wal and -shm made before anything is moved: nothing can fail halfway
                 * for want of memory */
                char from[ELEMENTSOF(suffixes)][PATH_MAX], to[ELEMENTSOF(suffixes)][PATH_MAX];
                for (size_t k = 0; k < ELEMENTSOF(suffixes); k++) {
                        if (snprintf(from[k], PATH_MAX, "%s%s", path, suffixes[k]) >= PATH_MAX ||
                            snprintf(to[k], PATH_MAX, "%s%s", name, suffixes[k]) >= PATH_MAX)
                                return -ENAMETOOLONG;
                        taken = taken || access(to[k], F_OK) >= 0;
                }
                if (taken)
                        continue;
                r = rename_noreplace(path, name);
                if (r == -EEXIST)
                        continue;
                if (r < 0)
                        return r;
                for (size_t k = 0; k < ELEMENTSOF(suffixes); k++) {
                        r = rename_noreplace(from[k], to[k]);
                        if (r < 0 && r != -ENOENT)
                                return r;
                }
                fsync_parent(path);
                *ret_name = TAKE_PTR(name);
                return 0;
        }
        return r;
}

typedef struct Salvage {
        bool have_record, have_meta;
        uint64_t record_seq, meta_seq;
        uint8_t record_hash[JOURNAL_SHA256_SIZE], meta_hash[JOURNAL_SHA256_SIZE];
} Salvage;

static bool is_nomem(sqlite3 *db, int rc) {
        return (rc & 0xff) == SQLITE_NOMEM || (rc != SQLITE_OK && (sqlite3_errcode(db) & 0xff) == SQLITE_NOMEM);
}

/* Reads what it can from the set-aside file; a failure because of the file just leaves things unknown.
 * -ENOMEM when memory ran out: then nothing is known that the sequence could be continued from. */
static int salvage(const char *name, Salvage *s) {
        sqlite3 *db = NULL;
        char *tmpdir = NULL;
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        *s = (Salvage) {};
        r = journal_readonly_connect(name, &db, NULL, &tmpdir);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        rc = sqlite3_prepare_v2(db, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == JOURNAL_SHA256_SIZE && sqlite3_column_int64(st, 0) > 0) {
                s->have_record = true;
                s->record_seq = (uint64_t) sqlite3_column_int64(st, 0);
                memcpy(s->record_hash, sqlite3_column_blob(st, 1), JOURNAL_SHA256_SIZE);
        } else if (is_nomem(db, rc))
                r = -ENOMEM;
        sqlite3_finalize(st);
        st = NULL;
        rc = r < 0 ? SQLITE_NOMEM
                   : sqlite3_prepare_v2(db,
                                        "SELECT (SELECT value FROM meta WHERE key = 'last_seq'), "
                                        "(SELECT value FROM meta WHERE key = 'last_hash')",
                                        -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                const char *seq = (const char *) sqlite3_column_text(st, 0);
                const char *hash = (const char *) sqlite3_column_text(st, 1);
                if (seq && hash && parse_u64(seq, &s->meta_seq) >= 0 && s->meta_seq > 0 &&
                    hex_decode32(hash, strlen(hash), s->meta_hash) >= 0)
                        s->have_meta = true;
                else if (is_nomem(db, rc))
                        r = -ENOMEM; /* a value that could not be converted */
        } else if (is_nomem(db, rc))
                r = -ENOMEM;
        sqlite3_finalize(st);
        sqlite3_close_v2(db);
        journal_remove_tmpdir(tmpdir);
        return r;
}

static int add_u64(json_object *o, const char *key, uint64_t v) {
        json_object *x = json_object_new_uint64(v);
        if (!x || json_object_object_add(o, key, x) < 0) {
                json_object_put(x);
                return -ENOMEM;
        }
        return 0;
}

static int add_string(json_object *o, const char *key, const char *v) {
        json_object *x = json_object_new_string(v);
        if (!x || json_object_object_add(o, key, x) < 0) {
                json_object_put(x);
                return -ENOMEM;
        }
        return 0;
}

static int add_object(json_object *o, const char *key, json_object **ret) {
        json_object *x = json_object_new_object();
        if (!x || json_object_object_add(o, key, x) < 0) {
                json_object_put(x);
                return -ENOMEM;
        }
        *ret = x;
        return 0;
}

/* The new journal could not be started: it goes, and the damaged file goes back to where it was, so that
 * the next journal_open() does it all again and the sequence still continues from the old one. */
static void undo_set_aside(Journal *j, const char *name) {
        static const char *const suffixes[] = { "", "-wal", "-shm" };

        /* closed first: closing removes the new journal's -wal by its name */
        runs_done(&j->runs);
        sqlite3_finalize(j->insert);
        j->insert = NULL;
        sqlite3_close_v2(j->db);
        j->db = NULL;
        for (size_t k = 0; k < ELEMENTSOF(suffixes); k++) {
                char from[PATH_MAX], to[PATH_MAX];
                if (snprintf(to, sizeof(to), "%s%s", j->path, suffixes[k]) >= (int) sizeof(to) ||
                    snprintf(from, sizeof(from), "%s%s", name, suffixes[k]) >= (int) sizeof(from))
                        return;
                (void) unlink(to);
                if (rename_noreplace(from, to) < 0 && k == 0)
                        return;
        }
        fsync_parent(j->path);
        free(j->set_aside);
        j->set_aside = NULL;
}

static int salvage_into_new(Journal *j, const JournalOptions *opts, const char *reason, const char *name);

int journal_set_aside_and_salvage(Journal *j, const JournalOptions *opts, const char *reason) {
        _cleanup_free_ char *name = NULL;
        int r;

        if ((r = set_aside(j->path, &name)) < 0)
                return r;
        r = salvage_into_new(j, opts, reason, name);
        if (r < 0)
                undo_set_aside(j, name);
        return r;
}

static int salvage_into_new(Journal *j, const JournalOptions *opts, const char *reason, const char *name) {
        _cleanup_(json_object_putp) json_object *ev = NULL;
        _cleanup_(record_freep) Record *rec = NULL;
        _cleanup_free_ char *why = NULL, *safe_reason = NULL, *safe_name = NULL;
        json_object *mn, *info, *file, *anchor;
        uint64_t seq = 0, hint_seq = 0;
        uint8_t hash[JOURNAL_SHA256_SIZE] = {}, hint_hash[JOURNAL_SHA256_SIZE];
        bool have_hint;
        Salvage s;
        int r;

        j->set_aside = strdup(name);
        if (!j->set_aside)
                return -ENOMEM;
        if ((r = salvage(name, &s)) < 0)
                return r;
        r = read_head_hint(j->path, &hint_seq, hint_hash);
        if (r == -ENOMEM)
                return r;
        have_hint = r >= 0;

        /* Go on after the newest sequence known from any source. */
        if (s.have_record) {
                seq = s.record_seq;
                memcpy(hash, s.record_hash, sizeof(hash));
        }
        if (s.have_meta && s.meta_seq > seq) {
                seq = s.meta_seq;
                memcpy(hash, s.meta_hash, sizeof(hash));
        }
        if (have_hint && hint_seq > seq) {
                seq = hint_seq;
                memcpy(hash, hint_hash, sizeof(hash));
        }

        if ((r = journal_reopen_fresh(j, opts)) < 0)
                return r;

        safe_reason = untrusted_sanitize(reason, strlen(reason), 200);
        safe_name = untrusted_sanitize(name, strlen(name), MN_UNTRUSTED_MAX);
        if (!safe_reason || !safe_name || asprintf(&why, "journal could not be used (%s) and was set aside", safe_reason) < 0)
                return -ENOMEM;
        ev = journal_event_new(j, "journal-corrupt", "failure", why);
        if (!ev)
                return -ENOMEM;
        if ((r = add_object(ev, "file", &file)) < 0 || (r = add_string(file, "path", safe_name)) < 0 ||
            (r = add_object(ev, "mnguard", &mn)) < 0 || (r = add_object(mn, "journal", &info)) < 0 ||
            (r = add_string(info, "error", safe_reason)) < 0 || (r = add_string(info, "set_aside", safe_name)) < 0)
                return r;
        if (s.have_record && (r = add_u64(info, "last_good_sequence", s.record_seq)) < 0)
                return r;
        if (s.have_meta && (r = add_u64(info, "last_committed_sequence", s.meta_seq)) < 0)
                return r;
        if (have_hint && (r = add_u64(info, "head_sequence", hint_seq)) < 0)
                return r;
        if (seq > 0) {
                char hex[JOURNAL_HASH_HEX_SIZE];
                hex_encode(hash, sizeof(hash), hex);
                if ((r = add_object(mn, "anchor", &anchor)) < 0 || (r = add_u64(anchor, "sequence", seq)) < 0 ||
                    (r = add_string(anchor, "hash", hex)) < 0)
                        return r;
        }

        /* The anchor and the record that confirms it are committed together. */
        j->head_seq = j->durable_seq = seq;
        memcpy(j->head_hash, hash, sizeof(hash));
        memcpy(j->durable_hash, hash, sizeof(hash));
        if ((r = journal_build_record(j, ev, &rec)) < 0)
                return r;
        if ((r = journal_exec(j, "BEGIN IMMEDIATE")) < 0)
                return r;
        if ((seq > 0 && ((r = journal_meta_put_u64(j, "anchor_seq", seq)) < 0 ||
                         (r = journal_meta_put_hash(j, "anchor_hash", hash)) < 0)) ||
            (r = journal_insert_records(j, &rec, 1)) < 0 || (r = journal_store_last(j, rec->seq, rec->hash)) < 0 ||
            (r = journal_exec(j, "COMMIT")) < 0) {
                (void) journal_rollback(j);
                return r;
        }
        j->durable_seq = rec->seq;
        memcpy(j->durable_hash, rec->hash, sizeof(rec->hash));
        return 0;
}
