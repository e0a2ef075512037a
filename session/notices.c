/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "notices.h"

#include <errno.h>
#include <glib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "macro.h"
#include "strutil.h"

Notice *notice_free(Notice *n) {
        if (!n)
                return NULL;
        free(n->what);
        free(n->rule);
        free(n->target);
        free(n->title);
        free(n->key);
        free(n);
        return NULL;
}

/* ---- from records ---- */

static json_object *section(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_object) ? v : NULL;
}

static const char *field(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static bool field_i64(json_object *o, const char *key, int64_t *ret) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return false;
        *ret = json_object_get_int64(v);
        return true;
}

/* Untrusted text as it may be shown: valid UTF-8, capped, no control or bidi-override characters
 * (they could make a device's name pose as something else). Returns NULL for NULL or empty. */
static char *clean(const char *s) {
        if (isempty(s))
                return NULL;
        _cleanup_free_ char *t = untrusted_sanitize(s, strlen(s), NOTICE_FIELD_MAX);
        if (!t)
                return NULL;
        GString *out = g_string_sized_new(strlen(t));
        for (const char *p = t; *p;) {
                gunichar c = g_utf8_get_char(p);
                bool bad = c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x200b && c <= 0x200f) ||
                           (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
                if (bad)
                        g_string_append_c(out, ' ');
                else
                        g_string_append_len(out, p, g_utf8_next_char(p) - p);
                p = g_utf8_next_char(p);
        }
        char *r = strdup(out->str);
        g_string_free(out, TRUE);
        return r;
}

static int notice_new(NoticeKind kind, Notice **ret) {
        Notice *n = calloc(1, sizeof(Notice));
        if (!n)
                return -ENOMEM;
        n->kind = kind;
        *ret = n;
        return 0;
}

static char *device_label(json_object *dev) {
        const char *vendor = field(dev, "vendor"), *product = field(dev, "product");
        _cleanup_free_ char *model = clean(field(dev, "model")), *manufacturer = clean(field(dev, "manufacturer"));
        _cleanup_free_ char *v = clean(vendor), *p = clean(product);
        char *s = NULL;
        const char *name = model ?: manufacturer;
        int r;
        if (name && v && p)
                r = asprintf(&s, "%s (%s:%s)", name, v, p);
        else if (name)
                r = asprintf(&s, "%s", name);
        else if (v && p)
                r = asprintf(&s, "%s:%s", v, p);
        else
                r = asprintf(&s, "%s", "USB");
        return r < 0 ? NULL : s;
}

int notice_from_event(json_object *record, uid_t self_uid, pid_t self_pid, Notice **ret) {
        _cleanup_(notice_freep) Notice *n = NULL;
        json_object *ev = section(record, "event"), *mg = section(record, "mnguard"), *user = section(record, "user");
        const char *action = field(ev, "action"), *outcome = field(ev, "outcome");
        int64_t id;
        int r;

        *ret = NULL;
        if (!action)
                return 0;
        /* the daemon sends a user only their own events; root's helper gets everyone's */
        if (field_i64(user, "id", &id) && id >= 0 && (uid_t) id != self_uid)
                return 0;
        /* audit mode: decided and recorded, nothing enforced, the user is not bothered */
        if (outcome && streq(outcome, "unknown"))
                return 0;

        if (streq(action, "device-blocked") || streq(action, "device-read-only") || streq(action, "device-allowed")) {
                NoticeKind k = streq(action, "device-blocked") ? NOTICE_DEVICE_BLOCKED :
                               streq(action, "device-read-only") ? NOTICE_DEVICE_READ_ONLY : NOTICE_DEVICE_ALLOWED;
                if ((r = notice_new(k, &n)) < 0)
                        return r;
                json_object *dev = section(record, "device");
                n->what = device_label(dev);
                n->key = clean(field(dev, "syspath") ?: field(dev, "serial"));
                n->rule = clean(field(mg, "rule"));
                n->flag = n->rule && !streq(n->rule, "default");
                if (!n->what)
                        return -ENOMEM;
        } else if (streq(action, "print-blocked")) {
                json_object *pr = section(record, "print");
                if ((r = notice_new(NOTICE_PRINT_BLOCKED, &n)) < 0)
                        return r;
                n->what = clean(field(pr, "queue"));
                n->title = clean(field(pr, "title"));
                n->rule = clean(field(mg, "rule"));
        } else if (streq(action, "clipboard-blocked")) {
                json_object *cb = section(record, "clipboard"), *proc = section(record, "process");
                int64_t pid, numbers = 0;
                /* this helper's own reports: it has told the user already */
                if (field_i64(proc, "pid", &pid) && pid == (int64_t) self_pid)
                        return 0;
                (void) field_i64(cb, "individual_numbers", &numbers);
                return notice_new_clipboard(field(cb, "source_app"), field(cb, "target_app"),
                                            numbers > 0 ? (uint64_t) numbers : 0, ret);
        } else if (streq(action, "policy-applied")) {
                int64_t serial = 0;
                if ((r = notice_new(NOTICE_POLICY_APPLIED, &n)) < 0)
                        return r;
                n->what = clean(field(mg, "policy_name"));
                if (field_i64(mg, "policy_serial", &serial) && serial > 0)
                        n->number = (uint64_t) serial;
                const char *mode = field(mg, "policy_mode");
                n->flag = mode && streq(mode, "audit");
        } else
                return 0;

        *ret = TAKE_PTR(n);
        return 0;
}

