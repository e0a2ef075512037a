/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checks before a policy is published or a ticket queued (publish.h). */
#include "publish.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exception.h"
#include "policy.h"
#include "server.h"
#include "sign-io.h"
#include "strutil.h"

_printf_(5, 6) static int fail(PublishError *err, unsigned status, const char *code, unsigned line, const char *fmt, ...) {
        va_list ap;
        err->status = status;
        err->code = code;
        err->line = line;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return status == 503 ? -EAGAIN : -EINVAL;
}

static int storage_fail(PublishError *err, int r) {
        if (storage_error_is_transient(r))
                return fail(err, 503, "storage-unavailable", 0, "the database is unavailable; try again later");
        return fail(err, 500, "internal", 0, "the database refused the change: %s", strerror(-r));
}

int publish_load_trusted(const char *dir, SignPublicKey **ret, size_t *ret_n) {
        char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, COLLECTOR_TRUST_FILE) < 0)
                return -ENOMEM;
        int r = sign_load_trusted(path, ret, ret_n);
        free(path);
        return r;
}

static int check_signature(const SignPublicKey *trusted, size_t n_trusted, SignContext ctx, const char *data,
                           size_t size, const char *sig, size_t sig_size, const char **ret_keyid, PublishError *err) {
        if (n_trusted == 0)
                return fail(err, 400, "no-trusted-keys", 0, "the collector trusts no signing key (%s in its directory)",
                            COLLECTOR_TRUST_FILE);
        int r = sign_verify(trusted, n_trusted, ctx, data, size, sig, sig_size, ret_keyid);
        if (r < 0)
                return fail(err, 400, "bad-signature", 0, "%s", sign_error_reason(r));
        return 0;
}

int publish_policy(Storage *s, const SignPublicKey *trusted, size_t n_trusted, const char *group, const char *data,
                   size_t size, const char *sig, size_t sig_size, const char *by, PolicyRecord *ret, PublishError *err) {
        PolicyDiagnostics d;
        Policy *p = NULL;
        const char *keyid = NULL;
        int r;

        *err = (PublishError) {};
        if (!group_name_is_valid(group))
                return fail(err, 400, "bad-group", 0, "a group name is 1-%d characters of A-Z a-z 0-9 _ . -", GROUP_NAME_MAX);
        if (size > POLICY_MAX_FILE_SIZE)
                return fail(err, 400, "bad-policy", 0, "the policy is larger than %d bytes", POLICY_MAX_FILE_SIZE);
        r = policy_parse(data, size, &p, &d);
        if (r == -ENOMEM) {
                policy_diagnostics_clear(&d);
                return r;
        }
        if (r < 0) {
                if (d.n > 0) {
                        fail(err, 400, "bad-policy", d.items[0].line, "line %u column %u: %s%s", d.items[0].line,
                             d.items[0].column, d.items[0].message, d.n > 1 ? " (and more)" : "");
                        err->column = d.items[0].column;
                        snprintf(err->detail, sizeof(err->detail), "%s", d.items[0].message);
                }
                else
                        fail(err, 400, "bad-policy", 0, "invalid policy");
                policy_diagnostics_clear(&d);
                return -EINVAL;
        }
        policy_diagnostics_clear(&d);
        r = check_signature(trusted, n_trusted, SIGN_CONTEXT_POLICY, data, size, sig, sig_size, &keyid, err);
        if (r < 0) {
                policy_free(p);
                return r;
        }
        PolicyRecord rec = { .serial = p->serial };
        snprintf(rec.group, sizeof(rec.group), "%s", group);
        snprintf(rec.name, sizeof(rec.name), "%s", p->name ?: "");
        snprintf(rec.key_id, sizeof(rec.key_id), "%s", keyid ?: "");
        snprintf(rec.published_by, sizeof(rec.published_by), "%s", by);
        policy_free(p);
        rec.published_usec = now_realtime_usec();
        rec.data = (char *) data;
        rec.data_len = size;
        rec.signature = (char *) sig;
        rec.signature_len = sig_size;

        r = storage_policy_publish(s, &rec);
        if (r == -ESTALE) {
                PolicyRecord cur = {};
                if (storage_policy_latest(s, group, false, &cur) < 0)
                        cur.serial = 0;
                return fail(err, 409, "stale-serial", 0, "serial %llu is not greater than %llu, the newest published for group %s",
                            (unsigned long long) rec.serial, (unsigned long long) cur.serial, group);
        }
        if (r == -ERANGE)
                return fail(err, 400, "bad-policy", 0, "serial %llu is too large", (unsigned long long) rec.serial);
        if (r < 0)
                return storage_fail(err, r);
        rec.data = rec.signature = NULL;
        rec.data_len = rec.signature_len = 0;
        *ret = rec;
        return 0;
}

int publish_ticket(Storage *s, const SignPublicKey *trusted, size_t n_trusted, const char *data, size_t size,
                   const char *by, TicketRecord *ret, PublishError *err) {
        Exception e = {};
        const char *reason = NULL;
        int r;

        *err = (PublishError) {};
        if (n_trusted == 0)
                return fail(err, 400, "no-trusted-keys", 0, "the collector trusts no signing key (%s in its directory)",
                            COLLECTOR_TRUST_FILE);
        if (size > EXCEPTION_MAX_FILE)
                return fail(err, 400, "bad-ticket", 0, "the ticket is larger than %d bytes", EXCEPTION_MAX_FILE);
        r = exception_parse(data, size, trusted, n_trusted, &e, &reason);
        if (r == -ENOMEM)
                return r;
        if (r == -EKEYREJECTED || r == -ENOKEY) {
                exception_clear(&e);
                return fail(err, 400, "bad-signature", 0, "%s", sign_error_reason(r));
        }
        if (r < 0) {
                exception_clear(&e);
                return fail(err, 400, "bad-ticket", 0, "%s", reason ?: "malformed ticket");
        }
        TicketRecord t = { .data = (char *) data, .data_len = size };
        snprintf(t.host_id, sizeof(t.host_id), "%s", e.host_id);
        snprintf(t.ticket_id, sizeof(t.ticket_id), "%s", e.id);
        snprintf(t.queued_by, sizeof(t.queued_by), "%s", by);
        exception_clear(&e);
        t.queued_usec = now_realtime_usec();
        r = storage_ticket_queue(s, &t);
        if (r == -EEXIST)
                return fail(err, 409, "ticket-queued", 0, "ticket %s is already queued", t.ticket_id);
        if (r < 0)
                return storage_fail(err, r);
        t.data = NULL;
        t.data_len = 0;
        *ret = t;
        return 0;
}
