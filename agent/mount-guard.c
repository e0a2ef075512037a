/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mount guard: deny, then detach, mounts of blocked media (see mount-guard.h). */
#include "mount-guard.h"

#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "block-enforce.h"
#include "clock.h"
#include "event.h"
#include "macro.h"
#include "proc-info.h"

#define MOUNTINFO_PATH "/proc/self/mountinfo"
/* Permission events read at once (24 bytes each); each holds an fd until answered. */
#define PERM_BUF_SIZE  4096
/* Reads per wakeup before other sources get their turn. */
#define PERM_READS_MAX 64
/* What a blocked filesystem denies: every open (files and directories) and every read through an fd
 * opened before the mark went in. */
#define DENY_MASK      (FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_ONDIR)
/* The aggregation window ends within a millisecond (sd-event's default slack is 250 ms). */
#define TIMER_ACCURACY_USEC 1000

typedef struct BlockedDevice {
        dev_t devnum;
        char *rule;
        json_object *device; /* the medium's device fields for its events, or NULL */
} BlockedDevice;

typedef struct MountKey {
        uint64_t id, sig;
} MountKey;

typedef struct BlockedMount {
        uint64_t id;
        unsigned attempts;
        bool done;     /* detached (or gone) */
        bool reported; /* the caller was told it was mounted (it was blocked later): tell it it went */
} BlockedMount;

/* A blocked filesystem whose denials are counted. */
typedef struct DenyRecord {
        dev_t fs_dev;      /* st_dev of its files */
        dev_t blocked;     /* the blocked device it belongs to */
        char *source, *target, *fstype, *rule;
        json_object *device; /* the blocked device's fields (a reference to its own copy) */
        uint64_t opens, reads;
        uint64_t window_start_usec;
        bool has_sample;
        MnProcInfo sample;
        char *sample_path;
        uint64_t last_usec;
        bool orphan;       /* marked, but which mount and device it was is forgotten: denied for good */
} DenyRecord;

struct MnMountGuard {
        sd_event *event;
        sd_event_source *monitor_source, *fan_source, *timer_source;
        struct libmnt_monitor *monitor;
        struct libmnt_table *table;
        MountKey *ids;          /* the last table's mounts, sorted by id */
        size_t n_ids;
        int fan_fd;
        dev_t root_dev;
        bool started;
        MnMountGuardOptions o;

        BlockedDevice *blocked;
        size_t n_blocked;
        BlockedMount blocked_mounts[MN_MOUNT_GUARD_MAX_BLOCKED_MOUNTS];
        size_t n_blocked_mounts;
        DenyRecord records[MN_MOUNT_GUARD_MAX_RECORDS];
        size_t n_records;

        MnProcCache procs;
        MnMountGuardStats stats;
};

static void record_done(DenyRecord *r) {
        free(r->source);
        free(r->target);
        free(r->fstype);
        free(r->rule);
        json_object_put(r->device);
        free(r->sample_path);
        *r = (DenyRecord) {};
}

static char *strdup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

/* --- blocked devices --- */

static BlockedDevice *blocked_find(MnMountGuard *g, dev_t devnum) {
        if (devnum == 0)
                return NULL;
        for (size_t i = 0; i < g->n_blocked; i++)
                if (g->blocked[i].devnum == devnum)
                        return &g->blocked[i];
        return NULL;
}

/* The blocked device a filesystem belongs to: by its st_dev, by its source, or by their disks. */
static BlockedDevice *blocked_for(MnMountGuard *g, dev_t devnum, dev_t source_devnum) {
        BlockedDevice *b;
        dev_t disk;

        if (g->n_blocked == 0)
                return NULL;
        if ((b = blocked_find(g, devnum)) || (b = blocked_find(g, source_devnum)))
                return b;
        if (major(devnum) != 0 && mn_block_whole_disk(devnum, &disk) == 0 && (b = blocked_find(g, disk)))
                return b;
        if (major(source_devnum) != 0 && mn_block_whole_disk(source_devnum, &disk) == 0 &&
            (b = blocked_find(g, disk)))
                return b;
        return NULL;
}

