/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* mnguardctl: options shared by every verb, and the verbs. A verb returns the process exit code. */

#include <stdint.h>

#define CTL_EXIT_OK      0
#define CTL_EXIT_USAGE   1 /* bad arguments, bad policy */
#define CTL_EXIT_RUNTIME 2 /* the system did not let us do it */

#define CTL_RUNTIME_DIR_DEFAULT "/run/mnguard"
#define CTL_POLICY_DEFAULT      "/etc/mnguard/policy.yaml"

typedef struct CtlGlobals {
        const char *runtime_dir; /* the daemon's control socket lives here */
        const char *journal;     /* read this journal file instead of asking the daemon; may be NULL */
} CtlGlobals;

int verb_devices(int argc, char *argv[], const CtlGlobals *g);
int verb_status(int argc, char *argv[], const CtlGlobals *g);
int verb_events(int argc, char *argv[], const CtlGlobals *g);
int verb_verify(int argc, char *argv[], const CtlGlobals *g);
int verb_export(int argc, char *argv[], const CtlGlobals *g);
int verb_note(int argc, char *argv[], const CtlGlobals *g);
int verb_print(int argc, char *argv[], const CtlGlobals *g); /* ctl-print.c */
int verb_policy(int argc, char *argv[], const CtlGlobals *g);
int verb_exception(int argc, char *argv[], const CtlGlobals *g);

/* Times for --since/--until: now, 7d/12h/30m/45s ago, a local date, or ISO 8601. */
int ctl_parse_time(const char *s, uint64_t *ret_usec);
