/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Opening a storage by its spec, and small helpers the backends share. */
#include "storage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const StorageOps *const backends[] = {
        &storage_sqlite_ops,
        &storage_postgresql_ops,
};

int storage_open(const char *spec, unsigned n_connections, Storage **ret) {
        if (!spec || strlen(spec) > STORAGE_SPEC_MAX)
                return -EINVAL;
        const char *colon = strchr(spec, ':');
        if (!colon || colon == spec)
                return -EINVAL;
        size_t n = (size_t) (colon - spec);
        for (size_t i = 0; i < ELEMENTSOF(backends); i++)
                if (strlen(backends[i]->scheme) == n && memcmp(backends[i]->scheme, spec, n) == 0) {
                        if (isempty(colon + 1))
                                return -EINVAL;
                        return backends[i]->open(colon + 1, n_connections ?: 1, ret);
                }
        return -EPROTONOSUPPORT;
}

Storage *storage_close(Storage *s) {
        if (s)
                s->ops->close(s);
        return NULL;
}

bool storage_error_is_transient(int r) {
        return r == -ENOTCONN || r == -ECONNRESET || r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EAGAIN ||
               r == -EBUSY || r == -EHOSTUNREACH || r == -ECONNABORTED || r == -ENOLCK;
}

void host_state_done(HostState *h) {
        free(h->host_name);
        free(h->group);
        h->host_name = h->group = NULL;
}

void policy_record_done(PolicyRecord *p) {
        free(p->data);
        free(p->signature);
        p->data = p->signature = NULL;
        p->data_len = p->signature_len = 0;
}

void published_state_done(PublishedState *p) {
        free(p->groups);
        free(p->serials);
        *p = (PublishedState) {};
}

static const char *const chain_states[_CHAIN_STATE_MAX] = {
        [CHAIN_EMPTY] = "empty",
        [CHAIN_INTACT] = "intact",
        [CHAIN_GAP] = "gap",
        [CHAIN_BROKEN] = "broken",
};

const char *chain_state_to_string(ChainState s) {
        return s < _CHAIN_STATE_MAX ? chain_states[s] : "?";
}

static const char *const alert_kinds[_ALERT_KIND_MAX] = {
        [ALERT_GAP] = "gap",
        [ALERT_LINK] = "link",
        [ALERT_HASH] = "hash",
        [ALERT_CONFLICT] = "conflict",
        [ALERT_START] = "start",
        [ALERT_ENROLLED] = "enrolled",
};

const char *alert_kind_to_string(AlertKind k) {
        return k < _ALERT_KIND_MAX ? alert_kinds[k] : "?";
}

AlertKind alert_kind_from_string(const char *s) {
        for (AlertKind k = 0; k < _ALERT_KIND_MAX; k++)
                if (streq(alert_kinds[k], s))
                        return k;
        return ALERT_GAP;
}

bool alert_kind_breaks_chain(AlertKind k) {
        return k == ALERT_LINK || k == ALERT_HASH || k == ALERT_CONFLICT;
}

const char *operator_role_to_string(OperatorRole r) {
        switch (r) {
        case ROLE_AUDITOR: return "auditor";
        case ROLE_ADMIN: return "admin";
        default: return "none";
        }
}

int operator_role_from_string(const char *s, OperatorRole *ret) {
        if (streq(s, "auditor"))
                *ret = ROLE_AUDITOR;
        else if (streq(s, "admin"))
                *ret = ROLE_ADMIN;
        else
                return -EINVAL;
        return 0;
}

bool host_id_is_valid(const char *s) {
        if (!s || strlen(s) != HOST_ID_LEN)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

bool group_name_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > GROUP_NAME_MAX)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      *p == '_' || *p == '.' || *p == '-'))
                        return false;
        return true;
}

ChainState host_chain_state(const HostState *h) {
        if (h->n_broken > 0)
                return CHAIN_BROKEN;
        if (h->last_sequence == 0)
                return CHAIN_EMPTY;
        if (h->contiguous_sequence < h->last_sequence)
                return CHAIN_GAP;
        return CHAIN_INTACT;
}

#define GLOB_MAX 256

int glob_to_regex(const char *glob, char **ret) {
        size_t n = strlen(glob);
        if (n > GLOB_MAX)
                return -EINVAL;
        /* each character becomes at most 2 bytes, plus ^ $ NUL */
        _cleanup_free_ char *out = malloc(2 * n + 3);
        if (!out)
                return -ENOMEM;
        size_t o = 0;
        out[o++] = '^';
        for (size_t i = 0; i < n; i++) {
                char c = glob[i];
                if (c == '*') {
                        out[o++] = '.';
                        out[o++] = '*';
                } else if (c == '?')
                        out[o++] = '.';
                else if (c == '[') {
                        /* a bracket expression up to its closing ']'; "!" negates as in SQLite's GLOB */
                        size_t j = i + 1;
                        if (j < n && glob[j] == '!')
                                j++;
                        if (j < n && glob[j] == ']')
                                j++;
                        while (j < n && glob[j] != ']')
                                j++;
                        if (j >= n) { /* no closing bracket: a literal '[' */
                                out[o++] = '\\';
                                out[o++] = '[';
                                continue;
                        }
                        out[o++] = '[';
                        size_t k = i + 1;
                        if (glob[k] == '!') {
                                out[o++] = '^';
                                k++;
                        }
                        for (; k < j; k++) {
                                if (glob[k] == '\\' || glob[k] == '[') /* no classes or escapes inside */
                                        out[o++] = '\\';
                                out[o++] = glob[k];
                        }
                        out[o++] = ']';
                        i = j;
                } else {
                        if (strchr(".^$+(){}|\\[]", c))
                                out[o++] = '\\';
                        out[o++] = c;
                }
        }
        out[o++] = '$';
        out[o] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

static bool is_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool device_is_vidpid(const char *device, char out[static 10]) {
        if (strlen(device) != 9 || device[4] != ':')
                return false;
        for (int i = 0; i < 9; i++) {
                if (i == 4)
                        continue;
                if (!is_hex(device[i]))
                        return false;
        }
        for (int i = 0; i < 9; i++)
                out[i] = (char) (device[i] >= 'A' && device[i] <= 'F' ? device[i] - 'A' + 'a' : device[i]);
        out[9] = 0;
        return true;
}