/* --- mount ids --- */

static int key_cmp(const void *a, const void *b) {
        uint64_t x = ((const MountKey *) a)->id, y = ((const MountKey *) b)->id;
        return x < y ? -1 : x > y;
}

/* The kernel reuses the id of a mount that went away: what identifies a mount between two reads of the
 * table is its id together with its device, mount point and root. */
static uint64_t mount_signature(struct libmnt_fs *fs) {
        const char *parts[] = { mnt_fs_get_target(fs), mnt_fs_get_root(fs) };
        uint64_t h = UINT64_C(1469598103934665603) ^ (uint64_t) mnt_fs_get_devno(fs); /* FNV-1a */
        for (size_t i = 0; i < ELEMENTSOF(parts); i++)
                for (const char *p = parts[i] ?: ""; ; p++) {
                        h = (h ^ (uint8_t) *p) * UINT64_C(1099511628211);
                        if (!*p)
                                break;
                }
        return h;
}

static const MountKey *key_find(const MountKey *ids, size_t n, uint64_t id) {
        MountKey k = { .id = id };
        return n > 0 ? bsearch(&k, ids, n, sizeof(MountKey), key_cmp) : NULL;
}

/* Whether the mount with this id in table a (a key of it) is in table b: 1 yes, 0 no, -1 its id is another
 * mount's in b. */
static int same_mount_in(const MountKey *a, size_t na, const MountKey *b, size_t nb, uint64_t id) {
        const MountKey *x = key_find(a, na, id), *y = key_find(b, nb, id);
        return !x || !y ? 0 : x->sig == y->sig ? 1 : -1;
}

static BlockedMount *blocked_mount_find(MnMountGuard *g, uint64_t id) {
        for (size_t i = 0; i < g->n_blocked_mounts; i++)
                if (g->blocked_mounts[i].id == id)
                        return &g->blocked_mounts[i];
        return NULL;
}

static BlockedMount *blocked_mount_add(MnMountGuard *g, uint64_t id) {
        BlockedMount *m = blocked_mount_find(g, id);
        if (m)
                return m;
        if (g->n_blocked_mounts >= MN_MOUNT_GUARD_MAX_BLOCKED_MOUNTS) {
                /* Forget the oldest: at worst its disappearance is reported through unmounted(). */
                memmove(g->blocked_mounts, g->blocked_mounts + 1,
                        (g->n_blocked_mounts - 1) * sizeof(BlockedMount));
                g->n_blocked_mounts--;
        }
        m = &g->blocked_mounts[g->n_blocked_mounts++];
        *m = (BlockedMount) { .id = id };
        return m;
}

static void blocked_mount_remove(MnMountGuard *g, BlockedMount *m) {
        size_t i = (size_t) (m - g->blocked_mounts);
        memmove(m, m + 1, (g->n_blocked_mounts - i - 1) * sizeof(BlockedMount));
        g->n_blocked_mounts--;
}

/* --- events --- */

static void event_add_device(json_object *ev, const char *source, dev_t devnum, json_object *fields) {
        json_object *d = mn_event_section(ev, "device");
        mn_event_set_untrusted(d, "devnode", source);
        mn_event_set_int(d, "major", major(devnum));
        mn_event_set_int(d, "minor", minor(devnum));
        (void) mn_event_add_fields(d, fields);
}

