/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's control verbs (docs/control.md). Requests are untrusted: every field is type-checked
 * and bounded before use. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "proc-info.h"
#include "fileio.h"
#include "sign.h"
#include "strutil.h"
#include "subject.h"

#include <pwd.h>

#define VERB_NOTE_MAX 1024         /* bytes of an admin note */
#define VERB_FILTER_MAX 256        /* bytes of a filter string */
#define VERB_EVENTS_PAGE 256       /* records fetched per refill of a streamed reply */

static int verb_status(ControlClient *c, json_object *req, void *userdata) {
        Manager *m = userdata;
        JournalStats st = {};
        (void) journal_get_stats(m->journal, &st);
        json_object *o = json_object_new_object(), *p = json_object_new_object(), *j = json_object_new_object();

        json_object_object_add(o, "version", json_object_new_string(MNGUARD_VERSION));
        json_object_object_add(o, "host_id", json_object_new_string(m->identity.host_id));
        mn_event_set_untrusted(o, "host_name", m->hostname);
        json_object_object_add(o, "pid", json_object_new_int((int) getpid()));
        json_object_object_add(o, "started_usec", json_object_new_uint64(m->start_usec));
        json_object_object_add(p, "serial", json_object_new_uint64(m->policy->serial));
        json_object_object_add(p, "name", json_object_new_string(m->policy->name));
        json_object_object_add(p, "mode", json_object_new_string(policy_mode_to_string(m->policy->mode)));
        json_object_object_add(p, "origin", json_object_new_string(m->policy_origin));
        json_object_object_add(o, "policy", p);
        json_object_object_add(j, "first_sequence", json_object_new_uint64(st.first_sequence));
        json_object_object_add(j, "last_sequence", json_object_new_uint64(st.last_sequence));
        json_object_object_add(j, "size_bytes", json_object_new_uint64(st.size_bytes));
        json_object_object_add(j, "pending", json_object_new_uint64(st.n_pending));
        json_object_object_add(j, "lost_total", json_object_new_uint64(st.n_lost_total));
        json_object_object_add(j, "acked_sequence", json_object_new_uint64(st.acked_sequence));
        json_object_object_add(j, "write_failures", json_object_new_uint64(st.n_write_failures));
        json_object_object_add(o, "journal", j);
        json_object_object_add(o, "clients", json_object_new_uint64(control_server_n_clients(m->control)));
        return control_client_reply_ok(c, o);
}

typedef struct EventsStream {
        JournalQuery q;
        char *action, *user, *device;
        uint64_t remaining; /* 0: unlimited */
        uint64_t count;
        bool unlimited;
} EventsStream;

static void events_stream_free(void *p) {
        EventsStream *s = p;
        if (!s)
                return;
        free(s->action);
        free(s->user);
        free(s->device);
        free(s);
}

typedef struct PageCtx {
        ControlClient *client;
        EventsStream *s;
        uint64_t n;
} PageCtx;

static int events_page_record(const JournalRecord *r, void *userdata) {
        PageCtx *ctx = userdata;
        int k = control_client_send_raw(ctx->client, r->json, r->json_len);
        if (k < 0)
                return k;
        ctx->s->q.has_after = true;
        ctx->s->q.after_usec = r->timestamp_usec;
        ctx->s->q.after_sequence = r->sequence;
        ctx->n++;
        return 0;
}

static int events_pump(ControlClient *c, void *state, void *userdata) {
        Manager *m = userdata;
        EventsStream *s = state;
        PageCtx ctx = { .client = c, .s = s };

        s->q.limit = VERB_EVENTS_PAGE;
        if (!s->unlimited && s->remaining < s->q.limit)
                s->q.limit = s->remaining;
        int r = s->q.limit > 0 ? journal_query(m->journal, &s->q, events_page_record, &ctx, NULL) : 0;
        if (r < 0)
                return r;
        s->count += ctx.n;
        if (!s->unlimited)
                s->remaining -= ctx.n;
        if (ctx.n == VERB_EVENTS_PAGE && (s->unlimited || s->remaining > 0))
                return 0; /* more to come */
        json_object *o = json_object_new_object();
        json_object_object_add(o, "end", json_object_new_boolean(true));
        json_object_object_add(o, "count", json_object_new_uint64(s->count));
        control_client_reply_ok(c, o);
        return 1;
}

