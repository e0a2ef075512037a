/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Who did it: a process's executable and user, read from /proc for the process and file events of the
 * mount guard and the write audit (event "process": {pid, executable}, "user": {id, name}).
 * A process that has exited by the time we look is reported by its pid alone. Library code: no
 * logging. Not thread-safe: the event loop's thread only. */

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Processes remembered by a cache: a burst of 10,000 files from one cp asks /proc once. */
#define MN_PROC_CACHE_SIZE     64
/* How long a cached answer holds (pids are reused, slowly). */
#define MN_PROC_CACHE_TTL_USEC (2 * 1000 * 1000)
/* User names remembered by a cache. */
#define MN_USER_CACHE_SIZE     32
/* Longest user name kept (useradd allows 32; LDAP may say more). */
#define MN_USER_NAME_MAX       256

typedef struct MnProcInfo {
        pid_t pid;
        bool has_exe, has_uid;
        uid_t uid;             /* real uid */
        char exe[PATH_MAX];    /* /proc/PID/exe as read: untrusted */
} MnProcInfo;

typedef struct MnProcCacheEntry {
        MnProcInfo info;
        uint64_t stamp_usec;   /* CLOCK_MONOTONIC when read; 0 = free */
} MnProcCacheEntry;

typedef struct MnUserCacheEntry {
        uid_t uid;
        bool used, known;
        char name[MN_USER_NAME_MAX];
} MnUserCacheEntry;

typedef struct MnProcCache {
        MnProcCacheEntry procs[MN_PROC_CACHE_SIZE];
        MnUserCacheEntry users[MN_USER_CACHE_SIZE];
        size_t next_proc, next_user;
} MnProcCache;

/* Reads what /proc says about pid now. Always fills *ret (pid at least). Returns 0, or -ESRCH when
 * the process is gone. */
int mn_proc_info_read(pid_t pid, MnProcInfo *ret);

/* The same through the cache (cache may be NULL). */
const MnProcInfo *mn_proc_cache_get(MnProcCache *cache, pid_t pid, MnProcInfo *buf);

/* The user's name, NULL when unknown. The pointer lives until the next call. */
const char *mn_user_name(MnProcCache *cache, uid_t uid);

/* Adds "process": {pid, executable} and "user": {id, name} to ev (executable and name sanitized). */
void mn_event_add_process(json_object *ev, MnProcCache *cache, const MnProcInfo *p);