static void emit_mount_blocked(MnMountGuard *g, const MnMountBlocked *b, const BlockedDevice *bd) {
        const char *outcome = b->mark_error == 0 && b->detach_error == 0 ? MN_OUTCOME_SUCCESS : MN_OUTCOME_FAILURE;
        char reason[256];

        if (b->mark_error != 0)
                (void) snprintf(reason, sizeof(reason), "medium blocked; could not deny access: %s",
                                strerror(-b->mark_error));
        else if (b->detach_error != 0)
                (void) snprintf(reason, sizeof(reason), "medium blocked; access denied, could not detach: %s",
                                strerror(-b->detach_error));
        else
                (void) snprintf(reason, sizeof(reason), "medium blocked; access denied and mount detached");

        json_object *ev = mn_event_new("mount-blocked", outcome, reason);
        if (!ev)
                return;
        event_add_device(ev, b->mount.source, b->blocked, bd->device);
        json_object *m = mn_event_section(ev, "mount");
        mn_event_set_untrusted(m, "point", b->mount.target);
        mn_event_set_untrusted(m, "fs_type", b->mount.fstype);
        mn_event_set_int(m, "id", (int64_t) b->mount.id);
        mn_event_set_int(m, "fs_major", major(b->mount.devnum));
        mn_event_set_int(m, "fs_minor", minor(b->mount.devnum));
        json_object_object_add(m, "coldplug", json_object_new_boolean(b->mount.coldplug));
        if (b->mark_error == 0)
                mn_event_set_int(m, "deny_usec", (int64_t) (b->marked_usec - b->seen_usec));
        if (b->detach_error == 0)
                mn_event_set_int(m, "detach_usec", (int64_t) (b->detached_usec - b->seen_usec));
        if (bd->rule)
                mn_event_set_untrusted(mn_event_section(ev, "mnguard"), "rule", bd->rule);
        mn_event_emit(&g->o.sink, ev, (uid_t) -1);
}

static void record_flush(MnMountGuard *g, DenyRecord *r, uint64_t now) {
        if (r->opens + r->reads == 0)
                return;

        json_object *ev = mn_event_new("file-open-denied", MN_OUTCOME_SUCCESS, "medium blocked");
        if (ev) {
                event_add_device(ev, r->source, r->blocked, r->device);
                json_object *m = mn_event_section(ev, "mount");
                mn_event_set_untrusted(m, "point", r->target);
                mn_event_set_untrusted(m, "fs_type", r->fstype);
                json_object *mg = mn_event_section(ev, "mnguard");
                mn_event_set_untrusted(mg, "rule", r->rule);
                mn_event_set_int(mg, "denied", (int64_t) (r->opens + r->reads));
                mn_event_set_int(mg, "denied_opens", (int64_t) r->opens);
                mn_event_set_int(mg, "denied_reads", (int64_t) r->reads);
                mn_event_set_int(mg, "window_usec", (int64_t) (now - r->window_start_usec));
                if (r->sample_path)
                        mn_event_set_untrusted(mn_event_section(ev, "file"), "path", r->sample_path);
                if (r->has_sample)
                        mn_event_add_process(ev, &g->procs, &r->sample);
                mn_event_emit(&g->o.sink, ev, r->has_sample && r->sample.has_uid ? r->sample.uid : (uid_t) -1);
        }
        r->opens = r->reads = 0;
        r->has_sample = false;
        free(r->sample_path);
        r->sample_path = NULL;
}

void mn_mount_guard_flush(MnMountGuard *g) {
        uint64_t now = now_mono_usec();
        for (size_t i = 0; i < g->n_records; i++)
                record_flush(g, &g->records[i], now);
        if (g->timer_source)
                (void) sd_event_source_set_enabled(g->timer_source, SD_EVENT_OFF);
}

static int on_window_end(sd_event_source *s, uint64_t usec, void *userdata) {
        mn_mount_guard_flush(userdata);
        return 0;
}

static DenyRecord *record_find(MnMountGuard *g, dev_t fs_dev) {
        for (size_t i = 0; i < g->n_records; i++)
                if (g->records[i].fs_dev == fs_dev)
                        return &g->records[i];
        return NULL;
}

