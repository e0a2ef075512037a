/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The clipboard guard's decisions (docs/session.md): pure, from the session policy, what is known of
 * the selection's owner and of the application asking for it. No I/O, no X. */

#include <stdbool.h>
#include <stdint.h>

#include "session-policy.h"

/* An X application as the guard knows it. class_name is the WM_CLASS class (NULL when the client has
 * no window that says); client is the X client's resource base (0: unknown). */
typedef struct ClipApp {
        const char *class_name;
        uint32_t client;
} ClipApp;

typedef enum ClipVerdict {
        CLIP_SERVE,
        CLIP_REFUSE_PROTECTED,  /* a protected application's data, asked for by another application */
        CLIP_REFUSE_NUMBER,     /* text holding a valid individual number */
} ClipVerdict;

typedef struct ClipDecision {
        ClipVerdict verdict;    /* what the policy says */
        bool enforce;           /* false in audit mode: served anyway, reported as "would block" */
        const char *reason;     /* for the journal, English, stable; NULL when served */
} ClipDecision;

/* Same application: the same X client, or the same WM_CLASS class. */
bool clip_same_app(const ClipApp *a, const ClipApp *b);

bool clip_owner_protected(const SessionPolicy *p, const ClipApp *owner);

/* Whether the guard must take the selection over from its owner: data of a protected application,
 * or text holding n_numbers > 0 valid individual numbers with detection on. */
bool clip_must_take_over(const SessionPolicy *p, const ClipApp *owner, uint64_t n_numbers);

/* Decides one request for data (not TARGETS/TIMESTAMP, which are always answered).
 * - Text with valid individual numbers is refused to every requestor; the one exception is a protected
 *   application pasting its own data when allow-within-app is set (the application that is entitled
 *   to hold the numbers, working within itself: not an export).
 * - A protected application's data goes to the same application (allow-within-app), to allowed-apps,
 *   and to anyone when the policy's clipboard default is "allow"; everyone else is refused. */
void clip_decide(const SessionPolicy *p, const ClipApp *owner, uint64_t n_numbers, const ClipApp *requestor,
                 ClipDecision *ret);
