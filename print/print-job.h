/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* One print job as the mnguard backend sees it, and how it is decided: by the daemon over the control
 * socket (verb print-job, docs/control.md), or, while the daemon cannot be reached, from the policy
 * snapshot. Library code: no logging; it does talk to the socket and NSS. */

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "print-doc.h"
#include "print-uri.h"

/* Job strings are untrusted (a remote IPP client chooses its title and, without authentication, its
 * user name). They are made valid UTF-8 and cut to these sizes, below what the daemon accepts. */
#define PRINT_QUEUE_MAX  200
#define PRINT_USER_MAX   200
#define PRINT_TITLE_MAX  1000
#define PRINT_FORMAT_MAX 200

#define PRINT_DAEMON_TIMEOUT_MSEC 30000 /* the daemon answers once the decision is on disk */
#define PRINT_REPLY_MAX           16384 /* bytes of the daemon's reply line */

typedef struct PrintJob {
        char *queue, *user, *title, *format;
        uint64_t job_id, copies;
        PrintDocInfo doc;
        char scheme[PRINT_SCHEME_MAX + 1]; /* the inner backend */
        bool export;
} PrintJob;

typedef enum PrintSource {
        PRINT_SOURCE_DAEMON,
        PRINT_SOURCE_SNAPSHOT,
} PrintSource;

typedef struct PrintVerdict {
        bool allow;  /* true also for an audit-mode "would block" */
        bool audit;
        char *rule;  /* the deciding rule's name, or "default" */
        char *reason;
        uint64_t sequence; /* of the journal record (daemon only) */
        PrintSource source;
} PrintVerdict;

/* Sets a job string from untrusted bytes: valid UTF-8, no NUL, at most max bytes (plus "…"). */
int print_job_set_string(char **field, const char *value, size_t max);

void print_job_done(PrintJob *job);
void print_verdict_done(PrintVerdict *v);

/* Pages times copies, as the daemon computes it; 0 stays unknown; saturates at UINT32_MAX. */
uint32_t print_job_total_pages(const PrintJob *job);

/* Asks the daemon listening in runtime_dir. Returns
 *   0             with *ret: the daemon decided and its record is durable,
 *   -EREMOTEIO    the daemon answered with an error (*ret_error, when non-NULL, gets its text, to free),
 *   another negative errno: the daemon could not be asked (not running, timed out, hung up, garbled). */
int print_job_ask_daemon(const char *runtime_dir, const PrintJob *job, int timeout_msec, PrintVerdict *ret,
                         char **ret_error);

/* Decides from a policy (the snapshot) as the daemon would: the user's groups from NSS; a user name
 * that is all digits is not taken for a uid (it decides as nobody). */
int print_job_decide(const Policy *policy, const PrintJob *job, PrintVerdict *ret);
