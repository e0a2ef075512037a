/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The mount guard (docs/block-devices.md): follows the mount table with a libmount monitor and, for
 * every mount of a filesystem on a device the caller has blocked,
 *   1. marks the filesystem with fanotify (FAN_CLASS_CONTENT, FAN_MARK_FILESYSTEM, FAN_OPEN_PERM |
 *      FAN_ACCESS_PERM | FAN_ONDIR) and from then on denies every open and read, directories too,
 *      through whatever path or fd it is reached, in every mount namespace;
 *   2. then detaches the mount (umount2 MNT_DETACH, through an fd checked to be that very mount);
 *   3. records mount-blocked (device, mount point, filesystem type, the measured windows) and, per
 *      blocked filesystem and per window (deny_window_usec), one file-open-denied with the count.
 * Mounts present when the guard starts are checked the same way (coldplug), and so are those present
 * when a device is blocked later (mn_mount_guard_block_device() after the mount won the race).
 *
 * It also tells the caller about every other mount and unmount (the daemon starts and stops the write
 * audit of allowed read-write media there).
 *
 * Driven by an sd-event loop: mn_mount_guard_new() adds its sources (the monitor fd, the fanotify fd
 * and a timer) at SD_EVENT_PRIORITY_IMPORTANT, so that mounts and blocked processes are served first.
 * A blocked device is a dev_t: a disk blocks its partitions too; a filesystem belongs to the device
 * its mountinfo MAJ:MIN names, or the block device its source names (exfat-fuse: fuseblk with
 * /dev/sdX as source).
 *
 * What it does not see: mounts in other mount namespaces (their filesystems are denied once one of
 * their mounts shows up here); a FUSE filesystem whose source does not name the device (fusefat). The
 * fanotify group lives as long as the process: when mnguardd stops, the kernel lets pending opens
 * through; the udev path (UDISKS_IGNORE, BLKROSET) holds while it is down.
 *
 * Library code: no logging. Events go to the MnEventSink. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "event-sink.h"

#define MN_MOUNT_GUARD_MAX_BLOCKED        1024   /* blocked devices */
#define MN_MOUNT_GUARD_MAX_MOUNTS         65536  /* mounts in the table; beyond, the rest are not followed */
#define MN_MOUNT_GUARD_MAX_BLOCKED_MOUNTS 1024   /* mount ids remembered as blocked */
#define MN_MOUNT_GUARD_MAX_RECORDS        256    /* blocked filesystems whose denials are counted */
#define MN_MOUNT_GUARD_MAX_ATTEMPTS       3      /* tries to deny and detach one mount */
#define MN_MOUNT_GUARD_RULE_MAX           256    /* bytes of a rule name kept */
#define MN_MOUNT_GUARD_DENY_WINDOW_DEFAULT_USEC (1000 * 1000)

typedef struct MnMountGuard MnMountGuard;

/* One mount, as mountinfo says. Strings are untrusted (a user may choose the mount point and, for
 * FUSE, the source) and live only during the callback. */
typedef struct MnMountInfo {
        uint64_t id;          /* mount id */
        dev_t devnum;         /* the filesystem's st_dev (MAJ:MIN) */
        dev_t source_devnum;  /* the block device the source names, 0 when none */
        const char *source;   /* may be NULL */
        const char *target;   /* mount point */
        const char *fstype;   /* may be NULL */
        const char *root;     /* the mount's root within the filesystem ("/" unless a bind mount) */
        bool read_only;
        bool coldplug;        /* present when the guard started (or when the device was blocked) */
} MnMountInfo;

/* What was done about one blocked mount. Times are CLOCK_MONOTONIC µs (now_mono_usec()). */
typedef struct MnMountBlocked {
        MnMountInfo mount;
        dev_t blocked;          /* the blocked device it belongs to */
        uint64_t seen_usec;     /* the guard woke up for the change */
        uint64_t marked_usec;   /* the fanotify mark is in place: opens are denied from here on */
        uint64_t detached_usec; /* umount2() returned */
        int mark_error, detach_error; /* 0 or negative errno */
} MnMountBlocked;

typedef struct MnMountGuardOptions {
        MnEventSink sink;              /* copied */
        uint64_t deny_window_usec;     /* file-open-denied aggregation; 0: the default */
        /* A mount that is not blocked appeared, or one the caller was told about went away.
         * coldplug marks those present at mn_mount_guard_start(). */
        void (*mounted)(const MnMountInfo *m, void *userdata);
        void (*unmounted)(const MnMountInfo *m, void *userdata);
        /* After each blocked mount was handled (tests and benchmarks read the windows here). */
        void (*blocked)(const MnMountBlocked *b, void *userdata);
        void *userdata;
} MnMountGuardOptions;

typedef struct MnMountGuardStats {
        uint64_t table_changes;     /* mount table changes handled */
        uint64_t mounts_seen;       /* new mounts looked at */
        uint64_t mounts_blocked;    /* marked and detached */
        uint64_t block_failures;    /* mark or detach failed */
        uint64_t opens_denied, reads_denied;
        uint64_t allowed_after_unblock; /* opens let through on a filesystem no longer blocked */
        uint64_t deny_usec_last, deny_usec_max; /* seen -> marked */
        uint64_t detach_usec_last, detach_usec_max; /* seen -> detached */
} MnMountGuardStats;

/* Creates the fanotify group (needs CAP_SYS_ADMIN: -EPERM otherwise) and adds its sources to e.
 * Nothing is looked at before mn_mount_guard_start(). */
int mn_mount_guard_new(sd_event *e, const MnMountGuardOptions *o, MnMountGuard **ret);
/* Emits pending file-open-denied counts, removes the sources. The fanotify marks go with the group. */
MnMountGuard *mn_mount_guard_free(MnMountGuard *g);
static inline void mn_mount_guard_freep(MnMountGuard **g) {
        mn_mount_guard_free(*g);
}

/* Starts the monitor, then looks at every mount present (coldplug): blocked ones are denied and
 * detached at once, the others reported through mounted(). */
int mn_mount_guard_start(MnMountGuard *g);

/* Blocks devnum (a disk: its partitions too). Mounts of it present now are denied and detached before
 * this returns. rule (may be NULL) is the policy rule named in the events; device (may be NULL) holds
 * fields added to the "device" section of its events (the medium's vendor, product, serial …: see
 * mn_event_add_fields()), copied. Blocking a blocked device again replaces both. Returns 0 or -E2BIG. */
int mn_mount_guard_block_device(MnMountGuard *g, dev_t devnum, const char *rule, json_object *device);
/* Unblocks devnum: later mounts are allowed, and a filesystem of it that is still marked lets opens
 * through again (its mark is removed at the first one). Returns 0, or -ENOENT when not blocked. */
int mn_mount_guard_unblock_device(MnMountGuard *g, dev_t devnum);
bool mn_mount_guard_is_blocked(MnMountGuard *g, dev_t devnum);

/* Emits the pending file-open-denied counts now instead of at the end of their window. */
void mn_mount_guard_flush(MnMountGuard *g);

void mn_mount_guard_get_stats(const MnMountGuard *g, MnMountGuardStats *ret);