/* A record for a filesystem (kept, or made room for by dropping the least recently used). */
static DenyRecord *record_get(MnMountGuard *g, dev_t fs_dev) {
        DenyRecord *r = record_find(g, fs_dev);
        if (r)
                return r;
        if (g->n_records >= MN_MOUNT_GUARD_MAX_RECORDS) {
                size_t oldest = 0;
                for (size_t i = 1; i < g->n_records; i++)
                        if (g->records[i].last_usec < g->records[oldest].last_usec)
                                oldest = i;
                record_flush(g, &g->records[oldest], now_mono_usec());
                record_done(&g->records[oldest]);
                g->records[oldest] = g->records[--g->n_records];
        }
        r = &g->records[g->n_records++];
        *r = (DenyRecord) { .fs_dev = fs_dev, .blocked = fs_dev, .last_usec = now_mono_usec() };
        return r;
}

static void record_set_mount(DenyRecord *r, const MnMountInfo *m, const BlockedDevice *b) {
        r->blocked = b->devnum;
        r->orphan = false;
        free(r->source);
        free(r->target);
        free(r->fstype);
        free(r->rule);
        json_object_put(r->device);
        r->source = strdup_or_null(m->source);
        r->target = strdup_or_null(m->target);
        r->fstype = strdup_or_null(m->fstype);
        r->rule = strdup_or_null(b->rule);
        r->device = b->device ? json_object_get(b->device) : NULL;
}

/* --- denying and detaching --- */

static int block_mount(MnMountGuard *g, const MnMountInfo *m, BlockedDevice *b, uint64_t seen, bool reported) {
        MnMountBlocked res = { .mount = *m, .blocked = b->devnum, .seen_usec = seen };
        _cleanup_close_ int fd = -EBADF;
        BlockedMount *bm;
        struct statx sx;
        char path[64];

        bm = blocked_mount_add(g, m->id);
        bm->attempts++;
        bm->reported |= reported;
        DenyRecord *r = record_get(g, m->devnum);
        record_set_mount(r, m, b);

        /* The mount point as it is now must be this very mount: never mark the filesystem below a
         * mount that went away meanwhile (the root filesystem!), nor one stacked on top. */
        fd = open(m->target, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                res.mark_error = -errno;
        else if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0)
                res.mark_error = -errno;
        else if (!(sx.stx_mask & STATX_MNT_ID) || sx.stx_mnt_id != m->id ||
                 makedev(sx.stx_dev_major, sx.stx_dev_minor) != m->devnum)
                res.mark_error = -ESTALE;
        else if (m->devnum == g->root_dev)
                res.mark_error = -EPERM;
        else if (fanotify_mark(g->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, DENY_MASK, fd, ".") < 0)
                res.mark_error = -errno;
        res.marked_usec = now_mono_usec();

        if (res.mark_error == 0) {
                /* Through the fd: the mount we checked, whatever the path names by now. */
                (void) snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                if (umount2(path, MNT_DETACH) < 0)
                        res.detach_error = -errno;
                res.detached_usec = now_mono_usec();
        } else
                res.detach_error = res.mark_error;

        bm->done = res.mark_error == 0 && res.detach_error == 0;
        if (bm->done) {
                g->stats.mounts_blocked++;
                g->stats.deny_usec_last = res.marked_usec - seen;
                g->stats.detach_usec_last = res.detached_usec - seen;
                if (g->stats.deny_usec_last > g->stats.deny_usec_max)
                        g->stats.deny_usec_max = g->stats.deny_usec_last;
                if (g->stats.detach_usec_last > g->stats.detach_usec_max)
                        g->stats.detach_usec_max = g->stats.detach_usec_last;
        } else if ((res.mark_error == -ENOENT || res.mark_error == -ESTALE) &&
                   bm->attempts < MN_MOUNT_GUARD_MAX_ATTEMPTS)
                /* The mount point does not lead to this mount now: it went away (the next table
                 * change forgets it) or another mount covers it (tried again at the next change). */
                return res.mark_error;
        else
                g->stats.block_failures++;

        emit_mount_blocked(g, &res, b);
        if (g->o.blocked)
                g->o.blocked(&res, g->o.userdata);
        return res.mark_error ?: res.detach_error;
}

/* --- the mount table --- */

