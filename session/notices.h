/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the user is told: from an event record (docs/control.md "subscribe") to a notice, and from a
 * notice (and how many of its kind were folded into it) to the words, icon and urgency. Japanese first,
 * the English beside it. Every string from the record is untrusted: cleaned of control and bidi
 * characters, capped, and escaped when the notification server reads markup. No I/O. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define NOTICE_FIELD_MAX 160   /* bytes of one untrusted field shown to the user */

typedef enum NoticeKind {
        NOTICE_DEVICE_BLOCKED,
        NOTICE_DEVICE_READ_ONLY,
        NOTICE_DEVICE_ALLOWED,
        NOTICE_PRINT_BLOCKED,
        NOTICE_CLIPBOARD_BLOCKED,
        NOTICE_POLICY_APPLIED,
        NOTICE_CLIPBOARD_UNGUARDED,
        _NOTICE_KIND_MAX,
} NoticeKind;

typedef enum NoticeUrgency {
        NOTICE_URGENCY_LOW,
        NOTICE_URGENCY_NORMAL,
        NOTICE_URGENCY_CRITICAL,
} NoticeUrgency;

typedef struct Notice {
        NoticeKind kind;
        char *what;         /* device: model and ids; print: queue; clipboard: source app; policy: name */
        char *rule;         /* device, print: the deciding rule's name */
        char *target;       /* clipboard: the application that asked */
        char *title;        /* print: the job's title */
        uint64_t number;    /* clipboard: individual numbers found; policy: serial */
        bool flag;          /* device: decided by a registered rule (not "default"); policy: audit mode */
        char *key;          /* what the notice is about (a device's syspath), so that several events about
                             * one thing count once when folded; NULL: each counts */
} Notice;

typedef struct NoticeText {
        char *summary;
        char *body;
        const char *icon;       /* freedesktop icon name */
        const char *category;   /* notification spec category */
        NoticeUrgency urgency;
} NoticeText;

/* The notice an event record calls for, or 0 and NULL when it calls for none (another user's event,
 * audit-mode decisions, device-connected/-removed, this process's own clipboard reports, …). */
int notice_from_event(json_object *record, uid_t self_uid, pid_t self_pid, Notice **ret);

int notice_new_clipboard(const char *source_app, const char *target_app, uint64_t n_numbers, Notice **ret);
int notice_new_unguarded(Notice **ret);

Notice *notice_free(Notice *n);
static inline void notice_freep(Notice **n) {
        notice_free(*n);
}

/* The words for the last notice of a kind, count of them folded together (≥ 1), with the policy's
 * 申請 contact (may be NULL). markup: the server reads body markup, so text is escaped. */
int notice_format(const Notice *last, uint64_t count, const char *contact, bool markup, NoticeText *ret);
void notice_text_done(NoticeText *t);
