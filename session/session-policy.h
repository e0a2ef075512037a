/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the session helper knows of the policy: the daemon's "session-policy" reply (docs/control.md),
 * checked and bounded (the daemon is trusted, the bytes on the socket are still checked), or the
 * built-in defaults until the daemon has answered. Pure: no I/O, no logging. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_POLICY_MAX_APPS 1024     /* entries in one list (the policy's own limit) */
#define SESSION_POLICY_APP_MAX 256       /* bytes of one application name */
#define SESSION_POLICY_TEXT_MAX 1024     /* bytes of the policy name and contact */

typedef struct SessionPolicy {
        bool from_daemon;                /* false: built-in defaults (daemon not reached yet) */
        char **protected_apps;
        size_t n_protected_apps;
        char **allowed_apps;
        size_t n_allowed_apps;
        bool allow_within_app;
        bool detect_individual_number;
        bool default_allow;              /* defaults.clipboard: export from protected apps */
        bool audit;                      /* mode: audit — decide and record, enforce nothing */
        uint64_t serial;
        char *name;
        char *contact;                   /* 申請先, may be NULL */
} SessionPolicy;

/* The defaults that hold while the daemon has not answered: fail closed as the policy's own
 * defaults do (detect-individual-number on, export from protected apps blocked), no apps known. */
int session_policy_new_default(SessionPolicy **ret);

/* Parses a session-policy reply ({"ok":true,"clipboard":{…},"serial":…}). -EBADMSG when a field is
 * missing, of the wrong type, or over a bound. */
int session_policy_from_json(json_object *reply, SessionPolicy **ret);

SessionPolicy *session_policy_free(SessionPolicy *p);
static inline void session_policy_freep(SessionPolicy **p) {
        session_policy_free(*p);
}

/* Application names are WM_CLASS class names, compared ASCII-case-insensitively. */
bool session_app_name_equal(const char *a, const char *b);
bool session_policy_app_protected(const SessionPolicy *p, const char *app_class);
bool session_policy_app_allowed(const SessionPolicy *p, const char *app_class);
