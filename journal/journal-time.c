/* SPDX-License-Identifier: GPL-2.0-or-later */
/* RFC 3339 timestamps of event records <-> µs since the epoch. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"
#include "strutil.h"

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_DAY (UINT64_C(86400) * USEC_PER_SEC)

static int digits(const char *s, size_t n, size_t at, size_t count, int *ret) {
        int v = 0;
        if (at + count > n)
                return -EINVAL;
        for (size_t i = at; i < at + count; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (s[i] - '0');
        }
        *ret = v;
        return 0;
}

int journal_timestamp_parse(const char *s, size_t n, uint64_t *ret_usec) {
        int year, month, day, hour, minute, second;
        int64_t days, offset_sec = 0;
        uint64_t frac = 0;
        size_t i;

        if (!s)
                return -EINVAL;
        if (digits(s, n, 0, 4, &year) < 0 || n < 19 || s[4] != '-' || digits(s, n, 5, 2, &month) < 0 ||
            s[7] != '-' || digits(s, n, 8, 2, &day) < 0 || (s[10] != 'T' && s[10] != 't') ||
            digits(s, n, 11, 2, &hour) < 0 || s[13] != ':' || digits(s, n, 14, 2, &minute) < 0 ||
            s[16] != ':' || digits(s, n, 17, 2, &second) < 0)
                return -EINVAL;
        if (hour > 23 || minute > 59 || second > 59 || year < 1970)
                return -EINVAL;
        if (civil_to_days(year, month, day, &days) < 0)
                return -EINVAL;
        i = 19;
        if (i < n && s[i] == '.') {
                size_t nd = 0;
                i++;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                        if (nd < 6)
                                frac = frac * 10 + (uint64_t) (s[i] - '0');
                        nd++;
                        i++;
                }
                if (nd == 0 || nd > 9)
                        return -EINVAL;
                for (; nd < 6; nd++)
                        frac *= 10;
        }
        if (i < n && (s[i] == 'Z' || s[i] == 'z'))
                i++;
        else if (i < n && (s[i] == '+' || s[i] == '-')) {
                int oh, om;
                if (digits(s, n, i + 1, 2, &oh) < 0 || i + 3 >= n || s[i + 3] != ':' ||
                    digits(s, n, i + 4, 2, &om) < 0 || oh > 23 || om > 59)
                        return -EINVAL;
                offset_sec = (int64_t) (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
                i += 6;
        } else
                return -EINVAL;
        if (i != n)
                return -EINVAL;

        int64_t sec = days * 86400 + hour * 3600 + minute * 60 + second - offset_sec;
        if (sec < 0)
                return -EINVAL;
        *ret_usec = (uint64_t) sec * USEC_PER_SEC + frac;
        return 0;
}

const char *journal_timestamp_format(uint64_t usec, char buf[static JOURNAL_TIMESTAMP_MAX]) {
        int y, mo, d;
        uint64_t rem = usec % USEC_PER_DAY;
        days_to_civil((int64_t) (usec / USEC_PER_DAY), &y, &mo, &d);
        unsigned sec = (unsigned) (rem / USEC_PER_SEC);
        snprintf(buf, JOURNAL_TIMESTAMP_MAX, "%04d-%02d-%02dT%02u:%02u:%02u.%06uZ", y, mo, d, sec / 3600,
                 sec / 60 % 60, sec % 60, (unsigned) (rem % USEC_PER_SEC));
        return buf;
}