static int verb_events(ControlClient *c, json_object *req, void *userdata) {
        const char *action, *user, *device, *order;
        uint64_t limit;
        EventsStream *s = calloc(1, sizeof(EventsStream));
        if (!s)
                return -ENOMEM;
        int r;
        if ((r = control_arg_u64(req, "since", &s->q.since_usec)) < 0 ||
            (r = control_arg_u64(req, "until", &s->q.until_usec)) < 0 ||
            (r = control_arg_u64(req, "limit", &limit)) < 0 ||
            (r = control_arg_string(req, "action", VERB_FILTER_MAX, &action)) < 0 ||
            (r = control_arg_string(req, "user", VERB_FILTER_MAX, &user)) < 0 ||
            (r = control_arg_string(req, "device", VERB_FILTER_MAX, &device)) < 0 ||
            (r = control_arg_string(req, "order", 16, &order)) < 0) {
                events_stream_free(s);
                return control_client_reply_error(c, EINVAL, "bad filter: since/until/limit are whole numbers, "
                                                  "action/user/device short strings");
        }
        s->action = action ? strdup(action) : NULL;
        s->user = user ? strdup(user) : NULL;
        s->device = device ? strdup(device) : NULL;
        s->q.action = s->action;
        s->q.user = s->user;
        s->q.device = s->device;
        s->q.order = order && streq(order, "desc") ? JOURNAL_ORDER_DESCENDING : JOURNAL_ORDER_ASCENDING;
        s->unlimited = limit == 0;
        s->remaining = limit;
        control_client_set_pump(c, events_pump, s, events_stream_free);
        return 0;
}

static int export_pump(ControlClient *c, void *state, void *userdata) {
        JournalExporter *e = state;
        for (int i = 0; i < VERB_EVENTS_PAGE; i++) {
                const char *line;
                size_t len;
                int r = journal_exporter_next(e, &line, &len);
                if (r < 0)
                        return r;
                if (r == 0) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "end", json_object_new_boolean(true));
                        control_client_reply_ok(c, o);
                        return 1;
                }
                r = control_client_send_raw(c, line, len);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void exporter_free(void *p) {
        journal_exporter_free(p);
}

static int verb_export(ControlClient *c, json_object *req, void *userdata) {
        Manager *m = userdata;
        JournalExportRange range = {};
        JournalExporter *e = NULL;
        if (control_arg_u64(req, "since", &range.since_usec) < 0 ||
            control_arg_u64(req, "until", &range.until_usec) < 0)
                return control_client_reply_error(c, EINVAL, "bad range: since/until are whole numbers (µs)");
        int r = journal_exporter_new(m->journal, &range, &e);
        if (r < 0)
                return r;
        control_client_set_pump(c, export_pump, e, exporter_free);
        return 0;
}

static int verb_verify(ControlClient *c, json_object *req, void *userdata) {
        Manager *m = userdata;
        JournalVerifyResult v = {};
        /* Commit first: verification covers what is committed. */
        (void) journal_flush(m->journal);
        int r = journal_verify(m->journal, &v);
        if (r < 0)
                return r;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "intact", json_object_new_boolean(v.intact));
        json_object_object_add(o, "records", json_object_new_uint64(v.n_records));
        json_object_object_add(o, "first_sequence", json_object_new_uint64(v.first_sequence));
        json_object_object_add(o, "last_sequence", json_object_new_uint64(v.last_sequence));
        json_object_object_add(o, "last_hash", json_object_new_string(v.last_hash));
        if (!v.intact) {
                json_object_object_add(o, "fault", json_object_new_string(journal_fault_to_string(v.fault)));
                json_object_object_add(o, "fault_sequence", json_object_new_uint64(v.fault_sequence));
                json_object_object_add(o, "detail", json_object_new_string(v.detail));
        }
        return control_client_reply_ok(c, o);
}

static int verb_note(ControlClient *c, json_object *req, void *userdata) {
        Manager *m = userdata;
        const char *text;
        uint64_t seq;
        if (control_arg_string(req, "text", VERB_NOTE_MAX, &text) < 0 || !text)
                return control_client_reply_error(c, EINVAL, "note needs \"text\", at most 1024 bytes of UTF-8");
        json_object *ev = mn_event_new("admin-note", MN_OUTCOME_SUCCESS, NULL);
        mn_event_set_untrusted(mn_event_section(ev, "mnguard"), "note", text);
        json_object *u = mn_event_section(ev, "user");
        json_object_object_add(u, "id", json_object_new_int64(control_client_uid(c)));
        int r = manager_log(m, ev, control_client_uid(c), &seq);
        if (r < 0)
                return r;
        return manager_reply_when_durable(m, c, seq);
}

