/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared between the parser's files: the diagnostics context and the typed readers of YAML values.
 * Each reader reports what is wrong with the node and returns false. Internal to the policy library. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "policy.h"
#include "yaml-tree.h"

typedef struct Ctx {
        PolicyDiagnostics *diags;
        bool oom;
} Ctx;

_printf_(4, 5) void policy_report(Ctx *c, unsigned line, unsigned column, const char *fmt, ...);
#define report policy_report
#define at(n) (n)->line, (n)->column

bool plain_is_non_string(const char *s);
bool expect_type(Ctx *c, const YNode *n, YNodeType t, const char *what);
/* Text value. identifier: refuse unquoted values YAML would type as number/bool/null. */
bool get_text(Ctx *c, const YNode *n, const char *what, size_t max, bool identifier, char **ret);
bool get_bool(Ctx *c, const YNode *n, const char *what, bool *ret);
bool get_uint(Ctx *c, const YNode *n, const char *what, uint64_t min, uint64_t max, uint64_t *ret);
/* One of a fixed set of words; *ret gets its index. */
bool get_word(Ctx *c, const YNode *n, const char *what, const char *const *words, size_t n_words, int *ret);
bool get_date(Ctx *c, const YNode *n, const char *what, int64_t *ret);
/* Known keys of a mapping: reports unknown and duplicate keys. values[i] gets the node of keys[i]. */
bool walk_map(Ctx *c, const YNode *map, const char *what, const char *const *keys, size_t n_keys,
              const YNode **values);
bool get_principals(Ctx *c, const YNode *n, const char *what, PolicyPrincipals *ret);
bool get_mode(Ctx *c, const YNode *n, const char *what, PolicyMode *ret);
bool get_class_list(Ctx *c, const YNode *n, const char *what, UsbClassMask *ret);
bool get_app_list(Ctx *c, const YNode *n, const char *what, char ***ret, size_t *ret_n);
