/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The write audit's fanotify side: groups and marks per medium, reading events and resolving them to
 * paths and open files (see write-audit.h). */
#include "write-audit-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

/* Largest read; smaller when the queues have less room. */
#define READ_BUF_MAX  (16 * 1024)
/* Smallest read worth doing: holds the largest event (a rename: two directory handles and names,
 * and the file's handle, about 1 KiB). */
#define READ_BUF_MIN  2048
/* Reads per wakeup before other sources get their turn. */
#define READS_PER_DISPATCH 16
/* FUSE: how deep directories are walked to mark them. */
#define DIR_WALK_DEPTH_MAX 64

#define FID_INIT_FLAGS (FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME | FAN_REPORT_FID)
#define FID_MASK       (FAN_CLOSE_WRITE | FAN_DELETE | FAN_ONDIR)
#define DIR_MASK       (FAN_DELETE | FAN_CREATE | FAN_ONDIR)

typedef struct FidInfo {
        struct file_handle *fh;   /* points into the event buffer */
        const char *name;         /* NULL for a plain FID record */
} FidInfo;

typedef struct ParsedEvent {
        FidInfo dir, file, old_dir, new_dir;
        bool has_dir, has_file, has_old, has_new;
} ParsedEvent;

static int on_fid_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int on_fd_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int group_init(MnWriteAudit *a, unsigned flags) {
        int fd;

        if (!a->unlimited_queue_tried || a->unlimited_queue_ok) {
                fd = fanotify_init(flags | FAN_UNLIMITED_QUEUE, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
                a->unlimited_queue_tried = true;
                if (fd >= 0) {
                        a->unlimited_queue_ok = true;
                        a->stats.unlimited_queue = true;
                        return fd;
                }
                if (errno != EPERM)
                        return -errno;
                a->unlimited_queue_ok = false;
        }
        fd = fanotify_init(flags, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* The rename events, FAN_RENAME where the kernel has it (5.17). */
static int mark_with_renames(MnWriteAuditMedium *m, int fd, unsigned flags, uint64_t mask, int dirfd,
                             const char *path) {
        if (m->rename_event) {
                if (fanotify_mark(fd, flags, mask | FAN_RENAME, dirfd, path) == 0)
                        return 0;
                if (errno != EINVAL)
                        return -errno;
                m->rename_event = false;
        }
        if (fanotify_mark(fd, flags, mask | FAN_MOVED_FROM | FAN_MOVED_TO, dirfd, path) < 0)
                return -errno;
        return 0;
}

static bool name_is_component(const char *s) {
        return !isempty(s) && !strchr(s, '/') && !streq(s, ".") && !streq(s, "..");
}

/* FUSE: marks a directory and, below it, every directory not marked yet (as far as the limits go). */
static void mark_dir_tree(MnWriteAuditMedium *m, int parent, const char *name, unsigned depth) {
        _cleanup_close_ int fd = -EBADF;
        DIR *d;
        struct dirent *de;

        if (m->n_dirs >= MN_WRITE_AUDIT_MAX_DIRS) {
                m->summary.dirs_truncated = true;
                return;
        }
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return;
        if (mark_with_renames(m, m->fid_fd, FAN_MARK_ADD | FAN_MARK_ONLYDIR, DIR_MASK, fd, ".") < 0) {
                if (m->n_dirs == 0)
                        m->summary.dirent_unsupported = true;
                return;
        }
        m->n_dirs++;
        if (depth >= DIR_WALK_DEPTH_MAX)
                return;

        d = fdopendir(fd);
        if (!d)
                return;
        fd = -EBADF; /* owned by d now */
        while ((de = readdir(d)))
                if ((de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) && name_is_component(de->d_name))
                        mark_dir_tree(m, dirfd(d), de->d_name, depth + 1);
        closedir(d);
}

int wa_medium_open(MnWriteAudit *a, MnWriteAuditMedium *m) {
        _cleanup_close_ int root = -EBADF;
        int r;

        root = open(m->mount_point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -errno;

        m->rename_event = true;
        r = group_init(a, FID_INIT_FLAGS);
        if (r < 0)
                return r;
        m->fid_fd = r;

        r = mark_with_renames(m, m->fid_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FID_MASK, root, ".");
        if (r == -ENODEV || r == -EOPNOTSUPP || r == -EXDEV) {
                /* No fsid (FUSE): close-writes through a mount mark in fd mode, the directory
                 * events through inode marks. */
                m->fuse = m->summary.fuse = true;
                r = group_init(a, FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK);
                if (r < 0)
                        return r;
                m->fd_fd = r;
                if (fanotify_mark(m->fd_fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CLOSE_WRITE, root, ".") < 0)
                        return -errno;
                mark_dir_tree(m, root, ".", 0);
        } else if (r < 0)
                return r;

        r = sd_event_add_io(a->event, &m->fid_source, m->fid_fd, EPOLLIN, on_fid_ready, m);
        if (r < 0)
                return r;
        if (m->fd_fd >= 0) {
                r = sd_event_add_io(a->event, &m->fd_source, m->fd_fd, EPOLLIN, on_fd_ready, m);
                if (r < 0)
                        return r;
        }
        wa_medium_set_reading(m, !a->reading_paused);
        return 0;
}

void wa_medium_close(MnWriteAuditMedium *m) {
        m->fid_source = sd_event_source_disable_unref(m->fid_source);
        m->fd_source = sd_event_source_disable_unref(m->fd_source);
        if (m->fid_fd >= 0)
                close(m->fid_fd);
        if (m->fd_fd >= 0)
                close(m->fd_fd);
        m->fid_fd = m->fd_fd = -EBADF;
}

void wa_medium_set_reading(MnWriteAuditMedium *m, bool on) {
        if (m->fid_source)
                (void) sd_event_source_set_enabled(m->fid_source, on ? SD_EVENT_ON : SD_EVENT_OFF);
        if (m->fd_source)
                (void) sd_event_source_set_enabled(m->fd_source, on ? SD_EVENT_ON : SD_EVENT_OFF);
}

/* --- resolving --- */

/* An fd on the medium's mount for this batch, checked to be that filesystem. Not kept: an fd held
 * between batches would make the user's umount fail with EBUSY. */
static int open_mount(MnWriteAuditMedium *m) {
        struct stat st;
        int fd;

        /* Not O_PATH: open_by_handle_at() wants a real open file. */
        fd = open(m->mount_point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || st.st_dev != m->fs_dev) {
                close(fd);
                return -ENODEV; /* unmounted (or something else mounted there now) */
        }
        return fd;
}

/* The path of an fd as the kernel names it, relative to the medium's mount point ("/dir"). */
static char *fd_path_on_medium(MnWriteAuditMedium *m, int fd) {
        char link[64], target[PATH_MAX];
        size_t mp = strlen(m->mount_point);
        ssize_t n;

        (void) snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
                return NULL;
        target[n] = 0;
        if (streq(m->mount_point, "/"))
                return strdup(target);
        if (strncmp(target, m->mount_point, mp) == 0 && (target[mp] == '/' || target[mp] == 0))
                return strdup(target[mp] ? target + mp : "/");
        return strdup(target); /* not below the mount point as we know it: as the kernel says */
}

static size_t handle_size(const struct file_handle *fh) {
        return sizeof(struct file_handle) + fh->handle_bytes;
}

/* "/dir" of a directory handle, or NULL when it cannot be resolved (gone, or no mount fd). */
static char *resolve_dir(MnWriteAuditMedium *m, int mount_fd, struct file_handle *fh) {
        _cleanup_close_ int fd = -EBADF;
        size_t hs = handle_size(fh);

        if (hs <= sizeof(m->cached_handle) && hs == m->cached_handle_len &&
            memcmp(m->cached_handle, fh, hs) == 0 && m->cached_dir)
                return strdup(m->cached_dir);
        if (mount_fd < 0)
                return NULL;
        fd = open_by_handle_at(mount_fd, fh, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        char *p = fd_path_on_medium(m, fd);
        if (p && hs <= sizeof(m->cached_handle)) {
                free(m->cached_dir);
                m->cached_dir = strdup(p);
                memcpy(m->cached_handle, fh, hs);
                m->cached_handle_len = m->cached_dir ? hs : 0;
        }
        return p;
}

static void forget_dirs(MnWriteAuditMedium *m) {
        m->cached_handle_len = 0;
        free(m->cached_dir);
        m->cached_dir = NULL;
}

static char *join_path(const char *dir, const char *name) {
        char *s;
        if (!dir || !name)
                return NULL;
        if (asprintf(&s, "%s%s%s", dir, streq(dir, "/") ? "" : "/", name) < 0)
                return NULL;
        return s;
}

static void record_names(Record *r, MnWriteAuditMedium *m, int mount_fd, const FidInfo *fi, bool old) {
        char *dir = resolve_dir(m, mount_fd, fi->fh);
        char *name = fi->name ? strdup(fi->name) : NULL;
        char *path = join_path(dir, fi->name);
        free(dir);
        if (old) {
                r->old_name = name;
                r->old_path = path;
        } else {
                r->name = name;
                r->path = path;
        }
}

/* --- parsing --- */

/* ev: an aligned copy of the metadata; raw: the event in the read buffer, where FID records make
 * events 4-byte aligned only. */
static int parse_event(const struct fanotify_event_metadata *ev, const char *raw, ParsedEvent *ret) {
        const char *p = raw + ev->metadata_len, *end = raw + ev->event_len;

        *ret = (ParsedEvent) {};
        if (ev->metadata_len < FAN_EVENT_METADATA_LEN || ev->metadata_len > ev->event_len)
                return -EBADMSG;
        while (p < end) {
                const struct fanotify_event_info_fid *info = (const void *) p;
                struct file_handle *fh;
                size_t left = (size_t) (end - p), len, fixed = sizeof(*info) + sizeof(struct file_handle);

                if (left < sizeof(struct fanotify_event_info_header))
                        return -EBADMSG;
                len = info->hdr.len;
                if (len < sizeof(struct fanotify_event_info_header) || len > left)
                        return -EBADMSG;
                p += len;
                if (info->hdr.info_type != FAN_EVENT_INFO_TYPE_FID && info->hdr.info_type != FAN_EVENT_INFO_TYPE_DFID &&
                    info->hdr.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME &&
                    info->hdr.info_type != FAN_EVENT_INFO_TYPE_OLD_DFID_NAME &&
                    info->hdr.info_type != FAN_EVENT_INFO_TYPE_NEW_DFID_NAME)
                        continue; /* a kind we did not ask for */
                if (len < fixed)
                        return -EBADMSG;
                fh = (struct file_handle *) info->handle;
                if (fh->handle_bytes > MAX_HANDLE_SZ || fixed + fh->handle_bytes > len)
                        return -EBADMSG;

                FidInfo fi = { .fh = fh };
                if (info->hdr.info_type != FAN_EVENT_INFO_TYPE_FID && info->hdr.info_type != FAN_EVENT_INFO_TYPE_DFID) {
                        const char *name = (const char *) fh->f_handle + fh->handle_bytes;
                        size_t room = len - fixed - fh->handle_bytes;
                        if (room == 0 || strnlen(name, room) >= room)
                                return -EBADMSG; /* not NUL-terminated within the record */
                        fi.name = name;
                }
                switch (info->hdr.info_type) {
                case FAN_EVENT_INFO_TYPE_FID:
                        ret->file = fi;
                        ret->has_file = true;
                        break;
                case FAN_EVENT_INFO_TYPE_DFID:
                case FAN_EVENT_INFO_TYPE_DFID_NAME:
                        ret->dir = fi;
                        ret->has_dir = true;
                        break;
                case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
                        ret->old_dir = fi;
                        ret->has_old = true;
                        break;
                case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
                        ret->new_dir = fi;
                        ret->has_new = true;
                        break;
                }
        }
        return 0;
}

static void queue_written(MnWriteAudit *a, MnWriteAuditMedium *m, int mount_fd, const ParsedEvent *pe,
                          const struct fanotify_event_metadata *ev) {
        Record *r = wa_record_new(m, RECORD_WRITTEN);
        int fd = -EBADF;

        if (!r)
                return;
        if (pe->has_dir && pe->dir.name)
                record_names(r, m, mount_fd, &pe->dir, false);
        wa_record_set_process(a, r, ev->pid);
        if (mount_fd < 0)
                fd = -ENODEV;
        else if (pe->has_file) {
                /* The file by its own handle: renamed meanwhile or not, it is the one written. */
                fd = open_by_handle_at(mount_fd, pe->file.fh, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0)
                        fd = -errno;
        } else
                fd = -EBADMSG;
        wa_record_hash(a, r, fd);
        wa_record_queue(a, r);
}

/* FAN_MOVED_FROM/TO (kernels without FAN_RENAME): the kernel queues the pair back to back. */
static void queue_moved(MnWriteAudit *a, MnWriteAuditMedium *m, int mount_fd, const ParsedEvent *pe,
                        const struct fanotify_event_metadata *ev) {
        if (!pe->has_dir || !pe->dir.name)
                return;
        if (ev->mask & FAN_MOVED_FROM) {
                if (m->moved_from) /* unpaired: moved out of what we see */
                        wa_record_queue(a, TAKE_PTR(m->moved_from));
                Record *r = wa_record_new(m, RECORD_RENAMED);
                if (!r)
                        return;
                record_names(r, m, mount_fd, &pe->dir, true);
                r->is_dir = ev->mask & FAN_ONDIR;
                wa_record_set_process(a, r, ev->pid);
                m->moved_from = r;
        }
        if (ev->mask & FAN_MOVED_TO) {
                Record *r = TAKE_PTR(m->moved_from);
                if (!r) {
                        r = wa_record_new(m, RECORD_RENAMED);
                        if (!r)
                                return;
                        r->is_dir = ev->mask & FAN_ONDIR;
                        wa_record_set_process(a, r, ev->pid);
                }
                record_names(r, m, mount_fd, &pe->dir, false);
                wa_record_queue(a, r);
        }
}

static void handle_fid_event(MnWriteAudit *a, MnWriteAuditMedium *m, int mount_fd,
                             const struct fanotify_event_metadata *ev, const char *raw) {
        ParsedEvent pe;
        bool is_dir = ev->mask & FAN_ONDIR;

        a->stats.events_read++;
        if (m->moved_from && !(ev->mask & FAN_MOVED_TO))
                /* A lone FAN_MOVED_FROM: moved out of what is watched. */
                wa_record_queue(a, TAKE_PTR(m->moved_from));
        if (ev->mask & FAN_Q_OVERFLOW) {
                Record *r = wa_record_new(m, RECORD_OVERFLOW);
                if (r)
                        wa_record_queue(a, r);
                return;
        }
        if (ev->vers != FANOTIFY_METADATA_VERSION || parse_event(ev, raw, &pe) < 0)
                return;

        /* A merged event may carry several kinds: in the order they can happen. */
        if ((ev->mask & FAN_CREATE) && is_dir && m->fuse && pe.has_dir && pe.dir.name &&
            name_is_component(pe.dir.name) && mount_fd >= 0) {
                _cleanup_close_ int parent = open_by_handle_at(mount_fd, pe.dir.fh, O_PATH | O_CLOEXEC);
                if (parent >= 0)
                        mark_dir_tree(m, parent, pe.dir.name, 1);
        }
        if (ev->mask & FAN_CLOSE_WRITE)
                queue_written(a, m, mount_fd, &pe, ev);
        if ((ev->mask & FAN_RENAME) && pe.has_old && pe.has_new) {
                Record *r = wa_record_new(m, RECORD_RENAMED);
                if (r) {
                        r->is_dir = is_dir;
                        record_names(r, m, mount_fd, &pe.old_dir, true);
                        if (is_dir)
                                forget_dirs(m); /* cached paths below it changed */
                        record_names(r, m, mount_fd, &pe.new_dir, false);
                        wa_record_set_process(a, r, ev->pid);
                        wa_record_queue(a, r);
                }
        }
        if (ev->mask & (FAN_MOVED_FROM | FAN_MOVED_TO)) {
                queue_moved(a, m, mount_fd, &pe, ev);
                if (is_dir)
                        forget_dirs(m);
        }
        if ((ev->mask & FAN_DELETE) && pe.has_dir && pe.dir.name) {
                Record *r = wa_record_new(m, RECORD_DELETED);
                if (r) {
                        r->is_dir = is_dir;
                        record_names(r, m, mount_fd, &pe.dir, false);
                        wa_record_set_process(a, r, ev->pid);
                        wa_record_queue(a, r);
                }
                if (is_dir)
                        forget_dirs(m);
        }
}

/* FUSE close-writes: the event carries an fd on the file. */
static void handle_fd_event(MnWriteAudit *a, MnWriteAuditMedium *m, const struct fanotify_event_metadata *ev) {
        a->stats.events_read++;
        if (ev->mask & FAN_Q_OVERFLOW) {
                Record *r = wa_record_new(m, RECORD_OVERFLOW);
                if (r)
                        wa_record_queue(a, r);
                return;
        }
        if (ev->fd < 0)
                return;
        if (ev->vers != FANOTIFY_METADATA_VERSION || !(ev->mask & FAN_CLOSE_WRITE)) {
                close(ev->fd);
                return;
        }
        Record *r = wa_record_new(m, RECORD_WRITTEN);
        if (!r) {
                close(ev->fd);
                return;
        }
        r->path = fd_path_on_medium(m, ev->fd);
        if (r->path) {
                const char *slash = strrchr(r->path, '/');
                r->name = strdup(slash ? slash + 1 : r->path);
        }
        wa_record_set_process(a, r, ev->pid);
        wa_record_hash(a, r, ev->fd);
        wa_record_queue(a, r);
}

/* How much to read now: no more events than there is room for (the smallest event is the bare
 * metadata; one slot is kept for a FAN_MOVED_FROM waiting for its pair), 0 when there is not room
 * enough for a useful read. */
size_t wa_read_size(const MnWriteAudit *a) {
        size_t slots = MN_WRITE_AUDIT_MAX_PENDING - a->fifo_n - 1;
        size_t files = MN_WRITE_AUDIT_MAX_OPEN_FILES - a->open_files;
        size_t n = (slots < files ? slots : files) * FAN_EVENT_METADATA_LEN;

        if (n < READ_BUF_MIN)
                return 0;
        return n < READ_BUF_MAX ? n : READ_BUF_MAX;
}

static int read_group(MnWriteAudit *a, MnWriteAuditMedium *m, int gfd, bool fid) {
        char buf[READ_BUF_MAX];

        for (unsigned k = 0; k < READS_PER_DISPATCH; k++) {
                _cleanup_close_ int mount_fd = -EBADF;
                size_t want = wa_read_size(a);
                ssize_t n;

                if (want == 0)
                        return 1;
                n = read(gfd, buf, want);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (m->moved_from) /* nothing follows it */
                                wa_record_queue(a, TAKE_PTR(m->moved_from));
                        return n == 0 || errno == EAGAIN ? 0 : -errno;
                }
                if (fid)
                        mount_fd = open_mount(m);
                /* Not FAN_EVENT_NEXT(): FID records leave the next event 4-byte aligned only. */
                for (size_t off = 0; off + FAN_EVENT_METADATA_LEN <= (size_t) n;) {
                        struct fanotify_event_metadata ev;
                        memcpy(&ev, buf + off, sizeof(ev));
                        if (ev.event_len < FAN_EVENT_METADATA_LEN || ev.event_len > (size_t) n - off)
                                break;
                        if (fid)
                                handle_fid_event(a, m, mount_fd, &ev, buf + off);
                        else
                                handle_fd_event(a, m, &ev);
                        off += ev.event_len;
                }
        }
        return 1; /* more may be there: the source fires again */
}

int wa_medium_read(MnWriteAudit *a, MnWriteAuditMedium *m) {
        int r = 0, k;

        if (m->fd_fd >= 0) {
                k = read_group(a, m, m->fd_fd, false);
                if (k != 0)
                        r = k;
        }
        if (m->fid_fd >= 0) {
                k = read_group(a, m, m->fid_fd, true);
                if (k != 0 && r == 0)
                        r = k;
        }
        return r;
}

static int on_ready(MnWriteAuditMedium *m) {
        MnWriteAudit *a = m->audit;
        int r = wa_medium_read(a, m);

        if (r <= 0 && m->removing)
                m->drained = true;
        wa_flush(a);
        return 0;
}

static int on_fid_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        return on_ready(userdata);
}

static int on_fd_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        return on_ready(userdata);
}
