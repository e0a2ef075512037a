/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The I/O edge of the policy library (kept out of the pure library): read a policy file, parse it,
 * and print its diagnostics as "FILE:LINE:COLUMN: error: MESSAGE". */

#include <stdio.h>

#include "policy.h"

/* Reads and parses path. On failure the diagnostics (or the I/O error) are printed to err, each
 * prefixed with path, and a negative errno is returned (-EINVAL for an invalid policy). */
int policy_load_file(const char *path, FILE *err, Policy **ret);

void policy_print_diagnostics(FILE *f, const char *path, const PolicyDiagnostics *d);

/* Today's local date in days since 1970-01-01. */
int64_t policy_today_local(void);

/* Parses "YYYY-MM-DD" into days; -EINVAL if it is not an existing date. */
int policy_parse_date(const char *s, int64_t *ret_days);
