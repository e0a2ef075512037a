/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The policy snapshot in the state directory (see snapshot.h). */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);

static int parse(const char *data, size_t n, Policy **ret) {
        _cleanup_(policy_diagnostics_clear) PolicyDiagnostics diags = {};
        int r;

        if (n > POLICY_MAX_FILE_SIZE)
                return -EFBIG;
        r = policy_parse(data, n, ret, &diags);
        return r == -ENOMEM ? r : r < 0 ? -EINVAL : 0;
}

int snapshot_write(const char *state_dir, const char *policy_bytes, size_t n) {
        _cleanup_(policy_freep) Policy *p = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (isempty(state_dir) || (!policy_bytes && n > 0))
                return -EINVAL;
        r = parse(policy_bytes ?: "", n, &p);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/%s", state_dir, SNAPSHOT_FILENAME) < 0)
                return -ENOMEM;
        return write_file_atomic(path, policy_bytes ?: "", n, SNAPSHOT_MODE);
}

/* Only root (or whoever we run as, for tests) may have written it, and nobody else may replace it. */
static bool trusted(const struct stat *st) {
        return (st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int snapshot_load(const char *state_dir, Policy **ret) {
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t n = 0;
        int r;

        if (isempty(state_dir))
                return -EINVAL;
        dfd = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (fstat(dfd, &st) < 0)
                return -errno;
        if (!trusted(&st))
                return -EPERM;

        fd = openat(dfd, SNAPSHOT_FILENAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return errno == ELOOP ? -EPERM : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || !trusted(&st))
                return -EPERM;
        if ((uint64_t) st.st_size > POLICY_MAX_FILE_SIZE)
                return -EFBIG;

        /* One byte more than fstat() said tells a file that changed under us: it never should, it is
         * replaced by rename(). */
        size_t size = (size_t) st.st_size;
        buf = malloc(size + 2);
        if (!buf)
                return -ENOMEM;
        if ((r = read_up_to(fd, buf, size + 1, &n)) < 0)
                return r;
        if (n != size)
                return -EBUSY;
        buf[n] = 0;
        return parse(buf, n, ret);
}