static void mount_info_from_fs(struct libmnt_fs *fs, bool coldplug, MnMountInfo *ret) {
        const char *vfs = mnt_fs_get_vfs_options(fs);
        const char *src = mnt_fs_get_source(fs);
        struct stat st;

        *ret = (MnMountInfo) {
                .id = (uint64_t) mnt_fs_get_id(fs),
                .devnum = mnt_fs_get_devno(fs),
                .source = src,
                .target = mnt_fs_get_target(fs),
                .fstype = mnt_fs_get_fstype(fs),
                .root = mnt_fs_get_root(fs),
                .read_only = vfs && mnt_optstr_get_option(vfs, "ro", NULL, NULL) == 0,
                .coldplug = coldplug,
        };
        /* FUSE block filesystems (exfat-fuse: fuseblk) name their device as the source. Only names
         * under /dev are looked up: stat() of anything else could hang on a network filesystem. */
        if (src && strncmp(src, "/dev/", 5) == 0 && stat(src, &st) == 0 && S_ISBLK(st.st_mode))
                ret->source_devnum = st.st_rdev;
}

/* A mount seen for the first time (or again, when a device was just blocked). */
static void handle_mount(MnMountGuard *g, struct libmnt_fs *fs, bool coldplug, bool report, uint64_t seen) {
        MnMountInfo m;
        BlockedDevice *b;

        mount_info_from_fs(fs, coldplug, &m);
        if (!m.target)
                return;
        g->stats.mounts_seen++;
        b = blocked_for(g, m.devnum, m.source_devnum);
        if (b)
                (void) block_mount(g, &m, b, seen, false);
        else if (report && g->o.mounted)
                g->o.mounted(&m, g->o.userdata);
}

static int table_ids(struct libmnt_table *tb, MountKey **ret, size_t *ret_n) {
        struct libmnt_iter *itr = mnt_new_iter(MNT_ITER_FORWARD);
        struct libmnt_fs *fs;
        size_t n = 0, cap = (size_t) mnt_table_get_nents(tb);
        MountKey *ids;

        if (!itr)
                return -ENOMEM;
        if (cap > MN_MOUNT_GUARD_MAX_MOUNTS)
                cap = MN_MOUNT_GUARD_MAX_MOUNTS;
        ids = calloc(cap ?: 1, sizeof(MountKey));
        if (!ids) {
                mnt_free_iter(itr);
                return -ENOMEM;
        }
        while (n < cap && mnt_table_next_fs(tb, itr, &fs) == 0)
                ids[n++] = (MountKey) { .id = (uint64_t) mnt_fs_get_id(fs), .sig = mount_signature(fs) };
        mnt_free_iter(itr);
        qsort(ids, n, sizeof(MountKey), key_cmp);
        *ret = ids;
        *ret_n = n;
        return 0;
}

