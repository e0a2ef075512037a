/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the user of a cancelled job reads. CUPS shows a backend's "ERROR:" line as the job's and the
 * printer's state message (lpstat, the print dialog, the web interface): one line, Japanese first
 * with the English beside it, saying why and whom to ask. Pure string building. */

#include <stdint.h>

#include "print-job.h"

#define PRINT_CONTACT_DEFAULT_JA "情報政策課"
#define PRINT_CONTACT_DEFAULT_EN "your information policy division (情報政策課)"
#define PRINT_MESSAGE_MAX        1536 /* bytes of the line; CUPS keeps 2048 per status line */

typedef enum PrintProblem {
        PRINT_PROBLEM_DENIED,      /* the policy said no (see the verdict) */
        PRINT_PROBLEM_NO_POLICY,   /* daemon unreachable and no usable snapshot */
        PRINT_PROBLEM_DEVICE,      /* the queue's mnguard device URI is broken or names no backend */
        PRINT_PROBLEM_DOCUMENT,    /* the document could not be read or spooled */
        PRINT_PROBLEM_DAEMON,      /* the daemon answered with an error */
} PrintProblem;

/* Builds the line (without "ERROR: " and the newline). v may be NULL except for PRINT_PROBLEM_DENIED;
 * contact (the policy's, may be NULL) and detail (may be NULL) are escaped. Returns 0 or -ENOMEM. */
int print_message_build(PrintProblem problem, const PrintVerdict *v, uint32_t pages, const char *contact,
                  const char *detail, char **ret);
