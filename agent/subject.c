/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PolicySubject for a user: name and group names from NSS. */
#include "subject.h"

#include <stdio.h>
#include <systemd/sd-login.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "strutil.h"

/* Scratch buffer for getpwnam_r()/getgrgid_r(): grows on ERANGE up to this (big LDAP groups). */
#define NSS_BUFFER_MAX (4 * 1024 * 1024)

MnSubject *mn_subject_free(MnSubject *s) {
        if (!s)
                return NULL;
        free(s->user);
        for (size_t i = 0; i < s->n_groups; i++)
                free(s->groups[i]);
        free(s->groups);
        free(s);
        return NULL;
}

static bool is_uid(const char *s) {
        uint64_t v;
        return parse_u64(s, &v) >= 0 && v < (uid_t) -1;
}

/* Calls getpwnam_r() or getpwuid_r(), growing the buffer as needed. */
static int lookup_user(const char *name, char **ret_name, gid_t *ret_gid) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 4096;

        for (;;) {
                struct passwd pw, *result = NULL;
                int r;

                free(buf);
                buf = malloc(size);
                if (!buf)
                        return -ENOMEM;

                if (is_uid(name)) {
                        uint64_t uid;
                        (void) parse_u64(name, &uid);
                        r = getpwuid_r((uid_t) uid, &pw, buf, size, &result);
                } else
                        r = getpwnam_r(name, &pw, buf, size, &result);
                if (r == ERANGE && size < NSS_BUFFER_MAX) {
                        size *= 2;
                        continue;
                }
                if (r != 0)
                        return -r;
                if (!result)
                        return -ESRCH;

                char *n = untrusted_sanitize(pw.pw_name, strlen(pw.pw_name), MN_UNTRUSTED_MAX);
                if (!n)
                        return -ENOMEM;
                *ret_name = n;
                *ret_gid = pw.pw_gid;
                return 0;
        }
}

/* The name of a group, or NULL in *ret when it has none. */
static int lookup_group(gid_t gid, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 4096;

        for (;;) {
                struct group gr, *result = NULL;
                int r;

                free(buf);
                buf = malloc(size);
                if (!buf)
                        return -ENOMEM;

                r = getgrgid_r(gid, &gr, buf, size, &result);
                if (r == ERANGE && size < NSS_BUFFER_MAX) {
                        size *= 2;
                        continue;
                }
                if (r != 0 || !result || isempty(gr.gr_name)) {
                        *ret = NULL;
                        return r == ENOMEM ? -ENOMEM : 0;
                }
                char *n = untrusted_sanitize(gr.gr_name, strlen(gr.gr_name), MN_UNTRUSTED_MAX);
                if (!n)
                        return -ENOMEM;
                *ret = n;
                return 0;
        }
}

int mn_subject_new(const char *user, MnSubject **ret) {
        _cleanup_(mn_subject_freep) MnSubject *s = NULL;
        _cleanup_free_ gid_t *gids = NULL;
        gid_t primary = 0;
        int n = 64, r;

        if (isempty(user))
                return -EINVAL;

        s = calloc(1, sizeof(MnSubject));
        if (!s)
                return -ENOMEM;
        r = lookup_user(user, &s->user, &primary);
        if (r < 0)
                return r;

        for (;;) {
                int want = n;
                free(gids);
                gids = calloc((size_t) n, sizeof(gid_t));
                if (!gids)
                        return -ENOMEM;
                if (getgrouplist(s->user, primary, gids, &n) >= 0)
                        break;
                /* n now says how many are needed; glibc leaves it unchanged in some NSS failures. */
                if (n <= want)
                        n = want * 2;
                if (n > MN_SUBJECT_MAX_GROUPS)
                        return -E2BIG;
        }

        s->groups = calloc((size_t) n ?: 1, sizeof(char *));
        if (!s->groups)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                char *name;
                r = lookup_group(gids[i], &name);
                if (r < 0)
                        return r;
                if (name)
                        s->groups[s->n_groups++] = name;
        }

        s->subject = (PolicySubject) {
                .user = s->user,
                .groups = (const char *const *) s->groups,
                .n_groups = s->n_groups,
        };
        *ret = TAKE_PTR(s);
        return 0;
}

MnSubject *mn_subject_new_active(void) {
        char uid_text[16];
        MnSubject *s = NULL;
        uid_t uid;

        if (sd_seat_get_active("seat0", NULL, &uid) < 0)
                return NULL;
        snprintf(uid_text, sizeof(uid_text), "%u", (unsigned) uid);
        if (mn_subject_new(uid_text, &s) < 0)
                return NULL;
        return s;
}
