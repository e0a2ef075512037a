/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The write audit: media, the ordered queue of records, events and summaries (see write-audit.h). */
#include "write-audit-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "event.h"
#include "macro.h"

static void record_free(Record *r) {
        if (!r)
                return;
        if (r->job.fd >= 0)
                close(r->job.fd);
        free(r->path);
        free(r->name);
        free(r->old_path);
        free(r->old_name);
        free(r->exe);
        free(r);
}

Record *wa_record_new(MnWriteAuditMedium *m, RecordType type) {
        Record *r = calloc(1, sizeof(Record));
        if (!r)
                return NULL;
        r->type = type;
        r->medium = m;
        r->job.fd = -EBADF;
        r->ready = true;
        return r;
}

void wa_record_queue(MnWriteAudit *a, Record *r) {
        if (a->fifo_n >= MN_WRITE_AUDIT_MAX_PENDING) {
                /* Cannot happen (reads are sized to the room left); never grow without bound. */
                record_free(r);
                return;
        }
        a->fifo[(a->fifo_head + a->fifo_n) % MN_WRITE_AUDIT_MAX_PENDING] = r;
        a->fifo_n++;
        r->medium->n_pending++;
        if (a->fifo_n > a->stats.pending_max)
                a->stats.pending_max = a->fifo_n;
}

void wa_record_set_process(MnWriteAudit *a, Record *r, pid_t pid) {
        MnProcInfo buf;
        const MnProcInfo *p = mn_proc_cache_get(&a->procs, pid, &buf);

        r->pid = pid;
        if (p->has_exe)
                r->exe = strdup(p->exe);
        r->has_uid = p->has_uid;
        r->uid = p->uid;
}

void wa_record_hash(MnWriteAudit *a, Record *r, int fd) {
        struct stat st;

        if (fd < 0) {
                r->hash = HASH_FAILED;
                r->hash_error = fd;
                return;
        }
        if (fstat(fd, &st) < 0) {
                r->hash = HASH_FAILED;
                r->hash_error = -errno;
                close(fd);
                return;
        }
        r->has_size = true;
        r->size = (uint64_t) st.st_size;
        r->has_file_uid = true;
        r->file_uid = st.st_uid;
        if (!S_ISREG(st.st_mode)) {
                r->hash = HASH_FAILED;
                r->hash_error = -EBADFD;
                close(fd);
                return;
        }
        if (r->size > a->o.hash_max_size) {
                r->hash = HASH_SKIPPED;
                close(fd);
                return;
        }
        if (a->open_files >= MN_WRITE_AUDIT_MAX_OPEN_FILES) {
                /* Cannot happen: reads are sized to the files that may be held. */
                r->hash = HASH_FAILED;
                r->hash_error = -EMFILE;
                close(fd);
                return;
        }
        r->hash = HASH_PENDING;
        r->ready = false;
        r->job = (HashJob) { .fd = fd, .max_size = a->o.hash_max_size };
        a->open_files++;
        if (a->open_files > a->stats.open_files_max)
                a->stats.open_files_max = a->open_files;
        wa_worker_submit(&a->worker, r);
}

/* --- events --- */

static const char *action_of(RecordType t) {
        switch (t) {
        case RECORD_WRITTEN: return "file-written";
        case RECORD_DELETED: return "file-deleted";
        case RECORD_RENAMED: return "file-renamed";
        case RECORD_OVERFLOW: return "file-audit-overflow";
        }
        return "file-written";
}

static void hex(const uint8_t *v, size_t n, char *out) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[v[i] >> 4];
                out[2 * i + 1] = digits[v[i] & 15];
        }
        out[2 * n] = 0;
}

