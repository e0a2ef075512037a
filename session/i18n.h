/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Messages for terminal users: Japanese first, the English beside it (DESIGN.md "Who uses it").
 * The English text is the msgid; the Japanese comes from the "mnguard" catalog (po/ja.po) whatever the
 * user's locale is, because every notice carries both. */

#include <libintl.h>
#include <stdbool.h>

#include "macro.h"

#define MN_GETTEXT_DOMAIN "mnguard"
#define _(s) dgettext(MN_GETTEXT_DOMAIN, s)
#define N_(s) s

/* Binds the catalog (MNGUARD_LOCALEDIR overrides the installed directory, for tests), selects Japanese
 * for it and UTF-8 output. Call first thing in main(), before any thread exists (it sets LANGUAGE). */
void mn_i18n_init(void);

/* Whether the Japanese catalog was found (a probe message translates). */
bool mn_i18n_have_japanese(void);
