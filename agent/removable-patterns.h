/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Extra block devices to treat as removable media (agent.conf "removable-patterns", see
 * docs/block-devices.md): fnmatch(3) globs on a block disk's kernel name ("loop*", "nbd[0-9]*"), so
 * that the real classification, enforcement and audit paths run on loop devices in tests and on odd
 * hardware whose disks do not say they are removable. Only classification is widened; nothing else
 * changes.
 *
 * A pattern is refused unless it starts with two literal characters: "*" or "?d*" would make the
 * system disk "removable", and the defaults would then block it. Pure: no I/O, no logging. */

#include <stdbool.h>
#include <stddef.h>

#define MN_REMOVABLE_PATTERNS_MAX 64 /* patterns in one list (agent.conf allows as many) */
#define MN_REMOVABLE_PATTERN_MAX  64 /* bytes in one pattern */
#define MN_REMOVABLE_LIST_MAX     4096 /* bytes in the list as written in agent.conf */

typedef struct MnRemovablePatterns {
        char *patterns[MN_REMOVABLE_PATTERNS_MAX];
        size_t n;
} MnRemovablePatterns;

/* Whether pattern is one we accept: 2..MN_REMOVABLE_PATTERN_MAX bytes of [A-Za-z0-9_.:+-] and the glob
 * characters * ? [ ] ! ^, starting with two literal characters, brackets balanced. */
bool mn_removable_pattern_valid(const char *pattern);

/* Adds one pattern (copied). Returns 0, 0 for a duplicate (not added twice), -EINVAL for an invalid
 * pattern, -E2BIG when the list is full, -ENOMEM. */
int mn_removable_patterns_add(MnRemovablePatterns *p, const char *pattern);

/* Parses an agent.conf value: patterns separated by spaces, tabs or commas ("loop*, nbd*"). An empty
 * value gives an empty list. On error *ret is left alone and nothing is kept: -EINVAL names no
 * pattern, so *ret_bad_offset (if non-NULL) gets the byte offset of the first bad pattern. Returns 0,
 * -EINVAL, -E2BIG (too many patterns, or the value longer than MN_REMOVABLE_LIST_MAX) or -ENOMEM. */
int mn_removable_patterns_parse(const char *value, MnRemovablePatterns *ret, size_t *ret_bad_offset);

void mn_removable_patterns_clear(MnRemovablePatterns *p);

/* Whether a block disk's kernel name (sysname, "loop3") matches one of the patterns. p may be NULL
 * (matches nothing). */
bool mn_removable_patterns_match(const MnRemovablePatterns *p, const char *sysname);