int notice_new_clipboard(const char *source_app, const char *target_app, uint64_t n_numbers, Notice **ret) {
        Notice *n;
        int r = notice_new(NOTICE_CLIPBOARD_BLOCKED, &n);
        if (r < 0)
                return r;
        n->what = clean(source_app);
        n->target = clean(target_app);
        n->number = n_numbers;
        *ret = n;
        return 0;
}

int notice_new_unguarded(Notice **ret) {
        return notice_new(NOTICE_CLIPBOARD_UNGUARDED, ret);
}

/* ---- words ---- */

typedef struct Bilingual {
        GString *ja, *en;
} Bilingual;

/* Appends one sentence: the catalog's Japanese to ja, the English msgid to en. Arguments are the
 * same for both (positional conversions in the catalog may reorder them). */
_printf_(2, 3) static void say(Bilingual *b, const char *msgid, ...) {
        va_list ap, aq;
        va_start(ap, msgid);
        va_copy(aq, ap);
        if (b->ja->len > 0)
                g_string_append_c(b->ja, '\n');
        if (b->en->len > 0)
                g_string_append_c(b->en, '\n');
        g_string_append_vprintf(b->ja, _(msgid), ap);
        g_string_append_vprintf(b->en, msgid, aq);
        va_end(aq);
        va_end(ap);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void sayn(Bilingual *b, const char *msgid, const char *msgid_plural, unsigned long n, ...) {
        va_list ap, aq;
        va_start(ap, n);
        va_copy(aq, ap);
        if (b->ja->len > 0)
                g_string_append_c(b->ja, '\n');
        if (b->en->len > 0)
                g_string_append_c(b->en, '\n');
        g_string_append_vprintf(b->ja, dngettext(MN_GETTEXT_DOMAIN, msgid, msgid_plural, n), ap);
        g_string_append_vprintf(b->en, n == 1 ? msgid : msgid_plural, aq);
        va_end(aq);
        va_end(ap);
}
#pragma GCC diagnostic pop

/* Japanese first, English beside it; just the English when the catalog is missing. */
static char *join(Bilingual *b, const char *sep) {
        char *s;
        if (streq(b->ja->str, b->en->str))
                s = strdup(b->en->str);
        else if (asprintf(&s, "%s%s%s", b->ja->str, sep, b->en->str) < 0)
                s = NULL;
        g_string_truncate(b->ja, 0);
        g_string_truncate(b->en, 0);
        return s;
}

/* Shown text: escaped for servers that read markup. Never NULL (or a placeholder). */
static char *shown(const char *s, bool markup) {
        if (isempty(s))
                return g_strdup("?");
        return markup ? g_markup_escape_text(s, -1) : g_strdup(s);
}

static void say_apply_hint(Bilingual *b, const char *contact, bool markup) {
        if (!isempty(contact)) {
                g_autofree char *c = shown(contact, markup);
                say(b, N_("To use it, apply (申請) to %s."), c);
        } else
                say(b, N_("To use it, apply (申請) to your information security officer."));
}

int notice_format(const Notice *last, uint64_t count, const char *contact, bool markup, NoticeText *ret) {
        Bilingual b = { g_string_new(NULL), g_string_new(NULL) };
        g_autofree char *what = shown(last->what, markup), *rule = shown(last->rule, markup);
        g_autofree char *target = shown(last->target, markup), *title = shown(last->title, markup);
        unsigned long n = count > 1 ? (unsigned long) count : 1;
        NoticeText t = { .urgency = NOTICE_URGENCY_NORMAL };

        switch (last->kind) {
        case NOTICE_DEVICE_BLOCKED:
                t.icon = "drive-removable-media";
                t.category = "device.error";
                t.urgency = NOTICE_URGENCY_CRITICAL;
                if (n > 1)
                        sayn(&b, "%lu device blocked", "%lu devices blocked", n, n);
                else
                        say(&b, N_("Device blocked"));
                t.summary = join(&b, " / ");
                if (n > 1)
                        say(&b, N_("The last one:"));
                if (last->flag)
                        say(&b, N_("%s may not be used on this terminal (rule “%s”)."), what, rule);
                else
                        say(&b, N_("%s is not a registered medium and may not be used on this terminal."), what);
                say_apply_hint(&b, contact, markup);
                break;
        case NOTICE_DEVICE_READ_ONLY:
                t.icon = "drive-removable-media";
                t.category = "device.added";
                if (n > 1)
                        sayn(&b, "%lu device allowed read-only", "%lu devices allowed read-only", n, n);
                else
                        say(&b, N_("Device allowed read-only"));
                t.summary = join(&b, " / ");
                say(&b, N_("%s can be read but not written (rule “%s”)."), what, rule);
                break;
        case NOTICE_DEVICE_ALLOWED:
                t.icon = "drive-removable-media";
                t.category = "device.added";
                t.urgency = NOTICE_URGENCY_LOW;
                if (n > 1)
                        sayn(&b, "%lu registered device allowed", "%lu registered devices allowed", n, n);
                else
                        say(&b, N_("Registered device allowed"));
                t.summary = join(&b, " / ");
                say(&b, N_("%s may be used as the registered medium “%s”. Writes are recorded."), what, rule);
                break;
        case NOTICE_PRINT_BLOCKED:
                t.icon = "printer-error";
                t.category = "transfer.error";
                t.urgency = NOTICE_URGENCY_CRITICAL;
                if (n > 1)
                        sayn(&b, "%lu print job blocked", "%lu print jobs blocked", n, n);
                else
                        say(&b, N_("Printing blocked"));
                t.summary = join(&b, " / ");
                say(&b, N_("“%s” was not printed on %s (rule “%s”)."), title, what, rule);
                say_apply_hint(&b, contact, markup);
                break;
        case NOTICE_CLIPBOARD_BLOCKED:
                t.icon = "edit-paste";
                t.category = "transfer.error";
                if (n > 1)
                        sayn(&b, "%lu paste blocked", "%lu pastes blocked", n, n);
                else
                        say(&b, N_("Paste blocked"));
                t.summary = join(&b, " / ");
                if (last->number > 0)
                        sayn(&b, "The copied text holds %lu individual number (個人番号): it cannot be pasted.",
                             "The copied text holds %lu individual numbers (個人番号): it cannot be pasted.",
                             (unsigned long) last->number, (unsigned long) last->number);
                else
                        say(&b, N_("Data copied from %s cannot be pasted into %s."), what, target);
                break;
        case NOTICE_POLICY_APPLIED:
                t.icon = "security-high";
                t.category = "presence";
                t.urgency = NOTICE_URGENCY_LOW;
                say(&b, N_("Security policy updated"));
                t.summary = join(&b, " / ");
                say(&b, N_("Now in force: %s (serial %llu)."), what, (unsigned long long) last->number);
                if (last->flag)
                        say(&b, N_("Audit mode: attempts are recorded, nothing is blocked."));
                break;
        case NOTICE_CLIPBOARD_UNGUARDED:
        default:
                t.icon = "dialog-warning";
                t.category = "presence";
                say(&b, N_("Clipboard not guarded"));
                t.summary = join(&b, " / ");
                say(&b, N_("This session offers no clipboard control (Wayland): copy and paste between "
                           "applications are not guarded here."));
                break;
        }
        t.body = join(&b, "\n\n");
        g_string_free(b.ja, TRUE);
        g_string_free(b.en, TRUE);
        if (!t.summary || !t.body) {
                notice_text_done(&t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

void notice_text_done(NoticeText *t) {
        free(t->summary);
        free(t->body);
        t->summary = t->body = NULL;
}
