/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's temporary exceptions: import (verify, bind to this host, single use), the overlay on
 * device decisions, and their end (time or removal of the device). docs/exceptions.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "exception.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "strutil.h"
#include "usb-watch.h"

#define USED_TICKETS_FILE "tickets-used"
#define USED_TICKETS_MAX 4096

static void exception_event(Manager *m, const Exception *e, const char *action, const char *reason) {
        json_object *ev = mn_event_new(action, MN_OUTCOME_SUCCESS, reason);
        json_object *mg = mn_event_section(ev, "mnguard"), *dev = mn_event_section(ev, "device");
        char ids[2][5], ts[2][JOURNAL_TIMESTAMP_MAX];
        snprintf(ids[0], sizeof(ids[0]), "%04x", e->vendor);
        snprintf(ids[1], sizeof(ids[1]), "%04x", e->product);
        mn_event_set_string(mg, "ticket_id", e->id);
        mn_event_set_string(mg, "key_id", e->keyid);
        mn_event_set_string(mg, "access", media_access_to_string(e->access));
        mn_event_set_string(mg, "not_before", journal_timestamp_format(e->not_before_usec, ts[0]));
        mn_event_set_string(mg, "not_after", journal_timestamp_format(e->not_after_usec, ts[1]));
        if (e->reason)
                mn_event_set_untrusted(mg, "ticket_reason", e->reason);
        mn_event_set_string(dev, "vendor", ids[0]);
        mn_event_set_string(dev, "product", ids[1]);
        mn_event_set_untrusted(dev, "serial", e->serial);
        manager_log(m, ev, (uid_t) -1, NULL);
}

/* Used ticket ids, one "ID NOT_AFTER_USEC" per line in the state dir: a ticket is good once. */
static int used_path(Manager *m, char **ret) {
        return asprintf(ret, "%s/" USED_TICKETS_FILE, m->state_dir) < 0 ? -ENOMEM : 0;
}

static bool ticket_used(Manager *m, const char *id) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        if (used_path(m, &path) < 0 || read_full_file(path, USED_TICKETS_MAX * 64, &data, NULL) < 0)
                return false;
        size_t l = strlen(id);
        for (const char *p = data; p && *p;) {
                if (strncmp(p, id, l) == 0 && p[l] == ' ')
                        return true;
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return false;
}

/* Appends id, keeping only entries that have not expired (an expired ticket is refused anyway). */
static int ticket_mark_used(Manager *m, const Exception *e) {
        _cleanup_free_ char *path = NULL, *data = NULL, *out = NULL;
        size_t n = 0, count = 0;
        uint64_t now = mn_now_usec();
        if (used_path(m, &path) < 0)
                return -ENOMEM;
        (void) read_full_file(path, USED_TICKETS_MAX * 64, &data, NULL);
        out = malloc((data ? strlen(data) : 0) + 64);
        if (!out)
                return -ENOMEM;
        for (const char *p = data; p && *p;) {
                const char *nl = strchr(p, '\n'), *sp = strchr(p, ' ');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);
                uint64_t until = 0;
                if (sp && sp < p + len) {
                        _cleanup_free_ char *num = strndup(sp + 1, (size_t) (p + len - sp - 1));
                        if (num && parse_u64(num, &until) >= 0 && until > now && count < USED_TICKETS_MAX - 1) {
                                memcpy(out + n, p, len);
                                n += len;
                                out[n++] = '\n';
                                count++;
                        }
                }
                p = nl ? nl + 1 : NULL;
        }
        n += (size_t) snprintf(out + n, 64, "%s %llu\n", e->id, (unsigned long long) e->not_after_usec);
        return write_file_atomic(path, out, n, 0600);
}

static void schedule(Manager *m);

/* Ends exceptions whose time is over; starts those whose time has come. */
static int on_exception_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t now = mn_now_usec();
        size_t k = 0;
        bool changed = false;
        for (size_t i = 0; i < m->n_exceptions; i++) {
                Exception *e = &m->exceptions[i];
                if (now >= e->not_after_usec) {
                        exception_event(m, e, "exception-ended", "validity ended");
                        exception_clear(e);
                        changed = true;
                        continue;
                }
                if (now >= e->not_before_usec && !e->seen)
                        changed = true; /* may have just started */
                m->exceptions[k++] = *e;
        }
        m->n_exceptions = k;
        if (changed && m->usb)
                usb_watch_redecide_all(m->usb, "exception window");
        schedule(m);
        return 0;
}