static void emit(MnWriteAudit *a, Record *r) {
        MnWriteAuditMedium *m = r->medium;
        const char *outcome = MN_OUTCOME_SUCCESS, *reason = NULL;
        char reason_buf[128];

        if (r->type == RECORD_OVERFLOW) {
                outcome = MN_OUTCOME_FAILURE;
                reason = "the kernel's event queue overflowed: file events on this medium were lost";
        } else if (r->type == RECORD_WRITTEN && r->hash == HASH_FAILED) {
                (void) snprintf(reason_buf, sizeof(reason_buf), "content not hashed: %s", strerror(-r->hash_error));
                reason = reason_buf;
        }

        json_object *ev = mn_event_new(action_of(r->type), outcome, reason);
        if (!ev)
                return;
        json_object *dev = mn_event_section(ev, "device");
        mn_event_set_untrusted(dev, "devnode", m->devnode);
        if (m->devnum != 0) {
                mn_event_set_int(dev, "major", major(m->devnum));
                mn_event_set_int(dev, "minor", minor(m->devnum));
        }
        (void) mn_event_add_fields(dev, m->device);
        mn_event_set_untrusted(mn_event_section(ev, "mount"), "point", m->mount_point);
        if (m->rule)
                mn_event_set_untrusted(mn_event_section(ev, "mnguard"), "rule", m->rule);

        if (r->type != RECORD_OVERFLOW) {
                json_object *f = mn_event_section(ev, "file");
                mn_event_set_untrusted(f, "path", r->path);
                mn_event_set_untrusted(f, "name", r->name);
                if (r->type == RECORD_RENAMED) {
                        mn_event_set_untrusted(f, "old_path", r->old_path);
                        mn_event_set_untrusted(f, "old_name", r->old_name);
                }
                if (r->type != RECORD_WRITTEN)
                        mn_event_set_string(f, "type", r->is_dir ? "dir" : "file");
                if (r->has_size)
                        mn_event_set_int(f, "size", (int64_t) r->size);
                if (r->has_file_uid)
                        mn_event_set_int(f, "uid", r->file_uid);
                if (r->hash == HASH_DONE) {
                        char h[2 * SHA256_LEN + 1];
                        hex(r->digest, SHA256_LEN, h);
                        mn_event_set_string(mn_event_section(f, "hash"), "sha256", h);
                } else if (r->hash == HASH_SKIPPED)
                        json_object_object_add(f, "hash_skipped", json_object_new_boolean(true));
                else if (r->hash == HASH_FAILED)
                        mn_event_set_string(f, "hash_error", strerror(-r->hash_error));

                MnProcInfo p = { .pid = r->pid, .has_uid = r->has_uid, .uid = r->uid };
                if (r->exe) {
                        size_t n = strnlen(r->exe, sizeof(p.exe) - 1);
                        memcpy(p.exe, r->exe, n);
                        p.exe[n] = 0;
                        p.has_exe = true;
                }
                mn_event_add_process(ev, &a->procs, &p);
        }

        switch (r->type) {
        case RECORD_WRITTEN:
                m->summary.files_written++;
                m->summary.bytes_written += r->size;
                m->summary.hash_skipped += r->hash == HASH_SKIPPED;
                m->summary.hash_failed += r->hash == HASH_FAILED;
                break;
        case RECORD_DELETED:
                m->summary.files_deleted++;
                break;
        case RECORD_RENAMED:
                m->summary.files_renamed++;
                break;
        case RECORD_OVERFLOW:
                m->summary.overflows++;
                break;
        }
        a->stats.records_emitted++;
        mn_event_emit(&a->o.sink, ev, r->has_uid ? r->uid : (uid_t) -1);
}

/* Finished hashes back from the thread. */
static void collect(MnWriteAudit *a) {
        Record *v[64];
        size_t n;

        while ((n = wa_worker_collect(&a->worker, v, ELEMENTSOF(v))) > 0)
                for (size_t i = 0; i < n; i++) {
                        Record *r = v[i];
                        a->open_files--;
                        if (r->job.error < 0) {
                                r->hash = HASH_FAILED;
                                r->hash_error = r->job.error;
                        } else if (r->job.too_big) {
                                r->hash = HASH_SKIPPED;
                                r->size = r->job.bytes;
                        } else {
                                r->hash = HASH_DONE;
                                memcpy(r->digest, r->job.digest, SHA256_LEN);
                                r->size = r->job.bytes; /* what was hashed is what the medium holds */
                        }
                        r->ready = true;
                }
}

