/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "journal.h"
#include "strutil.h"

static json_object *time_or_null(uint64_t usec) {
        char buf[JOURNAL_TIMESTAMP_MAX];
        return usec ? json_object_new_string(journal_timestamp_format(usec, buf)) : NULL;
}

json_object *host_to_json(const HostState *h) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "host_id", json_object_new_string(h->host_id));
        json_object_object_add(o, "host_name", h->host_name ? json_object_new_string(h->host_name) : NULL);
        json_object_object_add(o, "group", json_object_new_string(h->group ?: "default"));
        json_object_object_add(o, "enrolled", time_or_null(h->enrolled_usec));
        json_object_object_add(o, "last_seen", time_or_null(h->last_seen_usec));
        json_object_object_add(o, "first_sequence", json_object_new_uint64(h->first_sequence));
        json_object_object_add(o, "acked_sequence", json_object_new_uint64(h->contiguous_sequence));
        json_object_object_add(o, "last_sequence", json_object_new_uint64(h->last_sequence));
        json_object_object_add(o, "events", json_object_new_uint64(h->n_events));
        json_object_object_add(o, "chain", json_object_new_string(chain_state_to_string(host_chain_state(h))));
        json_object_object_add(o, "chain_alerts", json_object_new_uint64(h->n_broken));
        json_object_object_add(o, "agent_version", h->agent_version[0] ? json_object_new_string(h->agent_version) : NULL);
        json_object_object_add(o, "policy_serial", h->policy_serial ? json_object_new_uint64(h->policy_serial) : NULL);
        return o;
}

json_object *alert_to_json(const AlertRecord *a) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_int64(a->id));
        json_object_object_add(o, "host_id", json_object_new_string(a->host_id));
        json_object_object_add(o, "created", time_or_null(a->created_usec));
        json_object_object_add(o, "kind", json_object_new_string(alert_kind_to_string(a->kind)));
        json_object_object_add(o, "breaks_chain", json_object_new_boolean(alert_kind_breaks_chain(a->kind)));
        json_object_object_add(o, "sequence", json_object_new_uint64(a->sequence));
        json_object_object_add(o, "sequence_end", json_object_new_uint64(a->sequence_end));
        json_object_object_add(o, "detail", json_object_new_string(a->detail));
        if (a->body)
                json_object_object_add(o, "record", json_object_new_string_len(a->body, (int) a->body_len));
        return o;
}

json_object *policy_record_to_json(const PolicyRecord *p) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "group", json_object_new_string(p->group));
        json_object_object_add(o, "serial", json_object_new_uint64(p->serial));
        json_object_object_add(o, "name", json_object_new_string(p->name));
        json_object_object_add(o, "key_id", json_object_new_string(p->key_id));
        json_object_object_add(o, "published", time_or_null(p->published_usec));
        json_object_object_add(o, "published_by", json_object_new_string(p->published_by));
        return o;
}

int time_arg_parse(const char *s, uint64_t now, uint64_t *ret) {
        size_t n = strlen(s);
        if (streq(s, "now")) {
                *ret = now;
                return 0;
        }
        if (n >= 2 && n <= 12 && strchr("smhdw", s[n - 1])) {
                static const char units[] = "smhdw";
                static const uint64_t mult[] = { 1, 60, 3600, 86400, 7 * 86400 };
                uint64_t v = 0;
                for (size_t i = 0; i + 1 < n; i++) {
                        if (s[i] < '0' || s[i] > '9')
                                return -EINVAL;
                        v = v * 10 + (uint64_t) (s[i] - '0');
                }
                uint64_t usec = v * mult[strchr(units, s[n - 1]) - units] * 1000000u;
                *ret = usec > now ? 0 : now - usec;
                return 0;
        }
        if (n == 10 && s[4] == '-' && s[7] == '-') {
                int y = 0, m = 0, d = 0;
                int64_t days;
                for (int i = 0; i < 10; i++) {
                        if (i == 4 || i == 7)
                                continue;
                        if (s[i] < '0' || s[i] > '9')
                                return -EINVAL;
                }
                y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
                m = (s[5] - '0') * 10 + (s[6] - '0');
                d = (s[8] - '0') * 10 + (s[9] - '0');
                if (civil_to_days(y, m, d, &days) < 0)
                        return -EINVAL;
                struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_isdst = -1 };
                time_t t = mktime(&tm);
                if (t < 0)
                        return -EINVAL;
                *ret = (uint64_t) t * 1000000u;
                return 0;
        }
        return journal_timestamp_parse(s, n, ret);
}

void cursor_format(uint64_t ts, const char *host_id, uint64_t seq, char out[static CURSOR_MAX]) {
        snprintf(out, CURSOR_MAX, "%llu.%s.%llu", (unsigned long long) ts, host_id, (unsigned long long) seq);
}

int cursor_parse(const char *s, EventQuery *q) {
        char ts[24], seq[24];
        const char *d1 = strchr(s, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        if (!d1 || !d2 || (size_t) (d1 - s) >= sizeof(ts) || (size_t) (d2 - d1 - 1) != HOST_ID_LEN || strlen(d2 + 1) >= sizeof(seq))
                return -EINVAL;
        memcpy(ts, s, (size_t) (d1 - s));
        ts[d1 - s] = 0;
        memcpy(q->after_host, d1 + 1, HOST_ID_LEN);
        q->after_host[HOST_ID_LEN] = 0;
        memcpy(seq, d2 + 1, strlen(d2 + 1) + 1);
        if (parse_u64(ts, &q->after_usec) < 0 || parse_u64(seq, &q->after_sequence) < 0 || !host_id_is_valid(q->after_host) ||
            q->after_usec > (uint64_t) INT64_MAX || q->after_sequence > (uint64_t) INT64_MAX)
                return -EINVAL;
        q->has_after = true;
        return 0;
}