static void schedule(Manager *m) {
        uint64_t now = mn_now_usec(), next = UINT64_MAX;
        for (size_t i = 0; i < m->n_exceptions; i++) {
                const Exception *e = &m->exceptions[i];
                if (e->not_before_usec > now && e->not_before_usec < next)
                        next = e->not_before_usec;
                if (e->not_after_usec < next)
                        next = e->not_after_usec;
        }
        if (next == UINT64_MAX) {
                if (m->exception_timer)
                        sd_event_source_set_enabled(m->exception_timer, SD_EVENT_OFF);
                return;
        }
        /* realtime clock: the window is in wall-clock time */
        if (!m->exception_timer) {
                if (sd_event_add_time(m->event, &m->exception_timer, CLOCK_REALTIME, next, 0, on_exception_timer, m) < 0)
                        return;
        } else
                sd_event_source_set_time(m->exception_timer, next);
        sd_event_source_set_enabled(m->exception_timer, SD_EVENT_ONESHOT);
}

int manager_import_exception(Manager *m, const char *data, size_t size, char **ret_message) {
        Exception e;
        const char *reason = NULL;
        char *msg = NULL;
        int r;

        if (!m->require_signature || m->n_trusted == 0) {
                reason = "no trusted keys (policy-signing.pub): tickets cannot be checked";
                r = -ENOKEY;
                goto refuse;
        }
        r = exception_parse(data, size, m->trusted, m->n_trusted, &e, &reason);
        if (r < 0)
                goto refuse;
        if (!streq(e.host_id, m->identity.host_id)) {
                reason = "ticket is for another host";
                r = -EPERM;
        } else if (mn_now_usec() >= e.not_after_usec) {
                reason = "ticket has expired";
                r = -ETIME;
        } else if (ticket_used(m, e.id)) {
                reason = "ticket was used already";
                r = -EALREADY;
        } else if (m->n_exceptions >= EXCEPTION_MAX_ACTIVE) {
                reason = "too many active exceptions";
                r = -E2BIG;
        }
        if (r < 0) {
                json_object *ev = mn_event_new("exception-rejected", MN_OUTCOME_FAILURE, reason);
                mn_event_set_string(mn_event_section(ev, "mnguard"), "ticket_id", e.id);
                manager_log(m, ev, (uid_t) -1, NULL);
                exception_clear(&e);
                goto done;
        }
        r = ticket_mark_used(m, &e);
        if (r < 0) {
                reason = "cannot record the ticket as used";
                exception_clear(&e);
                goto refuse;
        }
        m->exceptions[m->n_exceptions++] = e;
        exception_event(m, &e, "exception-granted", NULL);
        if (asprintf(&msg, "exception %s granted: %04x:%04x serial %s %s until %llu", e.id, e.vendor, e.product,
                     e.serial, media_access_to_string(e.access), (unsigned long long) (e.not_after_usec / 1000000)) < 0)
                msg = NULL;
        schedule(m);
        if (m->usb)
                usb_watch_redecide_all(m->usb, "exception granted");
        *ret_message = msg;
        return 0;

refuse:
        {
                json_object *ev = mn_event_new("exception-rejected", MN_OUTCOME_FAILURE, reason);
                manager_log(m, ev, (uid_t) -1, NULL);
        }
done:
        *ret_message = strdup(reason ?: "refused");
        return r;
}

const Exception *manager_exception_for(Manager *m, const MnDevice *d) {
        uint64_t now = mn_now_usec();
        for (size_t i = 0; i < m->n_exceptions; i++) {
                Exception *e = &m->exceptions[i];
                if (now >= e->not_before_usec && now < e->not_after_usec && exception_matches(e, d)) {
                        e->seen = true;
                        return e;
                }
        }
        return NULL;
}

void manager_exception_device_removed(Manager *m, const MnDevice *d) {
        size_t k = 0;
        for (size_t i = 0; i < m->n_exceptions; i++) {
                Exception *e = &m->exceptions[i];
                if (e->seen && exception_matches(e, d)) {
                        exception_event(m, e, "exception-ended", "device removed");
                        exception_clear(e);
                        continue;
                }
                m->exceptions[k++] = *e;
        }
        m->n_exceptions = k;
        schedule(m);
}

void manager_exceptions_free(Manager *m) {
        for (size_t i = 0; i < m->n_exceptions; i++)
                exception_clear(&m->exceptions[i]);
        m->n_exceptions = 0;
        m->exception_timer = sd_event_source_disable_unref(m->exception_timer);
}