static void medium_free(MnWriteAuditMedium *m) {
        if (!m)
                return;
        wa_medium_close(m);
        record_free(m->moved_from);
        free(m->mount_point);
        free(m->devnode);
        free(m->rule);
        json_object_put(m->device);
        free(m->cached_dir);
        free(m);
}

static void medium_unlink(MnWriteAudit *a, MnWriteAuditMedium *m) {
        for (size_t i = 0; i < a->n_media; i++)
                if (a->media[i] == m) {
                        a->media[i] = a->media[--a->n_media];
                        break;
                }
}

void wa_flush(MnWriteAudit *a) {
        collect(a);
        while (a->fifo_n > 0) {
                Record *r = a->fifo[a->fifo_head];
                if (!r->ready)
                        break;
                a->fifo_head = (a->fifo_head + 1) % MN_WRITE_AUDIT_MAX_PENDING;
                a->fifo_n--;
                r->medium->n_pending--;
                emit(a, r);
                record_free(r);
        }
        a->stats.pending = a->fifo_n;

        /* Read again when there is room; removed media read what is left once more. */
        bool room = wa_read_size(a) > 0;
        if (room != !a->reading_paused) {
                a->reading_paused = !room;
                a->stats.read_pauses += !room;
                for (size_t i = 0; i < a->n_media; i++)
                        wa_medium_set_reading(a->media[i], room);
        }
        for (size_t i = 0; room && i < a->n_media; i++) {
                MnWriteAuditMedium *m = a->media[i];
                if (m->removing && !m->drained && wa_medium_read(a, m) <= 0)
                        m->drained = true;
        }

        /* Removed media whose every record is out: done. */
        for (size_t i = 0; i < a->n_media;) {
                MnWriteAuditMedium *m = a->media[i];
                if (!m->removing || !m->drained || m->n_pending > 0 || m->moved_from) {
                        i++;
                        continue;
                }
                medium_unlink(a, m);
                wa_medium_close(m);
                if (m->done)
                        m->done(&m->summary, m->done_userdata);
                medium_free(m);
        }
}

static int on_worker(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        wa_flush(userdata);
        return 0;
}

/* --- public --- */

