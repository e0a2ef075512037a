/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "i18n.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#ifndef MNGUARD_LOCALEDIR
#define MNGUARD_LOCALEDIR "/usr/share/locale"
#endif

void mn_i18n_init(void) {
        (void) setlocale(LC_ALL, "");
        /* gettext ignores LANGUAGE in the "C" locale; C.UTF-8 always exists and keeps the rest as C. */
        const char *m = setlocale(LC_MESSAGES, NULL);
        if (!m || streq(m, "C") || streq(m, "POSIX"))
                (void) setlocale(LC_MESSAGES, "C.UTF-8");
        (void) setenv("LANGUAGE", "ja", 1);
        const char *dir = getenv("MNGUARD_LOCALEDIR");
        (void) bindtextdomain(MN_GETTEXT_DOMAIN, !isempty(dir) ? dir : MNGUARD_LOCALEDIR);
        (void) bind_textdomain_codeset(MN_GETTEXT_DOMAIN, "UTF-8");
}

bool mn_i18n_have_japanese(void) {
        const char *probe = N_("Security policy updated");
        return strcmp(_(probe), probe) != 0;
}
