/* SPDX-License-Identifier: GPL-2.0-or-later */
/* BLKROSET on a disk and its partitions (see block-enforce.h). */
#include "block-enforce.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "macro.h"
#include "strutil.h"

/* "MAJ:MIN\n" */
#define DEV_ATTR_MAX 32

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

int mn_block_get_read_only_fd(int fd, bool *ret) {
        struct stat st;
        int v = 0;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        if (ioctl(fd, BLKROGET, &v) < 0)
                return -errno;
        *ret = v != 0;
        return 0;
}

static int open_node_path(const char *path) {
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? -errno : fd;
}

int mn_block_get_read_only(const char *devnode, bool *ret) {
        _cleanup_close_ int fd = -EBADF;

        fd = open_node_path(devnode);
        if (fd < 0)
                return fd;
        return mn_block_get_read_only_fd(fd, ret);
}

/* Parses "MAJ:MIN" with an optional trailing newline. */
static int parse_devnum(const char *s, dev_t *ret) {
        char buf[DEV_ATTR_MAX];
        uint64_t ma, mi;
        size_t n = strnlen(s, sizeof(buf));

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n + 1);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        char *colon = strchr(buf, ':');
        if (!colon)
                return -EINVAL;
        *colon = 0;
        if (parse_u64(buf, &ma) < 0 || parse_u64(colon + 1, &mi) < 0 || ma > UINT32_MAX || mi > UINT32_MAX)
                return -EINVAL;
        *ret = makedev((unsigned) ma, (unsigned) mi);
        return 0;
}

static int read_dev_attr(int dirfd, dev_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[DEV_ATTR_MAX];
        ssize_t n;

        fd = openat(dirfd, "dev", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        do
                n = read(fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return parse_devnum(buf, ret);
}

/* /sys/dev/block/MAJ:MIN, the device's own sysfs directory. */
static int open_sysfs_block(dev_t devnum) {
        char path[64];
        int fd;

        (void) snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(devnum), minor(devnum));
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? (errno == ENOENT ? -ENODEV : -errno) : fd;
}

static bool is_partition_dir(int dirfd) {
        return faccessat(dirfd, "partition", F_OK, 0) == 0;
}

int mn_block_whole_disk(dev_t devnum, dev_t *ret) {
        _cleanup_close_ int fd = -EBADF, parent = -EBADF;
        int r;

        fd = open_sysfs_block(devnum);
        if (fd < 0)
                return fd;
        if (!is_partition_dir(fd)) {
                *ret = devnum;
                return 0;
        }
        parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent < 0)
                return -errno;
        r = read_dev_attr(parent, ret);
        return r < 0 ? -ENODEV : 0;
}

static bool name_ok(const char *name) {
        size_t n = strnlen(name, MN_BLOCK_NAME_MAX);
        if (n == 0 || n >= MN_BLOCK_NAME_MAX || streq(name, ".") || streq(name, ".."))
                return false;
        for (size_t i = 0; i < n; i++)
                if (name[i] == '/' || (unsigned char) name[i] <= ' ' || name[i] == 0x7f)
                        return false;
        return true;
}

/* The kernel name of the device whose sysfs directory is the target of /sys/dev/block/MAJ:MIN. */
static void sysfs_name(dev_t devnum, char name[static MN_BLOCK_NAME_MAX]) {
        char path[64], target[4096];
        ssize_t n;

        name[0] = 0;
        (void) snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(devnum), minor(devnum));
        n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
                return;
        target[n] = 0;
        const char *base = strrchr(target, '/');
        base = base ? base + 1 : target;
        if (name_ok(base))
                memcpy(name, base, strlen(base) + 1);
}

/* Opens the node of devnum: /dev/NAME if it is that device, else /dev/block/MAJ:MIN. */
static int open_node(dev_t devnum, const char *name) {
        struct stat st;
        char path[64];
        int fd;

        if (name_ok(name)) {
                _cleanup_close_ int devfd = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (devfd >= 0) {
                        fd = openat(devfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
                        if (fd >= 0) {
                                if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == devnum)
                                        return fd;
                                close(fd);
                        }
                }
        }
        (void) snprintf(path, sizeof(path), "/dev/block/%u:%u", major(devnum), minor(devnum));
        fd = open_node_path(path);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != devnum) {
                close(fd);
                return -ENODEV;
        }
        return fd;
}

/* force: issue BLKROSET even when BLKROGET already says so. A partition of a read-only disk reads
 * as read-only whatever its own flag: set its own too, so that it stays read-only if someone clears
 * the disk's. */
static void node_set(int fd, bool read_only, bool force, MnBlockRoNode *node) {
        bool v;
        int r;

        r = mn_block_get_read_only_fd(fd, &v);
        if (r < 0) {
                node->error = r;
                return;
        }
        node->before = node->after = v;
        if (v == read_only && !force)
                return;

        int want = read_only;
        if (ioctl(fd, BLKROSET, &want) < 0) {
                node->error = -errno;
                return;
        }
        r = mn_block_get_read_only_fd(fd, &v);
        if (r < 0) {
                node->error = r;
                node->after = -1;
                return;
        }
        node->after = v;
        node->changed = v == read_only && node->before != v;
        if (v != read_only)
                node->error = -EIO;
}