/* Reads the mount table again and acts on what changed. */
static int rescan(MnMountGuard *g, bool coldplug, uint64_t seen) {
        struct libmnt_table *tb = mnt_new_table();
        struct libmnt_iter *itr = NULL;
        struct libmnt_fs *fs;
        MountKey *ids = NULL;
        size_t n_ids = 0;
        int r;

        if (!tb)
                return -ENOMEM;
        r = mnt_table_parse_file(tb, MOUNTINFO_PATH);
        if (r < 0)
                goto fail;
        r = table_ids(tb, &ids, &n_ids);
        if (r < 0)
                goto fail;
        itr = mnt_new_iter(MNT_ITER_FORWARD);
        if (!itr) {
                r = -ENOMEM;
                goto fail;
        }

        g->stats.table_changes++;
        /* New mounts, and blocked ones still there that a try did not detach. Past
         * MN_MOUNT_GUARD_MAX_MOUNTS entries (the ids kept), the rest of the table is not looked at. */
        for (size_t k = 0; k < n_ids && mnt_table_next_fs(tb, itr, &fs) == 0; k++) {
                uint64_t id = (uint64_t) mnt_fs_get_id(fs);
                BlockedMount *bm = blocked_mount_find(g, id);
                bool known = same_mount_in(ids, n_ids, g->ids, g->n_ids, id) > 0;

                /* A mount this guard detached is gone from the table at once: its id back in the table
                 * is a new mount that got the id again (the same medium mounted again at once, say). */
                if (bm && (bm->done || !known)) {
                        blocked_mount_remove(g, bm);
                        bm = NULL;
                        known = false;
                }
                if (bm) {
                        if (!bm->done && bm->attempts < MN_MOUNT_GUARD_MAX_ATTEMPTS)
                                handle_mount(g, fs, coldplug, false, seen);
                } else if (coldplug || !known)
                        handle_mount(g, fs, coldplug, true, seen);
        }

        /* Mounts gone: tell the caller about those it was told about. */
        if (g->table) {
                mnt_reset_iter(itr, MNT_ITER_FORWARD);
                for (size_t k = 0; k < g->n_ids && mnt_table_next_fs(g->table, itr, &fs) == 0; k++) {
                        uint64_t id = (uint64_t) mnt_fs_get_id(fs);
                        BlockedMount *bm;

                        int in_new = same_mount_in(g->ids, g->n_ids, ids, n_ids, id);
                        if (in_new > 0)
                                continue;
                        /* in_new < 0: the id is a new mount's now, and so is a BlockedMount of that id */
                        if (in_new == 0 && (bm = blocked_mount_find(g, id))) {
                                bool reported = bm->reported;
                                blocked_mount_remove(g, bm);
                                if (!reported)
                                        continue;
                        }
                        if (g->o.unmounted) {
                                MnMountInfo m;
                                mount_info_from_fs(fs, false, &m);
                                g->o.unmounted(&m, g->o.userdata);
                        }
                }
        }

        mnt_free_iter(itr);
        mnt_unref_table(g->table);
        free(g->ids);
        g->table = tb;
        g->ids = ids;
        g->n_ids = n_ids;
        return 0;

fail:
        mnt_free_iter(itr);
        mnt_unref_table(tb);
        free(ids);
        return r;
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MnMountGuard *g = userdata;
        uint64_t seen = now_mono_usec();
        bool changed = false;
        int r;

        /* Drain every pending change, then read the table once. */
        while ((r = mnt_monitor_next_change(g->monitor, NULL, NULL)) == 0)
                changed = true;
        if (r < 0) {
                (void) mnt_monitor_event_cleanup(g->monitor);
                changed = true; /* read the table anyway: missing a mount is worse */
        }
        if (changed)
                (void) rescan(g, false, seen);
        return 0;
}

/* --- permission events --- */

static void answer(MnMountGuard *g, int fd, uint32_t response) {
        struct fanotify_response resp = { .fd = fd, .response = response };
        ssize_t n;

        do
                n = write(g->fan_fd, &resp, sizeof(resp));
        while (n < 0 && errno == EINTR);
}