/* A CUPS job, asked about by the mnguard backend (root). The job's strings are untrusted: bounded here,
 * sanitized into the event. Answered after the decision is on disk. */
static int verb_print_job(ControlClient *c, json_object *req, void *userdata) {
        Manager *m = userdata;
        const char *queue, *user, *title, *format, *sha256, *device_uri;
        uint64_t job_id, copies, pages;
        json_object *export_obj;
        bool export = json_object_object_get_ex(req, "export", &export_obj) && json_object_get_boolean(export_obj);

        if (control_arg_string(req, "queue", VERB_FILTER_MAX, &queue) < 0 || !queue ||
            control_arg_string(req, "user", VERB_FILTER_MAX, &user) < 0 ||
            control_arg_string(req, "title", VERB_NOTE_MAX, &title) < 0 ||
            control_arg_string(req, "format", VERB_FILTER_MAX, &format) < 0 ||
            control_arg_string(req, "sha256", 64, &sha256) < 0 ||
            control_arg_string(req, "device_uri_scheme", 64, &device_uri) < 0 ||
            control_arg_u64(req, "job_id", &job_id) < 0 ||
            control_arg_u64(req, "copies", &copies) < 0 || control_arg_u64(req, "pages", &pages) < 0)
                return control_client_reply_error(c, EINVAL, "print-job needs queue (string) and optional user, title, "
                                                  "format, sha256, job_id, copies, pages");

        _cleanup_(mn_subject_freep) MnSubject *subject = NULL;
        /* A CUPS user name is the submitter's claim: all digits ("0") is not taken for a uid. */
        if (user && user[strspn(user, "0123456789")] && mn_subject_new(user, &subject) < 0)
                subject = NULL; /* unknown user: decided as nobody, so user rules do not apply */

        /* saturating, as the backend computes it (print_job_total_pages()): a product that wrapped around
         * would pass a max-pages rule */
        uint64_t total = pages && copies ? (copies > UINT64_MAX / pages ? UINT64_MAX : pages * copies) : pages;
        PrintDecision d;
        policy_decide_print(m->policy, queue, subject ? &subject->subject : NULL,
                            total > UINT32_MAX ? UINT32_MAX : (uint32_t) total, &d);
        bool allow = d.access == PRINT_ALLOW || d.audit;

        json_object *ev = mn_event_new(d.access == PRINT_ALLOW ? "print-allowed" : "print-blocked",
                                       d.audit ? MN_OUTCOME_UNKNOWN : MN_OUTCOME_SUCCESS, d.reason);
        json_object *mg = mn_event_section(ev, "mnguard"), *pr = mn_event_section(ev, "print");
        mn_event_set_string(mg, "rule", d.rule);
        if (d.audit)
                mn_event_set_audit(ev, d.access == PRINT_ALLOW ? "allow" : "block");
        mn_event_set_untrusted(pr, "queue", queue);
        mn_event_set_untrusted(pr, "title", title);
        mn_event_set_untrusted(pr, "format", format);
        mn_event_set_untrusted(pr, "device_uri_scheme", device_uri);
        if (sha256)
                mn_event_set_untrusted(pr, "sha256", sha256);
        json_object_object_add(pr, "job_id", json_object_new_uint64(job_id));
        json_object_object_add(pr, "copies", json_object_new_uint64(copies));
        json_object_object_add(pr, "pages", json_object_new_uint64(pages));
        json_object_object_add(pr, "export", json_object_new_boolean(export));
        uid_t uid = (uid_t) -1;
        if (user) {
                json_object *u = mn_event_section(ev, "user");
                mn_event_set_untrusted(u, "name", user);
                struct passwd pw, *res = NULL;
                char buf[4096];
                if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) == 0 && res) {
                        uid = res->pw_uid;
                        json_object_object_add(u, "id", json_object_new_int64(uid));
                }
        }
        uint64_t seq;
        int r = manager_log(m, ev, uid, &seq);
        if (r < 0 && !allow)
                return r;

        json_object *o = json_object_new_object();
        json_object_object_add(o, "allow", json_object_new_boolean(allow));
        json_object_object_add(o, "rule", json_object_new_string(d.rule));
        json_object_object_add(o, "reason", json_object_new_string(d.reason));
        json_object_object_add(o, "audit", json_object_new_boolean(d.audit));
        if (r < 0)
                return control_client_reply_ok(c, o);
        /* answer once the decision is on disk */
        json_object_object_add(o, "sequence", json_object_new_uint64(seq));
        return manager_reply_when_durable_with(m, c, seq, o);
}

