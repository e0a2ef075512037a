/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "notifier.h"

#include <errno.h>
#include <glib.h>
#include <libnotify/notify.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"

#define NOTIFIER_APP_NAME "mnguard"

typedef struct Batch {
        Notifier *owner;
        Notice *last;
        uint64_t count;
        char *keys[NOTIFIER_MAX_KEYS];
        size_t n_keys;
        gint64 first_usec, last_usec;
        guint timer;
        NotifyNotification *shown;   /* this kind's notification, replaced by the next */
} Batch;

struct Notifier {
        Batch batches[_NOTICE_KIND_MAX];
        char *contact;
        bool markup, caps_known;
};

static void ensure_init(Notifier *n) {
        if (!notify_is_initted() && !notify_init(NOTIFIER_APP_NAME))
                return;
        if (n->caps_known)
                return;
        GList *caps = notify_get_server_caps();
        if (!caps)
                return; /* no server yet: ask again next time */
        n->caps_known = true;
        for (GList *l = caps; l; l = l->next)
                if (streq(l->data, "body-markup"))
                        n->markup = true;
        g_list_free_full(caps, g_free);
}

int notifier_new(Notifier **ret) {
        Notifier *n = calloc(1, sizeof(Notifier));
        if (!n)
                return -ENOMEM;
        for (int k = 0; k < _NOTICE_KIND_MAX; k++)
                n->batches[k].owner = n;
        *ret = n;
        return 0;
}

void notifier_set_contact(Notifier *n, const char *contact) {
        free(n->contact);
        n->contact = contact ? strdup(contact) : NULL;
}

static NotifyUrgency urgency(NoticeUrgency u) {
        switch (u) {
        case NOTICE_URGENCY_LOW: return NOTIFY_URGENCY_LOW;
        case NOTICE_URGENCY_CRITICAL: return NOTIFY_URGENCY_CRITICAL;
        default: return NOTIFY_URGENCY_NORMAL;
        }
}

static void batch_reset(Batch *b) {
        b->count = 0;
        for (size_t i = 0; i < b->n_keys; i++)
                free(b->keys[i]);
        b->n_keys = 0;
}

/* Whether the notice is about something already in the batch (remembering it if not). */
static bool batch_seen(Batch *b, const char *key) {
        if (!key)
                return false;
        for (size_t i = 0; i < b->n_keys; i++)
                if (streq(b->keys[i], key))
                        return true;
        if (b->n_keys < NOTIFIER_MAX_KEYS) {
                b->keys[b->n_keys] = strdup(key);
                if (b->keys[b->n_keys])
                        b->n_keys++;
        }
        return false;
}

static void batch_show(Batch *b) {
        Notifier *n = b->owner;
        NoticeText t;
        GError *error = NULL;

        if (b->timer) {
                g_source_remove(b->timer);
                b->timer = 0;
        }
        if (!b->last)
                return;
        ensure_init(n);
        int r = notice_format(b->last, b->count, n->contact, n->markup, &t);
        b->last = notice_free(b->last);
        uint64_t count = b->count;
        batch_reset(b);
        if (r < 0) {
                log_oom();
                return;
        }
        if (!notify_is_initted()) {
                log_warning("No notification service; not shown: %s", t.summary);
                notice_text_done(&t);
                return;
        }
        if (b->shown)
                notify_notification_update(b->shown, t.summary, t.body, t.icon);
        else
                b->shown = notify_notification_new(t.summary, t.body, t.icon);
        notify_notification_set_urgency(b->shown, urgency(t.urgency));
        notify_notification_set_category(b->shown, t.category);
        notify_notification_set_app_name(b->shown, NOTIFIER_APP_NAME);
        notify_notification_set_hint(b->shown, "x-mnguard-count", g_variant_new_uint64(count));
        /* libnotify's call is synchronous: one D-Bus round trip, taken after the guard has answered
         * whatever caused the notice (docs/session.md). */
        if (!notify_notification_show(b->shown, &error)) {
                log_warning("Cannot show notification, ignoring: %s", error ? error->message : "unknown error");
                g_clear_error(&error);
                /* the server may have gone: start afresh next time */
                g_clear_object(&b->shown);
                n->caps_known = false;
        }
        notice_text_done(&t);
}

static gboolean on_batch_timer(gpointer userdata) {
        Batch *b = userdata;
        b->timer = 0;
        batch_show(b);
        return G_SOURCE_REMOVE;
}

static void batch_arm(Batch *b) {
        gint64 now = g_get_monotonic_time();
        gint64 due = MIN(now + NOTIFIER_QUIET_MSEC * 1000, b->first_usec + NOTIFIER_MAX_HOLD_MSEC * 1000);
        if (b->timer)
                g_source_remove(b->timer);
        b->timer = g_timeout_add((guint) (MAX(due - now, 0) / 1000), on_batch_timer, b);
}

void notifier_post(Notifier *n, Notice *notice) {
        if (!notice)
                return;
        if (notice->kind < 0 || notice->kind >= _NOTICE_KIND_MAX) {
                notice_free(notice);
                return;
        }
        Batch *b = &n->batches[notice->kind];
        if (b->count == 0)
                b->first_usec = g_get_monotonic_time();
        bool seen = batch_seen(b, notice->key);
        notice_free(b->last);
        b->last = notice;
        if (!seen && b->count < UINT64_MAX)
                b->count++;
        b->last_usec = g_get_monotonic_time();
        batch_arm(b);
}

void notifier_flush(Notifier *n) {
        for (int k = 0; k < _NOTICE_KIND_MAX; k++)
                batch_show(&n->batches[k]);
}

Notifier *notifier_free(Notifier *n) {
        if (!n)
                return NULL;
        for (int k = 0; k < _NOTICE_KIND_MAX; k++) {
                Batch *b = &n->batches[k];
                if (b->timer)
                        g_source_remove(b->timer);
                notice_free(b->last);
                batch_reset(b);
                g_clear_object(&b->shown);
        }
        free(n->contact);
        free(n);
        if (notify_is_initted())
                notify_uninit();
        return NULL;
}
