/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "session-policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strutil.h"

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

SessionPolicy *session_policy_free(SessionPolicy *p) {
        if (!p)
                return NULL;
        strv_free(p->protected_apps, p->n_protected_apps);
        strv_free(p->allowed_apps, p->n_allowed_apps);
        free(p->name);
        free(p->contact);
        free(p);
        return NULL;
}

int session_policy_new_default(SessionPolicy **ret) {
        SessionPolicy *p = calloc(1, sizeof(SessionPolicy));
        if (!p)
                return -ENOMEM;
        p->allow_within_app = true;
        p->detect_individual_number = true;
        *ret = p;
        return 0;
}

static bool text_ok(const char *s, size_t n, size_t max) {
        return n <= max && strlen(s) == n && utf8_is_valid(s, n, NULL);
}

static int get_text(json_object *o, const char *key, size_t max, bool required, char **ret) {
        json_object *v;
        *ret = NULL;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return required ? -EBADMSG : 0;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        const char *s = json_object_get_string(v);
        if (!text_ok(s, (size_t) json_object_get_string_len(v), max))
                return -EBADMSG;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int get_bool(json_object *o, const char *key, bool def, bool *ret) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v)) {
                *ret = def;
                return 0;
        }
        if (!json_object_is_type(v, json_type_boolean))
                return -EBADMSG;
        *ret = json_object_get_boolean(v);
        return 0;
}

static int get_apps(json_object *o, const char *key, char ***ret, size_t *ret_n) {
        json_object *a;
        *ret = NULL;
        *ret_n = 0;
        if (!json_object_object_get_ex(o, key, &a))
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return -EBADMSG;
        size_t n = json_object_array_length(a);
        if (n > SESSION_POLICY_MAX_APPS)
                return -EBADMSG;
        if (n == 0)
                return 0;
        char **v = calloc(n, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                const char *s = json_object_get_string(e);
                if (!json_object_is_type(e, json_type_string) ||
                    !text_ok(s, (size_t) json_object_get_string_len(e), SESSION_POLICY_APP_MAX)) {
                        strv_free(v, i);
                        return -EBADMSG;
                }
                v[i] = strdup(s);
                if (!v[i]) {
                        strv_free(v, i);
                        return -ENOMEM;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int session_policy_from_json(json_object *reply, SessionPolicy **ret) {
        _cleanup_(session_policy_freep) SessionPolicy *p = NULL;
        json_object *cb, *v;
        int r;

        if (!json_object_is_type(reply, json_type_object) ||
            !json_object_object_get_ex(reply, "clipboard", &cb) || !json_object_is_type(cb, json_type_object))
                return -EBADMSG;
        r = session_policy_new_default(&p);
        if (r < 0)
                return r;
        p->from_daemon = true;
        if ((r = get_apps(cb, "protected-apps", &p->protected_apps, &p->n_protected_apps)) < 0 ||
            (r = get_apps(cb, "allowed-apps", &p->allowed_apps, &p->n_allowed_apps)) < 0 ||
            (r = get_bool(cb, "allow-within-app", true, &p->allow_within_app)) < 0 ||
            (r = get_bool(cb, "detect-individual-number", true, &p->detect_individual_number)) < 0)
                return r;
        if (json_object_object_get_ex(cb, "default", &v)) {
                if (!json_object_is_type(v, json_type_string))
                        return -EBADMSG;
                const char *d = json_object_get_string(v);
                if (streq(d, "allow"))
                        p->default_allow = true;
                else if (!streq(d, "block"))
                        return -EBADMSG;
        }
        if (json_object_object_get_ex(reply, "serial", &v)) {
                if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                        return -EBADMSG;
                p->serial = json_object_get_uint64(v);
        }
        if (json_object_object_get_ex(reply, "mode", &v)) {
                if (!json_object_is_type(v, json_type_string))
                        return -EBADMSG;
                p->audit = streq(json_object_get_string(v), "audit");
        }
        if ((r = get_text(reply, "name", SESSION_POLICY_TEXT_MAX, false, &p->name)) < 0 ||
            (r = get_text(reply, "contact", SESSION_POLICY_TEXT_MAX, false, &p->contact)) < 0)
                return r;
        if (p->contact && !p->contact[0])
                p->contact = (free(p->contact), NULL);
        *ret = TAKE_PTR(p);
        return 0;
}

static char ascii_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

bool session_app_name_equal(const char *a, const char *b) {
        if (!a || !b)
                return false;
        for (; *a && *b; a++, b++)
                if (ascii_lower(*a) != ascii_lower(*b))
                        return false;
        return *a == *b;
}

static bool listed(char *const *v, size_t n, const char *app) {
        if (isempty(app))
                return false;
        for (size_t i = 0; i < n; i++)
                if (session_app_name_equal(v[i], app))
                        return true;
        return false;
}

bool session_policy_app_protected(const SessionPolicy *p, const char *app_class) {
        return listed(p->protected_apps, p->n_protected_apps, app_class);
}

bool session_policy_app_allowed(const SessionPolicy *p, const char *app_class) {
        return listed(p->allowed_apps, p->n_allowed_apps, app_class);
}
