/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Running the real backend behind a wrapped queue: only a file in the backend directory the mnguard
 * backend itself was started from, exactly the file that was checked, with the privileges cupsd would
 * have given it. */

#include <stdbool.h>
#include <sys/types.h>

#define BACKEND_CUPS_FILES_CONF "cups-files.conf"
#define BACKEND_CUPS_USER_DEFAULT "lp"          /* cupsd's User when cups-files.conf names none */
#define BACKEND_CONF_MAX       (256 * 1024)     /* bytes of cups-files.conf read */

typedef struct InnerBackend {
        int fd;         /* O_PATH to the checked file, for execveat() */
        bool as_root;   /* cupsd would run it as root: no group write, no permissions for others */
} InnerBackend;

/* Opens the directory holding our own executable (/proc/self/exe): the CUPS backend directory. It must
 * be owned by root (or by us) and writable by nobody else. Returns an O_PATH fd or a negative errno. */
int backend_dir_open(void);

/* Opens the backend named scheme in dir_fd: symlinks are followed as cupsd follows them, and the file
 * must be a regular, owner-executable file owned by root (or by us), not group or world writable.
 * Returns 0, -ENOENT (no such backend), -EPERM (not trustworthy) or another negative errno. */
int backend_open(int dir_fd, const char *scheme, InnerBackend *ret);

/* The user cupsd runs unprivileged backends as: "User" in CUPS_SERVERROOT/cups-files.conf, else lp. */
int backend_cups_user(uid_t *ret_uid);

/* Becomes uid with our current gid as the only group, as cupsd does for a non-root backend. */
int backend_drop_privileges(uid_t uid);

/* Replaces this process with the backend; argv[0] and DEVICE_URI set to device_uri_argv0 and device_uri.
 * Returns only on failure, with a negative errno. */
int backend_exec(const InnerBackend *b, const char *device_uri, const char *argv0, int argc, char *argv[]);
