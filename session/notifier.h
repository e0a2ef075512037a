/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Desktop notifications (libnotify) with storm folding: notices of one kind that come within a few
 * seconds of each other become one notification with a count. A notice is shown once its kind has been
 * quiet for NOTIFIER_QUIET_MSEC, or NOTIFIER_MAX_HOLD_MSEC after the first of the batch, whichever
 * comes first; the notification of a kind replaces that kind's previous one on screen. */

#include "notices.h"

#define NOTIFIER_QUIET_MSEC 700
#define NOTIFIER_MAX_HOLD_MSEC 5000
#define NOTIFIER_MAX_KEYS 256          /* distinct things remembered per batch to count each once */

typedef struct Notifier Notifier;

int notifier_new(Notifier **ret);
Notifier *notifier_free(Notifier *n);

/* The policy's 申請 contact, shown in hints (copied; NULL clears it). */
void notifier_set_contact(Notifier *n, const char *contact);

/* Queues a notice (takes it). */
void notifier_post(Notifier *n, Notice *notice);

/* Shows every pending batch now (at exit). */
void notifier_flush(Notifier *n);
