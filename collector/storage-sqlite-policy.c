/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SQLite backend: published policies, queued exception tickets, host groups (issue 7). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage-sqlite.h"

static void copy_text(char *dst, size_t size, sqlite3_stmt *st, int col) {
        const char *v = (const char *) sqlite3_column_text(st, col);
        snprintf(dst, size, "%s", v ?: "");
}

static int copy_blob(sqlite3_stmt *st, int col, char **ret, size_t *ret_len) {
        int n = sqlite3_column_bytes(st, col);
        const void *p = sqlite3_column_blob(st, col);
        char *d = malloc((size_t) n + 1);
        if (!d)
                return -ENOMEM;
        if (n > 0)
                memcpy(d, p, (size_t) n);
        d[n] = 0;
        *ret = d;
        *ret_len = (size_t) n;
        return 0;
}

int sqlite_policy_publish(Storage *base, const PolicyRecord *p) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *sel = NULL, *ins = NULL;
        int r;

        if (p->serial > INT64_MAX)
                return -ERANGE;
        sqlite_write_lock(s);
        sqlite_group_flush_locked(s);
        r = sqlite_exec_sql(s->writer, "BEGIN IMMEDIATE");
        if (r < 0)
                goto out;
        r = sqlite_prepare(s->writer, "SELECT MAX(serial) FROM policies WHERE grp = ?", &sel);
        if (r < 0)
                goto rollback;
        sqlite3_bind_text(sel, 1, p->group, -1, SQLITE_STATIC);
        int rc = sqlite3_step(sel);
        if (rc != SQLITE_ROW) {
                r = sqlite_errno(rc);
                goto rollback;
        }
        if (sqlite3_column_type(sel, 0) != SQLITE_NULL && (uint64_t) sqlite3_column_int64(sel, 0) >= p->serial) {
                r = -ESTALE;
                goto rollback;
        }
        r = sqlite_prepare(s->writer, "INSERT INTO policies (grp, serial, name, key_id, published, published_by, data, "
                                      "signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &ins);
        if (r < 0)
                goto rollback;
        sqlite3_bind_text(ins, 1, p->group, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, (int64_t) p->serial);
        sqlite3_bind_text(ins, 3, p->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, p->key_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 5, (int64_t) p->published_usec);
        sqlite3_bind_text(ins, 6, p->published_by, -1, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 7, p->data, (int) p->data_len, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 8, p->signature, (int) p->signature_len, SQLITE_STATIC);
        r = sqlite_errno(sqlite3_step(ins));
        if (r < 0)
                goto rollback;
        r = sqlite_exec_sql(s->writer, "COMMIT");
        if (r >= 0)
                goto out;
rollback:
        sqlite_exec_sql(s->writer, "ROLLBACK");
out:
        sqlite_write_unlock(s, &sel, &ins, NULL);
        return r;
}

#define POLICY_COLUMNS "grp, serial, name, key_id, published, published_by"

static void policy_from_row(sqlite3_stmt *st, PolicyRecord *p) {
        *p = (PolicyRecord) {};
        copy_text(p->group, sizeof(p->group), st, 0);
        p->serial = (uint64_t) sqlite3_column_int64(st, 1);
        copy_text(p->name, sizeof(p->name), st, 2);
        copy_text(p->key_id, sizeof(p->key_id), st, 3);
        p->published_usec = (uint64_t) sqlite3_column_int64(st, 4);
        copy_text(p->published_by, sizeof(p->published_by), st, 5);
}

int sqlite_policy_latest(Storage *base, const char *group, bool with_data, PolicyRecord *ret) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned i;
        sqlite3 *db = sqlite_reader_get(s, &i);
        int r = sqlite_prepare(db, with_data ? "SELECT " POLICY_COLUMNS ", data, signature FROM policies WHERE grp = ? "
                                               "ORDER BY serial DESC LIMIT 1"
                                             : "SELECT " POLICY_COLUMNS " FROM policies WHERE grp = ? ORDER BY serial DESC LIMIT 1",
                               &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        PolicyRecord p;
                        policy_from_row(st, &p);
                        if (with_data && (copy_blob(st, 6, &p.data, &p.data_len) < 0 ||
                                          copy_blob(st, 7, &p.signature, &p.signature_len) < 0)) {
                                policy_record_done(&p);
                                r = -ENOMEM;
                        } else
                                *ret = p;
                } else
                        r = rc == SQLITE_DONE ? -ENOENT : sqlite_errno(rc);
        }
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, i);
        return r;
}

int sqlite_policies(Storage *base, const char *group, uint64_t limit, PolicyFunc f, void *userdata) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned i;
        sqlite3 *db = sqlite_reader_get(s, &i);
        int r = sqlite_prepare(db, "SELECT " POLICY_COLUMNS " FROM policies WHERE (?1 IS NULL OR grp = ?1) "
                                   "ORDER BY published DESC, id DESC LIMIT ?2", &st);
        if (r >= 0) {
                if (group)
                        sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, limit > 0 && limit < INT64_MAX ? (int64_t) limit : INT64_MAX);
                int rc;
                while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                        PolicyRecord p;
                        policy_from_row(st, &p);
                        r = f(&p, userdata);
                        if (r != 0)
                                break;
                }
                if (r == 0 && rc != SQLITE_DONE)
                        r = sqlite_errno(rc);
                if (r > 0)
                        r = 0;
        }
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, i);
        return r;
}

