/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The compiled policy snapshot: what mnguard-udev decides from while mnguardd is not running.
 *
 * Format: the exact bytes of the policy that mnguardd validated (and whose signature it checked), in
 * STATE_DIR/policy.snapshot, mode 0600, replaced atomically (write_file_atomic). mnguard-udev parses it
 * again with policy_parse(): one parser, one meaning, no second format to get wrong, and parsing a
 * policy of a few rules takes well under a millisecond (tests/bench/bench-policy). The signature is
 * not checked again: the file is only trusted because of where it is (see snapshot_load()). */

#include <stddef.h>

#include "policy.h"

#define SNAPSHOT_FILENAME "policy.snapshot"
#define SNAPSHOT_MODE     0600

/* Writes policy_bytes[0..n) as the snapshot in state_dir (which must exist). The bytes are parsed
 * first and nothing is written when they are not a valid policy: returns 0, -EINVAL, -EFBIG (more
 * than POLICY_MAX_FILE_SIZE) or another negative errno. */
int snapshot_write(const char *state_dir, const char *policy_bytes, size_t n);

/* Reads and parses the snapshot in state_dir. Returns 0 with *ret, or
 *   -ENOENT  no snapshot (or no state_dir),
 *   -EPERM   the snapshot or state_dir is not owned by root (or by us), or group/world writable,
 *            or the snapshot is not a regular file (a symlink is not followed),
 *   -EFBIG   larger than POLICY_MAX_FILE_SIZE,
 *   -EINVAL  not a valid policy,
 *   or another negative errno. */
int snapshot_load(const char *state_dir, Policy **ret);
