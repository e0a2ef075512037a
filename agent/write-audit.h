/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The write audit of allowed read-write media (持ち出し記録, docs/block-devices.md): every file
 * written to a medium, deleted from it or renamed on it is an event.
 *
 *   file-written   file {path, name, size, uid, hash {sha256} | hash_skipped | hash_error},
 *                  process {pid, executable}, user {id, name}, device, mount, mnguard {rule}
 *   file-deleted   file {path, name, type}, process, user, ...
 *   file-renamed   file {path, name, old_path, old_name, type}, process, user, ...
 *   file-audit-overflow  the kernel's queue overflowed: events of this medium were lost
 *
 * path is the path on the medium ("/dir/name"), not where it is mounted. The hash is of the content
 * after the close that ended the write, read by a worker thread (the event loop never reads file
 * contents); files above hash_max_size are recorded with hash_skipped and their size. Events of all
 * media leave in the order the kernel reported them.
 *
 * How: one fanotify group per medium in FID mode (FAN_REPORT_DFID_NAME | FAN_REPORT_FID) with a
 * filesystem mark: FAN_CLOSE_WRITE, FAN_DELETE, FAN_RENAME (FAN_MOVED_FROM/TO on kernels before
 * 5.17). Directory handles are resolved with open_by_handle_at() on an fd of the mount opened for
 * each batch (the audit never holds the mount busy between batches), files are opened by their own
 * handle, so a rename right after the write does not lose the content. FUSE filesystems (exfat-fuse)
 * have no fsid, so no filesystem mark: close-writes come from an fd-mode mount mark, deletes and
 * renames from inode marks on each directory (at most MN_WRITE_AUDIT_MAX_DIRS; directories created
 * later are marked when their creation is reported, so what happens inside one before that is missed).
 *
 * Nothing is lost under a burst: FAN_UNLIMITED_QUEUE when the process may (root), and a queue
 * overflow is itself an event. The audit stops reading (the kernel keeps the events) while
 * MN_WRITE_AUDIT_MAX_PENDING records wait or MN_WRITE_AUDIT_MAX_OPEN_FILES files are held for hashing.
 *
 * Driven by an sd-event loop. Library code: no logging. Free the mount guard before the write audit:
 * the hashing thread may be waiting on a permission event of the guard's (a medium blocked while it
 * was being hashed). */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "event-sink.h"

#define MN_WRITE_AUDIT_MAX_MEDIA      64
#define MN_WRITE_AUDIT_MAX_PENDING    4096  /* records read and not yet emitted, all media */
#define MN_WRITE_AUDIT_MAX_OPEN_FILES 256   /* files held open for the hashing thread */
#define MN_WRITE_AUDIT_MAX_DIRS       4096  /* FUSE media: directories marked one by one */
#define MN_WRITE_AUDIT_RULE_MAX       256
#define MN_WRITE_AUDIT_HASH_MAX_DEFAULT (256ULL * 1024 * 1024)

typedef struct MnWriteAudit MnWriteAudit;
typedef struct MnWriteAuditMedium MnWriteAuditMedium;

typedef struct MnWriteAuditOptions {
        MnEventSink sink;          /* copied */
        uint64_t hash_max_size;    /* bytes; 0: MN_WRITE_AUDIT_HASH_MAX_DEFAULT, UINT64_MAX: no cap */
} MnWriteAuditOptions;

typedef struct MnWriteAuditMediumInfo {
        const char *mount_point;   /* required: where it is mounted now */
        dev_t devnum;              /* the block device, for events (0: unknown) */
        const char *devnode;       /* for events, may be NULL */
        const char *rule;          /* the rule that allowed it, may be NULL */
        json_object *device;       /* fields added to the events' "device" section (the medium's vendor,
                                    * product, serial …: mn_event_add_fields()), may be NULL; copied */
} MnWriteAuditMediumInfo;

typedef struct MnWriteAuditSummary {
        uint64_t files_written, bytes_written;
        uint64_t files_deleted, files_renamed;
        uint64_t hash_skipped, hash_failed;
        uint64_t overflows;        /* FAN_Q_OVERFLOW seen: events were lost */
        bool fuse;                 /* audited through the FUSE fallback */
        bool dirs_truncated;       /* FUSE: more directories than MN_WRITE_AUDIT_MAX_DIRS */
        bool dirent_unsupported;   /* FUSE on kernels before 6.8: deletes and renames not seen */
} MnWriteAuditSummary;

typedef struct MnWriteAuditStats {
        uint64_t events_read, records_emitted;
        uint64_t pending, pending_max, open_files_max;
        uint64_t read_pauses;      /* times reading stopped for a full queue */
        bool unlimited_queue;      /* FAN_UNLIMITED_QUEUE was granted */
} MnWriteAuditStats;

/* Starts the hashing thread. */
int mn_write_audit_new(sd_event *e, const MnWriteAuditOptions *o, MnWriteAudit **ret);
/* Drops what is pending (no more events), stops the thread, closes every group. */
MnWriteAudit *mn_write_audit_free(MnWriteAudit *a);
static inline void mn_write_audit_freep(MnWriteAudit **a) {
        mn_write_audit_free(*a);
}

/* Starts auditing the filesystem mounted at info->mount_point. Returns 0 and *ret (owned by a; valid
 * until mn_write_audit_remove() finishes), -EEXIST with *ret when that filesystem is audited already,
 * -E2BIG at MN_WRITE_AUDIT_MAX_MEDIA, -ENOTDIR/-ENOENT, or fanotify's errno (-EPERM: not root). */
int mn_write_audit_add(MnWriteAudit *a, const MnWriteAuditMediumInfo *info, MnWriteAuditMedium **ret);

/* Stops auditing m (its medium was unmounted or removed): the events the kernel still holds are read,
 * every record is emitted, then done (may be NULL) gets the summary, and m is freed. done may be
 * called before this returns. */
typedef void (*MnWriteAuditDone)(const MnWriteAuditSummary *s, void *userdata);
int mn_write_audit_remove(MnWriteAudit *a, MnWriteAuditMedium *m, MnWriteAuditDone done, void *userdata);

/* The medium whose files have st_dev fs_dev, or NULL. */
MnWriteAuditMedium *mn_write_audit_find(MnWriteAudit *a, dev_t fs_dev);

/* What was recorded for m so far. */
void mn_write_audit_get_summary(const MnWriteAuditMedium *m, MnWriteAuditSummary *ret);
/* Adds the summary to an event (device-removed): "mnguard": {"files_written", "bytes_written",
 * "files_deleted", "files_renamed", "hash_skipped", "hash_failed", "events_lost"}. */
void mn_write_audit_summary_to_json(const MnWriteAuditSummary *s, json_object *ev);

/* Records read and not emitted yet (tests and benchmarks wait for 0). */
size_t mn_write_audit_pending(const MnWriteAudit *a);
void mn_write_audit_get_stats(const MnWriteAudit *a, MnWriteAuditStats *ret);