int sqlite_published_state(Storage *base, PublishedState *ret) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL, *tk = NULL;
        PublishedState ps = {};
        size_t cap = 0;
        unsigned i;
        sqlite3 *db = sqlite_reader_get(s, &i);
        int r = sqlite_prepare(db, "SELECT grp, MAX(serial) FROM policies GROUP BY grp", &st);
        if (r >= 0) {
                int rc;
                while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                        if (ps.n_groups == cap) {
                                size_t ncap = cap ? cap * 2 : 16;
                                void *g = realloc(ps.groups, ncap * sizeof(*ps.groups));
                                if (g)
                                        ps.groups = g;
                                void *v = realloc(ps.serials, ncap * sizeof(*ps.serials));
                                if (v)
                                        ps.serials = v;
                                if (!g || !v) {
                                        r = -ENOMEM;
                                        break;
                                }
                                cap = ncap;
                        }
                        copy_text(ps.groups[ps.n_groups], sizeof(ps.groups[0]), st, 0);
                        ps.serials[ps.n_groups++] = (uint64_t) sqlite3_column_int64(st, 1);
                }
                if (r >= 0 && rc != SQLITE_DONE)
                        r = sqlite_errno(rc);
        }
        if (r >= 0)
                r = sqlite_prepare(db, "SELECT COALESCE(MAX(id), 0) FROM tickets", &tk);
        if (r >= 0) {
                int rc = sqlite3_step(tk);
                if (rc == SQLITE_ROW)
                        ps.last_ticket_id = sqlite3_column_int64(tk, 0);
                else
                        r = sqlite_errno(rc);
        }
        sqlite3_finalize(TAKE_PTR(st));
        sqlite3_finalize(TAKE_PTR(tk));
        sqlite_reader_put(s, i);
        if (r < 0) {
                published_state_done(&ps);
                return r;
        }
        *ret = ps;
        return 0;
}

int sqlite_ticket_queue(Storage *base, TicketRecord *t) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *ins = NULL;
        sqlite_write_lock(s);
        sqlite_group_flush_locked(s);
        int r = sqlite_prepare(s->writer, "INSERT INTO tickets (host_id, ticket_id, queued, queued_by, data) "
                                          "VALUES (?, ?, ?, ?, ?)", &ins);
        if (r >= 0) {
                sqlite3_bind_text(ins, 1, t->host_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(ins, 2, t->ticket_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(ins, 3, (int64_t) t->queued_usec);
                sqlite3_bind_text(ins, 4, t->queued_by, -1, SQLITE_STATIC);
                sqlite3_bind_blob(ins, 5, t->data, (int) t->data_len, SQLITE_STATIC);
                r = sqlite_errno(sqlite3_step(ins));
                if (r >= 0)
                        t->id = sqlite3_last_insert_rowid(s->writer);
        }
        sqlite_write_unlock(s, &ins, NULL);
        return r;
}

int sqlite_tickets_after(Storage *base, const char *host_id, int64_t after, size_t max, TicketFunc f, void *userdata) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        unsigned i;
        sqlite3 *db = sqlite_reader_get(s, &i);
        int r = sqlite_prepare(db, "SELECT id, host_id, ticket_id, queued, queued_by, data FROM tickets "
                                   "WHERE host_id = ? AND id > ? ORDER BY id LIMIT ?", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, after);
                sqlite3_bind_int64(st, 3, (int64_t) max);
                int rc;
                while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                        TicketRecord t = { .id = sqlite3_column_int64(st, 0) };
                        copy_text(t.host_id, sizeof(t.host_id), st, 1);
                        copy_text(t.ticket_id, sizeof(t.ticket_id), st, 2);
                        t.queued_usec = (uint64_t) sqlite3_column_int64(st, 3);
                        copy_text(t.queued_by, sizeof(t.queued_by), st, 4);
                        r = copy_blob(st, 5, &t.data, &t.data_len);
                        if (r < 0)
                                break;
                        r = f(&t, userdata);
                        free(t.data);
                        if (r != 0)
                                break;
                }
                if (r == 0 && rc != SQLITE_DONE)
                        r = sqlite_errno(rc);
                if (r > 0)
                        r = 0;
        }
        sqlite3_finalize(TAKE_PTR(st));
        sqlite_reader_put(s, i);
        return r;
}

int sqlite_host_set_group(Storage *base, const char *host_id, const char *group) {
        SqliteStorage *s = (SqliteStorage *) base;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *upd = NULL;
        sqlite_write_lock(s);
        sqlite_group_flush_locked(s);
        int r = sqlite_prepare(s->writer, "UPDATE hosts SET grp = ? WHERE host_id = ?", &upd);
        if (r >= 0) {
                sqlite3_bind_text(upd, 1, group, -1, SQLITE_STATIC);
                sqlite3_bind_text(upd, 2, host_id, -1, SQLITE_STATIC);
                r = sqlite_errno(sqlite3_step(upd));
                if (r >= 0 && sqlite3_changes(s->writer) == 0)
                        r = -ENOENT;
        }
        sqlite_write_unlock(s, &upd, NULL);
        return r;
}