static void handle_perm(MnMountGuard *g, const struct fanotify_event_metadata *ev) {
        struct stat st;
        DenyRecord *r;

        if (fstat(ev->fd, &st) < 0) {
                answer(g, ev->fd, FAN_DENY);
                return;
        }
        r = record_find(g, st.st_dev);
        if (r && !r->orphan && !blocked_find(g, r->blocked)) {
                /* No longer blocked: let it through and take the mark off its filesystem. */
                answer(g, ev->fd, FAN_ALLOW);
                (void) fanotify_mark(g->fan_fd, FAN_MARK_REMOVE | FAN_MARK_FILESYSTEM, DENY_MASK, ev->fd, NULL);
                g->stats.allowed_after_unblock++;
                return;
        }
        /* Fail closed: a filesystem we marked and no longer have a record for is denied too. */
        answer(g, ev->fd, FAN_DENY);
        if (!r) {
                r = record_get(g, st.st_dev);
                r->orphan = true;
        }

        uint64_t now = now_mono_usec();
        if (r->opens + r->reads == 0)
                r->window_start_usec = now;
        r->last_usec = now;
        if (ev->mask & FAN_OPEN_PERM) {
                r->opens++;
                g->stats.opens_denied++;
        } else {
                r->reads++;
                g->stats.reads_denied++;
        }
        if (!r->has_sample) {
                char link[64], target[PATH_MAX];
                MnProcInfo buf;
                r->sample = *mn_proc_cache_get(&g->procs, ev->pid, &buf);
                r->has_sample = true;
                (void) snprintf(link, sizeof(link), "/proc/self/fd/%d", ev->fd);
                ssize_t n = readlink(link, target, sizeof(target) - 1);
                if (n > 0) {
                        target[n] = 0;
                        free(r->sample_path);
                        r->sample_path = strdup(target);
                }
        }
        if (sd_event_source_get_enabled(g->timer_source, NULL) == 0) {
                (void) sd_event_source_set_time_relative(g->timer_source, g->o.deny_window_usec);
                (void) sd_event_source_set_enabled(g->timer_source, SD_EVENT_ONESHOT);
        }
}

static int on_fanotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MnMountGuard *g = userdata;
        char buf[PERM_BUF_SIZE];

        for (unsigned k = 0; k < PERM_READS_MAX; k++) {
                ssize_t n = read(g->fan_fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break; /* EAGAIN: all answered */
                }
                if (n == 0)
                        break;
                for (size_t off = 0; off + FAN_EVENT_METADATA_LEN <= (size_t) n;) {
                        struct fanotify_event_metadata ev;
                        memcpy(&ev, buf + off, sizeof(ev));
                        if (ev.event_len < FAN_EVENT_METADATA_LEN || ev.event_len > (size_t) n - off)
                                break;
                        off += ev.event_len;
                        if (ev.fd < 0)
                                continue; /* FAN_NOFD: an overflow; permission events never overflow */
                        if (ev.vers == FANOTIFY_METADATA_VERSION && (ev.mask & (FAN_OPEN_PERM | FAN_ACCESS_PERM)))
                                handle_perm(g, &ev);
                        else
                                answer(g, ev.fd, FAN_DENY);
                        close(ev.fd);
                }
        }
        return 0;
}

/* --- life cycle --- */

int mn_mount_guard_new(sd_event *e, const MnMountGuardOptions *o, MnMountGuard **ret) {
        _cleanup_(mn_mount_guard_freep) MnMountGuard *g = NULL;
        struct stat st;
        int r;

        g = calloc(1, sizeof(MnMountGuard));
        if (!g)
                return -ENOMEM;
        g->fan_fd = -EBADF;
        g->o = *o;
        if (g->o.deny_window_usec == 0)
                g->o.deny_window_usec = MN_MOUNT_GUARD_DENY_WINDOW_DEFAULT_USEC;
        g->event = sd_event_ref(e);
        if (stat("/", &st) == 0)
                g->root_dev = st.st_dev;

        g->fan_fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
        if (g->fan_fd < 0)
                return -errno;

        r = sd_event_add_io(e, &g->fan_source, g->fan_fd, EPOLLIN, on_fanotify, g);
        if (r < 0)
                return r;
        (void) sd_event_source_set_priority(g->fan_source, SD_EVENT_PRIORITY_IMPORTANT);
        r = sd_event_add_time_relative(e, &g->timer_source, CLOCK_MONOTONIC, g->o.deny_window_usec,
                                       TIMER_ACCURACY_USEC, on_window_end, g);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(g->timer_source, SD_EVENT_OFF);

        *ret = TAKE_PTR(g);
        return 0;
}

