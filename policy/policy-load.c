/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "policy-load.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "macro.h"
#include "strutil.h"

void policy_print_diagnostics(FILE *f, const char *path, const PolicyDiagnostics *d) {
        _cleanup_free_ char *shown = terminal_escape(path, 4096);
        for (size_t i = 0; i < d->n; i++) {
                const PolicyDiagnostic *x = &d->items[i];
                _cleanup_free_ char *msg = terminal_escape(x->message, 4096);
                if (x->line > 0)
                        fprintf(f, "%s:%u:%u: error: %s\n", shown ?: path, x->line, x->column, msg ?: x->message);
                else
                        fprintf(f, "%s: error: %s\n", shown ?: path, msg ?: x->message);
        }
        if (d->truncated)
                fprintf(f, "%s: error: too many errors, giving up after %d\n", shown ?: path, POLICY_MAX_DIAGNOSTICS);
}

int policy_load_file(const char *path, FILE *err, Policy **ret) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        r = read_full_file(path, POLICY_MAX_FILE_SIZE, &data, &size);
        if (r == -EFBIG) {
                fprintf(err, "%s: error: file is larger than %d bytes\n", path, POLICY_MAX_FILE_SIZE);
                return r;
        }
        if (r < 0) {
                fprintf(err, "%s: error: cannot read: %s\n", path, strerror(-r));
                return r;
        }

        PolicyDiagnostics diags;
        r = policy_parse(data, size, ret, &diags);
        if (r == -EINVAL)
                policy_print_diagnostics(err, path, &diags);
        else if (r < 0)
                fprintf(err, "%s: error: %s\n", path, strerror(-r));
        policy_diagnostics_clear(&diags);
        return r;
}

int64_t policy_today_local(void) {
        time_t now = time(NULL);
        struct tm tm;
        int64_t days = 0;
        if (!localtime_r(&now, &tm))
                return (int64_t) now / 86400;
        if (civil_to_days(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, &days) < 0)
                return (int64_t) now / 86400;
        return days;
}

int policy_parse_date(const char *s, int64_t *ret_days) {
        if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
                return -EINVAL;
        int v[3] = {};
        const int start[3] = { 0, 5, 8 }, len[3] = { 4, 2, 2 };
        for (int f = 0; f < 3; f++)
                for (int i = 0; i < len[f]; i++) {
                        char c = s[start[f] + i];
                        if (c < '0' || c > '9')
                                return -EINVAL;
                        v[f] = v[f] * 10 + (c - '0');
                }
        return civil_to_days(v[0], v[1], v[2], ret_days);
}