int mn_write_audit_new(sd_event *e, const MnWriteAuditOptions *o, MnWriteAudit **ret) {
        _cleanup_(mn_write_audit_freep) MnWriteAudit *a = NULL;
        int r;

        a = calloc(1, sizeof(MnWriteAudit));
        if (!a)
                return -ENOMEM;
        a->o = *o;
        if (a->o.hash_max_size == 0)
                a->o.hash_max_size = MN_WRITE_AUDIT_HASH_MAX_DEFAULT;
        a->event = sd_event_ref(e);
        a->worker.efd = -EBADF;

        r = wa_worker_start(&a->worker);
        if (r < 0)
                return r;
        r = sd_event_add_io(e, &a->worker_source, a->worker.efd, EPOLLIN, on_worker, a);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

MnWriteAudit *mn_write_audit_free(MnWriteAudit *a) {
        if (!a)
                return NULL;
        a->worker_source = sd_event_source_disable_unref(a->worker_source);
        wa_worker_stop(&a->worker);
        for (size_t i = 0; i < a->fifo_n; i++)
                record_free(a->fifo[(a->fifo_head + i) % MN_WRITE_AUDIT_MAX_PENDING]);
        for (size_t i = 0; i < a->n_media; i++)
                medium_free(a->media[i]);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}

MnWriteAuditMedium *mn_write_audit_find(MnWriteAudit *a, dev_t fs_dev) {
        for (size_t i = 0; i < a->n_media; i++)
                if (a->media[i]->fs_dev == fs_dev && !a->media[i]->removing)
                        return a->media[i];
        return NULL;
}

int mn_write_audit_add(MnWriteAudit *a, const MnWriteAuditMediumInfo *info, MnWriteAuditMedium **ret) {
        MnWriteAuditMedium *m, *existing;
        struct stat st;
        int r;

        if (!info || isempty(info->mount_point) || info->mount_point[0] != '/')
                return -EINVAL;
        if (stat(info->mount_point, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        existing = mn_write_audit_find(a, st.st_dev);
        if (existing) {
                if (ret)
                        *ret = existing;
                return -EEXIST;
        }
        if (a->n_media >= MN_WRITE_AUDIT_MAX_MEDIA)
                return -E2BIG;

        m = calloc(1, sizeof(MnWriteAuditMedium));
        if (!m)
                return -ENOMEM;
        m->audit = a;
        m->fid_fd = m->fd_fd = -EBADF;
        m->fs_dev = st.st_dev;
        m->devnum = info->devnum;
        m->mount_point = strdup(info->mount_point);
        m->devnode = info->devnode ? strdup(info->devnode) : NULL;
        m->rule = info->rule ? strndup(info->rule, MN_WRITE_AUDIT_RULE_MAX) : NULL;
        if (info->device && json_object_deep_copy(info->device, &m->device, NULL) < 0)
                m->device = NULL;
        if (!m->mount_point || (info->devnode && !m->devnode) || (info->rule && !m->rule) ||
            (info->device && !m->device)) {
                medium_free(m);
                return -ENOMEM;
        }
        /* Strip trailing slashes so that paths on the medium come out right. */
        for (size_t n = strlen(m->mount_point); n > 1 && m->mount_point[n - 1] == '/'; n--)
                m->mount_point[n - 1] = 0;

        r = wa_medium_open(a, m);
        if (r < 0) {
                medium_free(m);
                return r;
        }
        a->media[a->n_media++] = m;
        if (ret)
                *ret = m;
        return 0;
}

int mn_write_audit_remove(MnWriteAudit *a, MnWriteAuditMedium *m, MnWriteAuditDone done, void *userdata) {
        if (!m || m->audit != a || m->removing)
                return -EINVAL;
        m->removing = true;
        m->done = done;
        m->done_userdata = userdata;
        if (!a->reading_paused && wa_medium_read(a, m) <= 0)
                m->drained = true;
        wa_flush(a);
        return 0;
}

void mn_write_audit_get_summary(const MnWriteAuditMedium *m, MnWriteAuditSummary *ret) {
        *ret = m->summary;
}

void mn_write_audit_summary_to_json(const MnWriteAuditSummary *s, json_object *ev) {
        json_object *mg = mn_event_section(ev, "mnguard");
        mn_event_set_int(mg, "files_written", (int64_t) s->files_written);
        mn_event_set_int(mg, "bytes_written", (int64_t) s->bytes_written);
        mn_event_set_int(mg, "files_deleted", (int64_t) s->files_deleted);
        mn_event_set_int(mg, "files_renamed", (int64_t) s->files_renamed);
        mn_event_set_int(mg, "hash_skipped", (int64_t) s->hash_skipped);
        mn_event_set_int(mg, "hash_failed", (int64_t) s->hash_failed);
        mn_event_set_int(mg, "events_lost", (int64_t) s->overflows);
        if (s->dirs_truncated || s->dirent_unsupported)
                json_object_object_add(mg, "audit_partial", json_object_new_boolean(true));
}

size_t mn_write_audit_pending(const MnWriteAudit *a) {
        size_t n = a->fifo_n;
        for (size_t i = 0; i < a->n_media; i++)
                n += a->media[i]->moved_from != NULL;
        return n;
}

void mn_write_audit_get_stats(const MnWriteAudit *a, MnWriteAuditStats *ret) {
        *ret = a->stats;
        ret->pending = a->fifo_n;
}