/* The session helper's view of the policy: what it needs to guard the clipboard and to word notices. */
static int verb_session_policy(ControlClient *c, json_object *req, void *userdata) {
        Manager *m = userdata;
        const Policy *p = m->policy;
        json_object *o = json_object_new_object(), *cb = json_object_new_object();
        json_object *prot = json_object_new_array(), *allowed = json_object_new_array();
        for (size_t i = 0; i < p->clipboard.n_protected_apps; i++)
                json_object_array_add(prot, json_object_new_string(p->clipboard.protected_apps[i]));
        for (size_t i = 0; i < p->clipboard.n_allowed_apps; i++)
                json_object_array_add(allowed, json_object_new_string(p->clipboard.allowed_apps[i]));
        json_object_object_add(cb, "protected-apps", prot);
        json_object_object_add(cb, "allowed-apps", allowed);
        json_object_object_add(cb, "allow-within-app", json_object_new_boolean(p->clipboard.allow_within_app));
        json_object_object_add(cb, "detect-individual-number",
                               json_object_new_boolean(p->clipboard.detect_individual_number));
        json_object_object_add(cb, "default", json_object_new_string(p->defaults.clipboard_allow ? "allow" : "block"));
        json_object_object_add(o, "clipboard", cb);
        json_object_object_add(o, "serial", json_object_new_uint64(p->serial));
        json_object_object_add(o, "name", json_object_new_string(p->name));
        json_object_object_add(o, "mode", json_object_new_string(policy_mode_to_string(p->mode)));
        if (p->contact)
                json_object_object_add(o, "contact", json_object_new_string(p->contact));
        return control_client_reply_ok(c, o);
}

/* The caller of a session verb, from SO_PEERCRED (never from the request): user id and name, pid. */
static uid_t set_caller(json_object *ev, ControlClient *c) {
        uid_t uid = control_client_uid(c);
        json_object *u = mn_event_section(ev, "user");
        json_object_object_add(u, "id", json_object_new_int64(uid));
        mn_event_set_untrusted(u, "name", mn_user_name(NULL, uid));
        json_object_object_add(mn_event_section(ev, "process"), "pid", json_object_new_int64(control_client_pid(c)));
        return uid;
}

/* A refusal made by a session's clipboard guard. Recorded for the caller's own uid only (the peer's
 * credentials, never anything the request says). Never carries clipboard content. */
#define VERB_APP_MAX 256
static int verb_clipboard_blocked(ControlClient *c, json_object *req, void *userdata) {
        Manager *m = userdata;
        const char *source, *target, *reason, *selection;
        uint64_t bytes, numbers;
        if (control_arg_string(req, "source_app", VERB_APP_MAX, &source) < 0 ||
            control_arg_string(req, "target_app", VERB_APP_MAX, &target) < 0 ||
            control_arg_string(req, "reason", VERB_APP_MAX, &reason) < 0 ||
            control_arg_string(req, "selection", 32, &selection) < 0 ||
            control_arg_u64(req, "bytes", &bytes) < 0 || control_arg_u64(req, "individual_numbers", &numbers) < 0)
                return control_client_reply_error(c, EINVAL, "clipboard-blocked takes source_app, target_app, reason, "
                                                  "selection (strings) and bytes, individual_numbers (numbers)");
        json_object *audit_obj;
        bool audit = json_object_object_get_ex(req, "audit", &audit_obj) && json_object_get_boolean(audit_obj);
        json_object *ev = mn_event_new("clipboard-blocked", audit ? MN_OUTCOME_UNKNOWN : MN_OUTCOME_SUCCESS, NULL);
        if (audit) {
                json_object *type = json_object_new_array();
                json_object_array_add(type, json_object_new_string("info"));
                json_object_object_add(mn_event_section(ev, "event"), "type", type);
                mn_event_set_string(mn_event_section(ev, "mnguard"), "would", "block");
        }
        if (reason)
                mn_event_set_untrusted(mn_event_section(ev, "event"), "reason", reason);
        json_object *cb = mn_event_section(ev, "clipboard");
        mn_event_set_untrusted(cb, "source_app", source);
        mn_event_set_untrusted(cb, "target_app", target);
        mn_event_set_untrusted(cb, "selection", selection);
        json_object_object_add(cb, "bytes", json_object_new_uint64(bytes));
        if (numbers)
                json_object_object_add(cb, "individual_numbers", json_object_new_uint64(numbers));
        uid_t uid = set_caller(ev, c);
        uint64_t seq;
        int r = manager_log(m, ev, uid, &seq);
        if (r < 0)
                return r;
        return manager_reply_when_durable(m, c, seq);
}

