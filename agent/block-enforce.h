/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The block layer's read-only flag (BLKROSET/BLKROGET) on a removable disk and every partition of it,
 * for media the policy allows read-only (docs/block-devices.md). Set before anything mounts the
 * medium, a later mount comes up read-only (mount(8) falls back when mount(2) read-write fails with
 * EACCES) and writes fail. Set after a read-write mount, it does not stop writes to that mount: the
 * caller must not rely on it then (the mount guard detaches such mounts).
 *
 * Partitions are found through sysfs (/sys/dev/block/MAJ:MIN, by number) and opened as /dev/NAME,
 * checked to be the block device with that number (fstat st_rdev), else through /dev/block/MAJ:MIN.
 * Needs CAP_SYS_ADMIN. Library code: no logging. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The disk and up to 128 partitions (GPT's usual maximum); more are left out and flagged. */
#define MN_BLOCK_MAX_NODES   129
/* Kernel block device names are short ("mmcblk0p12", "nvme0n1p3"). */
#define MN_BLOCK_NAME_MAX    32

typedef struct MnBlockRoNode {
        dev_t devnum;
        char name[MN_BLOCK_NAME_MAX]; /* kernel name, e.g. "loop3p1" ("" when unknown) */
        bool partition;
        int before;   /* 1 read-only, 0 writable, -1 unknown (could not open or read) */
        int after;    /* the same, read back after the change */
        bool changed; /* the state changed (a partition of a disk made read-only first reads as
                       * read-only already: its own flag is set all the same, changed stays false) */
        int error;    /* 0, or the negative errno of open/ioctl, -EIO when the read-back differs */
} MnBlockRoNode;

typedef struct MnBlockRoResult {
        bool read_only;      /* what was asked */
        size_t n;            /* nodes[0] is the disk (or the one partition asked for) */
        MnBlockRoNode nodes[MN_BLOCK_MAX_NODES];
        bool truncated;      /* more partitions than MN_BLOCK_MAX_NODES - 1 */
        size_t n_changed;
        size_t n_failed;
} MnBlockRoResult;

/* BLKROGET on an open block device. Returns 0 with *ret, -ENOTBLK for something else. */
int mn_block_get_read_only_fd(int fd, bool *ret);
/* The same through the node's path. */
int mn_block_get_read_only(const char *devnode, bool *ret);

/* Sets (or clears) the read-only flag on the disk devnode refers to, then on every partition of it
 * (the disk first: from then on every partition is read-only, also one that appears meanwhile).
 * devnode naming a partition sets that partition only. A node already in the wanted state is not
 * changed, except that partitions always get their own flag when read_only is set. *ret is filled whether or not an error is returned. Returns 0 when every node holds the
 * wanted state, -ENOTBLK when devnode is not a block device, or the first node's error. */
int mn_block_set_read_only(const char *devnode, bool read_only, MnBlockRoResult *ret);
/* The same from an fd on the disk (or partition) node, opened by the caller. */
int mn_block_set_read_only_fd(int fd, bool read_only, MnBlockRoResult *ret);

/* Adds what was done to an event: "block": {"read_only", "nodes": [{"name", "major", "minor",
 * "before", "after", "changed", "error"}], "truncated"}. */
void mn_block_ro_result_to_json(const MnBlockRoResult *r, json_object *ev);

/* The whole disk a block device belongs to: itself for a disk, the parent for a partition (sysfs
 * "partition" attribute). Returns 0, -ENODEV when sysfs does not know devnum. */
int mn_block_whole_disk(dev_t devnum, dev_t *ret);