int mn_mount_guard_start(MnMountGuard *g) {
        int r, fd;

        if (g->started)
                return -EALREADY;
        /* The monitor first, so that nothing mounted while the table is read for coldplug is missed. */
        g->monitor = mnt_new_monitor();
        if (!g->monitor)
                return -ENOMEM;
        r = mnt_monitor_enable_kernel(g->monitor, 1);
        if (r < 0)
                return r;
        fd = mnt_monitor_get_fd(g->monitor);
        if (fd < 0)
                return fd;
        r = sd_event_add_io(g->event, &g->monitor_source, fd, EPOLLIN, on_monitor, g);
        if (r < 0)
                return r;
        (void) sd_event_source_set_priority(g->monitor_source, SD_EVENT_PRIORITY_IMPORTANT);

        r = rescan(g, true, now_mono_usec());
        if (r < 0)
                return r;
        g->started = true;
        return 0;
}

MnMountGuard *mn_mount_guard_free(MnMountGuard *g) {
        if (!g)
                return NULL;
        mn_mount_guard_flush(g);
        sd_event_source_disable_unref(g->monitor_source);
        sd_event_source_disable_unref(g->fan_source);
        sd_event_source_disable_unref(g->timer_source);
        mnt_unref_monitor(g->monitor);
        mnt_unref_table(g->table);
        free(g->ids);
        if (g->fan_fd >= 0)
                close(g->fan_fd);
        for (size_t i = 0; i < g->n_blocked; i++) {
                free(g->blocked[i].rule);
                json_object_put(g->blocked[i].device);
        }
        free(g->blocked);
        for (size_t i = 0; i < g->n_records; i++)
                record_done(&g->records[i]);
        sd_event_unref(g->event);
        free(g);
        return NULL;
}

int mn_mount_guard_block_device(MnMountGuard *g, dev_t devnum, const char *rule, json_object *device) {
        BlockedDevice *b = blocked_find(g, devnum);

        if (devnum == 0)
                return -EINVAL;
        if (!b) {
                if (g->n_blocked >= MN_MOUNT_GUARD_MAX_BLOCKED)
                        return -E2BIG;
                BlockedDevice *v = reallocarray(g->blocked, g->n_blocked + 1, sizeof(BlockedDevice));
                if (!v)
                        return -ENOMEM;
                g->blocked = v;
                b = &g->blocked[g->n_blocked++];
                *b = (BlockedDevice) { .devnum = devnum };
        }
        free(b->rule);
        b->rule = rule ? strndup(rule, MN_MOUNT_GUARD_RULE_MAX) : NULL;
        /* A copy of our own: records of its denials keep a reference after it is unblocked. */
        json_object_put(b->device);
        b->device = NULL;
        if (device && json_object_deep_copy(device, &b->device, NULL) < 0)
                b->device = NULL; /* the events go without them */

        /* Mounts of it that are there already (the mount won the race with the decision). */
        if (g->started && g->table) {
                struct libmnt_iter *itr = mnt_new_iter(MNT_ITER_FORWARD);
                struct libmnt_fs *fs;
                uint64_t seen = now_mono_usec();

                if (!itr)
                        return -ENOMEM;
                while (mnt_table_next_fs(g->table, itr, &fs) == 0) {
                        MnMountInfo m;
                        BlockedMount *bm = blocked_mount_find(g, (uint64_t) mnt_fs_get_id(fs));

                        if (bm && bm->done)
                                continue;
                        mount_info_from_fs(fs, true, &m);
                        /* Not blocked at first sight: the caller was told about it. */
                        if (m.target && blocked_for(g, m.devnum, m.source_devnum) == b)
                                (void) block_mount(g, &m, b, seen, !bm);
                }
                mnt_free_iter(itr);
        }
        return 0;
}

int mn_mount_guard_unblock_device(MnMountGuard *g, dev_t devnum) {
        BlockedDevice *b = blocked_find(g, devnum);

        if (!b)
                return -ENOENT;
        free(b->rule);
        json_object_put(b->device);
        *b = g->blocked[--g->n_blocked];
        return 0;
}

bool mn_mount_guard_is_blocked(MnMountGuard *g, dev_t devnum) {
        return blocked_find(g, devnum);
}

void mn_mount_guard_get_stats(const MnMountGuard *g, MnMountGuardStats *ret) {
        *ret = g->stats;
}
