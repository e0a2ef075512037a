/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Process and user of a file event, from /proc (see proc-info.h). */
#include "proc-info.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "event.h"
#include "macro.h"
#include "strutil.h"

/* /proc/PID/status is a few KiB; "Uid:" is in its first lines. */
#define PROC_STATUS_MAX 4096
/* getpwuid_r() buffer: enough for any sane passwd entry, bounded for an insane one. */
#define PASSWD_BUF_MAX  16384

static int read_uid(pid_t pid, uid_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], buf[PROC_STATUS_MAX];
        ssize_t n;

        (void) snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        do
                n = read(fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        buf[n] = 0;

        const char *p = strstr(buf, "\nUid:");
        if (!p)
                return -EBADMSG;
        p += strlen("\nUid:");
        while (*p == '\t' || *p == ' ')
                p++;
        char num[16];
        size_t k = 0;
        while (p[k] >= '0' && p[k] <= '9' && k < sizeof(num) - 1) {
                num[k] = p[k];
                k++;
        }
        num[k] = 0;
        uint64_t v;
        if (parse_u64(num, &v) < 0 || v >= UINT32_MAX)
                return -EBADMSG;
        *ret = (uid_t) v;
        return 0;
}

int mn_proc_info_read(pid_t pid, MnProcInfo *ret) {
        char path[64];
        ssize_t n;
        uid_t uid;

        *ret = (MnProcInfo) { .pid = pid };
        if (pid <= 0)
                return -ESRCH;
        (void) snprintf(path, sizeof(path), "/proc/%d/exe", (int) pid);
        n = readlink(path, ret->exe, sizeof(ret->exe) - 1);
        if (n > 0) {
                ret->exe[n] = 0;
                ret->has_exe = true;
        }
        if (read_uid(pid, &uid) == 0) {
                ret->uid = uid;
                ret->has_uid = true;
        }
        return ret->has_exe || ret->has_uid ? 0 : -ESRCH;
}

const MnProcInfo *mn_proc_cache_get(MnProcCache *cache, pid_t pid, MnProcInfo *buf) {
        uint64_t now;

        if (!cache) {
                (void) mn_proc_info_read(pid, buf);
                return buf;
        }
        now = now_mono_usec();
        for (size_t i = 0; i < MN_PROC_CACHE_SIZE; i++) {
                MnProcCacheEntry *e = &cache->procs[i];
                if (e->stamp_usec != 0 && e->info.pid == pid && now - e->stamp_usec < MN_PROC_CACHE_TTL_USEC)
                        return &e->info;
        }
        MnProcCacheEntry *e = &cache->procs[cache->next_proc];
        cache->next_proc = (cache->next_proc + 1) % MN_PROC_CACHE_SIZE;
        if (mn_proc_info_read(pid, &e->info) < 0) {
                /* Gone: not worth remembering, the next event may come from a live one. */
                e->stamp_usec = 0;
                *buf = e->info;
                return buf;
        }
        e->stamp_usec = now;
        return &e->info;
}

const char *mn_user_name(MnProcCache *cache, uid_t uid) {
        /* Without a cache the answer is kept here, as getpwuid() keeps its own. */
        static MnUserCacheEntry single;
        MnUserCacheEntry *e = &single;

        if (cache) {
                for (size_t i = 0; i < MN_USER_CACHE_SIZE; i++)
                        if (cache->users[i].used && cache->users[i].uid == uid)
                                return cache->users[i].known ? cache->users[i].name : NULL;
                e = &cache->users[cache->next_user];
                cache->next_user = (cache->next_user + 1) % MN_USER_CACHE_SIZE;
        }

        *e = (MnUserCacheEntry) { .uid = uid, .used = true };
        long sz = sysconf(_SC_GETPW_R_SIZE_MAX);
        size_t bufsize = sz > 0 && sz <= PASSWD_BUF_MAX ? (size_t) sz : PASSWD_BUF_MAX;
        _cleanup_free_ char *buf = malloc(bufsize);
        struct passwd pw, *res = NULL;
        if (buf && getpwuid_r(uid, &pw, buf, bufsize, &res) == 0 && res && res->pw_name) {
                size_t n = strnlen(res->pw_name, MN_USER_NAME_MAX);
                if (n < MN_USER_NAME_MAX) {
                        memcpy(e->name, res->pw_name, n + 1);
                        e->known = true;
                }
        }
        return e->known ? e->name : NULL;
}

void mn_event_add_process(json_object *ev, MnProcCache *cache, const MnProcInfo *p) {
        json_object *proc = mn_event_section(ev, "process");
        mn_event_set_int(proc, "pid", p->pid);
        if (p->has_exe)
                mn_event_set_untrusted(proc, "executable", p->exe);
        if (p->has_uid) {
                json_object *user = mn_event_section(ev, "user");
                mn_event_set_int(user, "id", p->uid);
                mn_event_set_untrusted(user, "name", mn_user_name(cache, p->uid));
        }
}
