/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Who a policy decision is for: a user and the names of their groups, from NSS. */

#include <stddef.h>

#include "policy.h"

/* Groups per user kept (NGROUPS_MAX is 65536): a user in more gives -E2BIG. */
#define MN_SUBJECT_MAX_GROUPS 4096

typedef struct MnSubject {
        char *user;
        char **groups;
        size_t n_groups;
        PolicySubject subject; /* points into the fields above */
} MnSubject;

/* Resolves a user name (or a numeric uid) with getpwnam_r() and getgrouplist(). Groups without a
 * name are left out. Returns 0, -ESRCH for an unknown user, -E2BIG, -ENOMEM or another errno. */
int mn_subject_new(const char *user, MnSubject **ret);

/* The user of the active session on seat0, when logind knows one; NULL when nobody is logged in,
 * without logind, or when the user cannot be resolved: rules limited to users then do not apply
 * (the conservative answer). */
MnSubject *mn_subject_new_active(void);
MnSubject *mn_subject_free(MnSubject *s);
static inline void mn_subject_freep(MnSubject **p) { mn_subject_free(*p); }
