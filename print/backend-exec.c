/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Finding, checking and running the real backend behind a wrapped queue (see backend-exec.h). */
#include "backend-exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "strutil.h"

#define SELF_EXE "/proc/self/exe"
#define DEVICE_URI_ENV "DEVICE_URI="
#define ENV_MAX 4096 /* environment entries passed on */

extern char **environ;

static bool trusted_owner(const struct stat *st) {
        return (st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int backend_dir_open(void) {
        char path[PATH_MAX];
        struct stat st;

        ssize_t n = readlink(SELF_EXE, path, sizeof(path) - 1);
        if (n < 0)
                return -errno;
        if ((size_t) n >= sizeof(path) - 1)
                return -ENAMETOOLONG;
        path[n] = 0;
        char *slash = strrchr(path, '/');
        if (!slash || slash == path)
                return -EINVAL;
        *slash = 0;

        int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        if (!trusted_owner(&st)) {
                close(fd);
                return -EPERM;
        }
        return fd;
}

int backend_open(int dir_fd, const char *scheme, InnerBackend *ret) {
        struct stat st;

        /* A scheme is [A-Za-z][A-Za-z0-9+.-]* (print_uri_check_inner()): no '/', never "." or "..". */
        if (isempty(scheme) || strchr(scheme, '/') || streq(scheme, ".") || streq(scheme, ".."))
                return -EINVAL;
        /* No O_CLOEXEC: execveat() of a "#!" script hands the interpreter /dev/fd/N. */
        int fd = openat(dir_fd, scheme, O_PATH);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR) || !trusted_owner(&st)) {
                close(fd);
                return -EPERM;
        }
        *ret = (InnerBackend) {
                .fd = fd,
                /* cupsd (scheduler/job.c): root when the file grants nothing to others and no
                 * group write */
                .as_root = !(st.st_mode & (S_IWGRP | S_IRWXO)),
        };
        return 0;
}

/* Finds "User NAME" in cups-files.conf: the first word of a line, then the value. */
static int parse_user_directive(const char *conf, char **ret) {
        for (const char *line = conf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                const char *p = line;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (strncmp(p, "User", 4) != 0 || (p[4] != ' ' && p[4] != '\t'))
                        continue;
                p += 4;
                while (*p == ' ' || *p == '\t')
                        p++;
                size_t n = strcspn(p, " \t\r\n#");
                if (n == 0 || n > LOGIN_NAME_MAX)
                        return -EINVAL;
                char *v = strndup(p, n);
                if (!v)
                        return -ENOMEM;
                *ret = v;
                return 0;
        }
        *ret = NULL;
        return 0;
}

int backend_cups_user(uid_t *ret_uid) {
        _cleanup_free_ char *conf = NULL, *path = NULL, *user = NULL;
        const char *root = getenv("CUPS_SERVERROOT");
        size_t size;
        uint64_t uid;
        int r;

        if (!isempty(root)) {
                if (asprintf(&path, "%s/%s", root, BACKEND_CUPS_FILES_CONF) < 0)
                        return -ENOMEM;
                r = read_full_file(path, BACKEND_CONF_MAX, &conf, &size);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (conf) {
                        r = parse_user_directive(conf, &user);
                        if (r < 0)
                                return r;
                }
        }

        const char *name = user ?: BACKEND_CUPS_USER_DEFAULT;
        if (parse_u64(name, &uid) >= 0) {
                if (uid == 0 || uid >= (uid_t) -1)
                        return -EINVAL;
                *ret_uid = (uid_t) uid;
                return 0;
        }
        struct passwd pw, *res = NULL;
        char buf[4096];
        r = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
        if (r != 0)
                return -r;
        if (!res)
                return -ESRCH;
        if (res->pw_uid == 0)
                return -EINVAL; /* cupsd refuses User root too */
        *ret_uid = res->pw_uid;
        return 0;
}

int backend_drop_privileges(uid_t uid) {
        gid_t gid = getgid(); /* cupsd's Group: it set our gid before running us */

        if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return -errno;
        /* Paranoia: there is no way back. */
        if (uid != 0 && setuid(0) == 0)
                return -EPERM;
        return 0;
}

int backend_exec(const InnerBackend *b, const char *device_uri, const char *argv0, int argc, char *argv[]) {
        _cleanup_free_ char **env = NULL, **args = NULL;
        _cleanup_free_ char *dev = NULL;
        size_t n_env = 0, o = 0;

        if (asprintf(&dev, "%s%s", DEVICE_URI_ENV, device_uri) < 0)
                return -ENOMEM;
        while (environ && environ[n_env])
                n_env++;
        if (n_env > ENV_MAX)
                return -E2BIG;
        env = calloc(n_env + 2, sizeof(char *));
        args = calloc((size_t) argc + 1, sizeof(char *));
        if (!env || !args)
                return -ENOMEM;
        for (size_t i = 0; i < n_env; i++)
                if (strncmp(environ[i], DEVICE_URI_ENV, strlen(DEVICE_URI_ENV)) != 0)
                        env[o++] = environ[i];
        env[o++] = dev;
        env[o] = NULL;

        args[0] = (char *) argv0;
        for (int i = 1; i < argc; i++)
                args[i] = argv[i];
        args[argc] = NULL;

        execveat(b->fd, "", args, env, AT_EMPTY_PATH);
        return -errno;
}