/* An offline terminal's policy update: a signed policy from a medium or a file, with the same checks as
 * a central one (trusted key, strictly greater serial). Root only; the paths come from root. */
static int verb_policy_import(ControlClient *c, json_object *req, void *userdata) {
        Manager *m = userdata;
        const char *policy_path, *sig_path;
        _cleanup_free_ char *data = NULL, *sig = NULL, *reason = NULL, *cfg = NULL, *cfg_sig = NULL;
        size_t size, sig_size;

        if (control_arg_string(req, "policy_path", 4096, &policy_path) < 0 || !policy_path ||
            control_arg_string(req, "signature_path", 4096, &sig_path) < 0 || !sig_path)
                return control_client_reply_error(c, EINVAL, "policy-import needs policy_path and signature_path");
        if (!m->require_signature || m->n_trusted == 0)
                return control_client_reply_error(c, ENOKEY, "no trusted policy keys (policy-signing.pub): import "
                                                  "refused");
        int r = read_full_file(policy_path, POLICY_MAX_FILE_SIZE, &data, &size);
        if (r < 0)
                return control_client_reply_error(c, r, "cannot read the policy file");
        r = read_full_file(sig_path, SIGN_MAX_TEXT, &sig, &sig_size);
        if (r < 0)
                return control_client_reply_error(c, r, "cannot read the signature file");

        r = manager_offer_policy(m, data, size, sig, sig_size, "import", &reason);
        if (r < 0)
                return control_client_reply_error(c, r, reason ?: "refused");
        bool applied = r > 0;
        if (applied) {
                /* Keep it as the configured policy too, so that a reload finds the same bytes. The
                 * signature goes first: a policy.yaml without its .sig would be refused. */
                if (asprintf(&cfg, "%s/policy.yaml", m->config_dir) < 0 ||
                    asprintf(&cfg_sig, "%s/policy.yaml.sig", m->config_dir) < 0)
                        return -ENOMEM;
                if ((r = write_file_atomic(cfg_sig, sig, sig_size, 0644)) < 0 ||
                    (r = write_file_atomic(cfg, data, size, 0644)) < 0)
                        log_warning_errno(r, "Imported policy in force, but cannot write it to %s: %m", m->config_dir);
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "applied", json_object_new_boolean(applied));
        json_object_object_add(o, "serial", json_object_new_uint64(m->policy->serial));
        json_object_object_add(o, "name", json_object_new_string(m->policy->name));
        return control_client_reply_ok(c, o);
}

/* A signed exception ticket (持ち出し申請), from a file root names. */
static int verb_exception_import(ControlClient *c, json_object *req, void *userdata) {
        Manager *m = userdata;
        const char *path;
        _cleanup_free_ char *data = NULL, *msg = NULL;
        size_t size;
        if (control_arg_string(req, "path", 4096, &path) < 0 || !path)
                return control_client_reply_error(c, EINVAL, "exception-import needs path");
        int r = read_full_file(path, EXCEPTION_MAX_FILE, &data, &size);
        if (r < 0)
                return control_client_reply_error(c, r, "cannot read the ticket file");
        r = manager_import_exception(m, data, size, &msg);
        if (r < 0)
                return control_client_reply_error(c, r, msg);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "message", json_object_new_string(msg ?: "granted"));
        return control_client_reply_ok(c, o);
}

/* mnguardctl print check found a queue without the mnguard wrapper (and maybe wrapped it). Root only.
 * Recorded once per queue and URI while the daemon runs, not on every check. */
