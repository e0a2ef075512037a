/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A full file system for real: the journal on a 2 MiB tmpfs (private mount namespace; needs root),
 * filled up by another file. Enforcement never waits on the journal; nothing is dropped silently. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal-diskfull-common.h"
#include "macro.h"

static char *mnt;

static char *fill_up(void) {
        char *filler = jt_path(mnt, "filler");
        int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        static char buf[65536];
        assert_true(fd >= 0);
        memset(buf, 'x', sizeof(buf));
        for (size_t chunk = sizeof(buf); chunk > 0; chunk /= 2)
                while (write(fd, buf, chunk) == (ssize_t) chunk)
                        ;
        assert_int_equal(errno, ENOSPC);
        close(fd);
        return filler;
}

static void test_disk_full(void **state) {
        _cleanup_free_ char *path = jt_path(mnt, "journal.db");
        JournalOptions o = { .backlog_max_events = DF_BACKLOG, .retry_usec = 1 };
        Journal *j = NULL;
        DiskFull d;

        assert_int_equal(journal_open(path, &o, &j), 0);
        jt_append_n(j, 50, DF_T0, 1000);
        _cleanup_free_ char *filler = fill_up();
        df_fill(j, path, &d);
        assert_true(d.committed >= 50);

        /* space comes back */
        assert_int_equal(unlink(filler), 0);
        assert_int_equal(journal_flush(j), 0);
        df_check_recovered(j, path, &d, 0);

        /* and appending goes on normally */
        jt_append_n(j, 10, DF_T0 + 5000000, 1);
        assert_true(jt_verify(j).intact);
        journal_close(j);
}

int main(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "skipped: mounting a small tmpfs to fill up needs root\n");
                return 77;
        }
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                fprintf(stderr, "skipped: no private mount namespace here: %m\n");
                return 77;
        }
        mnt = jt_mkdtemp();
        if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=2m,mode=0700") < 0) {
                fprintf(stderr, "skipped: cannot mount tmpfs: %m\n");
                jt_rm_rf(mnt);
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_disk_full),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        (void) umount2(mnt, MNT_DETACH);
        jt_rm_rf(mnt);
        return r;
}