static MnBlockRoNode *result_add(MnBlockRoResult *res, dev_t devnum, const char *name, bool partition) {
        if (res->n >= MN_BLOCK_MAX_NODES) {
                res->truncated = true;
                return NULL;
        }
        MnBlockRoNode *node = &res->nodes[res->n++];
        *node = (MnBlockRoNode) { .devnum = devnum, .partition = partition, .before = -1, .after = -1 };
        if (name_ok(name))
                memcpy(node->name, name, strlen(name) + 1);
        return node;
}

/* Every partition below the disk's sysfs directory, in directory order. */
static int set_partitions(int sysfd, bool read_only, MnBlockRoResult *res) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = openat(sysfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                _cleanup_close_ int sub = -EBADF, node_fd = -EBADF;
                dev_t devnum;

                if (!name_ok(de->d_name) || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
                        continue;
                sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (sub < 0 || !is_partition_dir(sub) || read_dev_attr(sub, &devnum) < 0)
                        continue;

                MnBlockRoNode *node = result_add(res, devnum, de->d_name, true);
                if (!node)
                        break;
                node_fd = open_node(devnum, node->name);
                if (node_fd < 0) {
                        node->error = node_fd;
                        continue;
                }
                node_set(node_fd, read_only, read_only, node);
        }
        return 0;
}

int mn_block_set_read_only_fd(int fd, bool read_only, MnBlockRoResult *ret) {
        _cleanup_close_ int sysfd = -EBADF;
        char name[MN_BLOCK_NAME_MAX];
        struct stat st;
        int r;

        *ret = (MnBlockRoResult) { .read_only = read_only };
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;

        sysfs_name(st.st_rdev, name);
        sysfd = open_sysfs_block(st.st_rdev);
        bool partition = sysfd >= 0 && is_partition_dir(sysfd);

        /* The disk first: once it is read-only, a partition that appears meanwhile is too (the kernel
         * checks the disk's flag as well as the partition's). */
        MnBlockRoNode *node = result_add(ret, st.st_rdev, name, partition);
        node_set(fd, read_only, false, node);
        r = node->error;

        if (sysfd >= 0 && !partition) {
                int k = set_partitions(sysfd, read_only, ret);
                if (k < 0 && r == 0)
                        r = k;
        }

        for (size_t i = 0; i < ret->n; i++) {
                ret->n_changed += ret->nodes[i].changed;
                ret->n_failed += ret->nodes[i].error != 0;
                if (r == 0 && ret->nodes[i].error != 0)
                        r = ret->nodes[i].error;
        }
        return r;
}

int mn_block_set_read_only(const char *devnode, bool read_only, MnBlockRoResult *ret) {
        _cleanup_close_ int fd = -EBADF;

        *ret = (MnBlockRoResult) { .read_only = read_only };
        fd = open_node_path(devnode);
        if (fd < 0)
                return fd;
        return mn_block_set_read_only_fd(fd, read_only, ret);
}

void mn_block_ro_result_to_json(const MnBlockRoResult *r, json_object *ev) {
        json_object *b = json_object_new_object(), *nodes = json_object_new_array();

        if (!b || !nodes) {
                json_object_put(b);
                json_object_put(nodes);
                return;
        }
        json_object_object_add(b, "read_only", json_object_new_boolean(r->read_only));
        for (size_t i = 0; i < r->n; i++) {
                const MnBlockRoNode *n = &r->nodes[i];
                json_object *o = json_object_new_object();
                if (!o)
                        break;
                /* Kernel names, checked by name_ok(); sanitized all the same. */
                _cleanup_free_ char *name = untrusted_sanitize(n->name, strlen(n->name), MN_BLOCK_NAME_MAX);
                if (name)
                        json_object_object_add(o, "name", json_object_new_string(name));
                json_object_object_add(o, "major", json_object_new_int64(major(n->devnum)));
                json_object_object_add(o, "minor", json_object_new_int64(minor(n->devnum)));
                json_object_object_add(o, "partition", json_object_new_boolean(n->partition));
                json_object_object_add(o, "before", json_object_new_int(n->before));
                json_object_object_add(o, "after", json_object_new_int(n->after));
                json_object_object_add(o, "changed", json_object_new_boolean(n->changed));
                if (n->error != 0)
                        json_object_object_add(o, "error", json_object_new_string(strerror(-n->error)));
                json_object_array_add(nodes, o);
        }
        json_object_object_add(b, "nodes", nodes);
        if (r->truncated)
                json_object_object_add(b, "truncated", json_object_new_boolean(true));
        json_object_object_add(ev, "block", b);
}