#define VERB_UNGUARDED_MAX 256
static int verb_print_queue_unguarded(ControlClient *c, json_object *req, void *userdata) {
        Manager *m = userdata;
        const char *queue, *uri, *scheme;
        json_object *w;
        bool wrapped = json_object_object_get_ex(req, "wrapped", &w) && json_object_get_boolean(w);
        if (control_arg_string(req, "queue", VERB_FILTER_MAX, &queue) < 0 || !queue ||
            control_arg_string(req, "device_uri", VERB_NOTE_MAX, &uri) < 0 ||
            control_arg_string(req, "device_uri_scheme", 64, &scheme) < 0)
                return control_client_reply_error(c, EINVAL, "print-queue-unguarded needs queue, device_uri, "
                                                  "device_uri_scheme, wrapped");
        static char *seen[VERB_UNGUARDED_MAX];
        static size_t n_seen;
        _cleanup_free_ char *key = NULL;
        if (asprintf(&key, "%s\n%s\n%d", queue, uri ?: "", wrapped) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n_seen; i++)
                if (streq(seen[i], key))
                        return control_client_reply_ok(c, json_object_new_object()); /* recorded already */
        if (n_seen < VERB_UNGUARDED_MAX)
                seen[n_seen++] = TAKE_PTR(key);

        json_object *ev = mn_event_new("print-queue-unguarded", wrapped ? MN_OUTCOME_SUCCESS : MN_OUTCOME_FAILURE,
                                       wrapped ? "queue had no mnguard wrapper; wrapped" : "queue has no mnguard wrapper");
        json_object *pr = mn_event_section(ev, "print");
        mn_event_set_untrusted(pr, "queue", queue);
        mn_event_set_untrusted(pr, "device_uri", uri);
        mn_event_set_untrusted(pr, "device_uri_scheme", scheme);
        json_object_object_add(pr, "wrapped", json_object_new_boolean(wrapped));
        uint64_t seq;
        int r = manager_log(m, ev, (uid_t) -1, &seq);
        if (r < 0)
                return r;
        return manager_reply_when_durable(m, c, seq);
}

/* A session's clipboard guard cannot guard (Wayland without a data-control protocol, no X display):
 * recorded for the caller's uid, so responders know that session's clipboard was not controlled. */
static int verb_clipboard_unguarded(ControlClient *c, json_object *req, void *userdata) {
        Manager *m = userdata;
        const char *reason;
        if (control_arg_string(req, "reason", VERB_APP_MAX, &reason) < 0)
                return control_client_reply_error(c, EINVAL, "clipboard-unguarded takes a reason string");
        json_object *ev = mn_event_new("clipboard-unguarded", MN_OUTCOME_FAILURE, NULL);
        if (reason)
                mn_event_set_untrusted(mn_event_section(ev, "event"), "reason", reason);
        uid_t uid = set_caller(ev, c);
        uint64_t seq;
        int r = manager_log(m, ev, uid, &seq);
        if (r < 0)
                return r;
        return manager_reply_when_durable(m, c, seq);
}

static int verb_subscribe(ControlClient *c, json_object *req, void *userdata) {
        control_client_subscribe(c);
        return control_client_reply_ok(c, NULL);
}

const ControlVerb manager_verbs[] = {
        { "status", CONTROL_ACCESS_ANY, verb_status },
        { "events", CONTROL_ACCESS_AUDIT, verb_events },
        { "export", CONTROL_ACCESS_AUDIT, verb_export },
        { "verify", CONTROL_ACCESS_AUDIT, verb_verify },
        { "note", CONTROL_ACCESS_ROOT, verb_note },
        { "subscribe", CONTROL_ACCESS_ANY, verb_subscribe },
        { "print-job", CONTROL_ACCESS_ROOT, verb_print_job },
        { "print-queue-unguarded", CONTROL_ACCESS_ROOT, verb_print_queue_unguarded },
        { "policy-import", CONTROL_ACCESS_ROOT, verb_policy_import },
        { "exception-import", CONTROL_ACCESS_ROOT, verb_exception_import },
        { "session-policy", CONTROL_ACCESS_ANY, verb_session_policy },
        { "clipboard-blocked", CONTROL_ACCESS_ANY, verb_clipboard_blocked },
        { "clipboard-unguarded", CONTROL_ACCESS_ANY, verb_clipboard_unguarded },
};
const size_t manager_n_verbs = ELEMENTSOF(manager_verbs);
