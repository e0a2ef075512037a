/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "usb-watch.h"

#include <errno.h>
#include <libudev.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-login.h>
#include <unistd.h>

#include "device-json.h"
#include "device.h"
#include "event.h"
#include "lockout.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "media-watch.h"
#include "policy-load.h"
#include "subject.h"
#include "usb-enforce.h"

typedef struct Tracked {
        MnDevice *dev;
        int dirfd;              /* held sysfs directory of a USB device; -1 otherwise */
        /* the policy's decision, before the lockout guard */
        PolicyDecision raw;
        bool *raw_blocked;
        /* what is in force, after the guard */
        PolicyDecision dec;
        bool *blocked;
        MnLockoutResult lockout;
        /* what was last recorded, to record changes only */
        bool recorded;
        PolicyVerdict rec_verdict;
        bool rec_audit;
        char *rec_rule;
        bool *rec_blocked;
        uint64_t connected_usec;
} Tracked;

struct UsbWatch {
        Manager *m;
        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *monitor_source;
        sd_login_monitor *login;
        sd_event_source *login_source;
        MnSubject *subject;
        uid_t subject_uid;
        Tracked **devices;
        size_t n_devices;
};

static void tracked_free(Tracked *t) {
        if (!t)
                return;
        if (t->dirfd >= 0)
                close(t->dirfd);
        mn_device_free(t->dev);
        free(t->raw_blocked);
        free(t->blocked);
        free(t->rec_rule);
        free(t->rec_blocked);
        free(t);
}

size_t usb_watch_n_devices(const UsbWatch *w) {
        return w->n_devices;
}

static Tracked *find_tracked(UsbWatch *w, const char *syspath, size_t *ret_index) {
        for (size_t i = 0; i < w->n_devices; i++)
                if (streq(w->devices[i]->dev->syspath, syspath)) {
                        if (ret_index)
                                *ret_index = i;
                        return w->devices[i];
                }
        return NULL;
}

/* ---- the subject: who sits at seat0 ---- */

static void refresh_subject(UsbWatch *w) {
        w->subject = mn_subject_free(w->subject);
        w->subject = mn_subject_new_active();
        w->subject_uid = (uid_t) -1;
        uid_t uid;
        if (w->subject && sd_seat_get_active("seat0", NULL, &uid) >= 0)
                w->subject_uid = uid;
}

static const PolicySubject *subject(UsbWatch *w) {
        return w->subject ? &w->subject->subject : NULL;
}

/* ---- events ---- */

static json_object *device_event(UsbWatch *w, const Tracked *t, const char *action, const char *outcome,
                                 const char *reason) {
        json_object *ev = mn_event_new(action, outcome, reason);
        (void) mn_device_event_fields(mn_event_section(ev, "device"), t->dev);
        if (w->subject) {
                json_object *u = mn_event_section(ev, "user");
                mn_event_set_untrusted(u, "name", w->subject->user);
                json_object_object_add(u, "id", json_object_new_int64(w->subject_uid));
        }
        return ev;
}

static const char *verdict_action(PolicyVerdict v) {
        switch (v) {
        case VERDICT_ALLOW:
        case VERDICT_READ_WRITE: return "device-allowed";
        case VERDICT_READ_ONLY: return "device-read-only";
        case VERDICT_PARTIAL:
        case VERDICT_BLOCK: return "device-blocked";
        }
        return "device-blocked";
}

static json_object *class_list(UsbClassMask m) {
        json_object *a = json_object_new_array();
        for (int c = 0; c < _USB_CLASS_MAX; c++)
                if (m & USB_CLASS_BIT(c))
                        json_object_array_add(a, json_object_new_string(usb_class_to_string(c)));
        return a;
}

static void record_decision(UsbWatch *w, Tracked *t, const MnEnforceResult *res, int enforce_error) {
        const PolicyDecision *d = &t->dec;
        const char *outcome = d->audit ? MN_OUTCOME_UNKNOWN : enforce_error < 0 ? MN_OUTCOME_FAILURE : MN_OUTCOME_SUCCESS;
        json_object *ev = device_event(w, t, verdict_action(d->verdict), outcome, d->reason);
        json_object *mg = mn_event_section(ev, "mnguard");

        mn_event_set_string(mg, "rule", d->rule);
        mn_event_set_string(mg, "decision", policy_verdict_to_string(d->verdict));
        if (d->blocked)
                json_object_object_add(mg, "cut", class_list(d->blocked));
        if (t->dev->classes & USB_CLASS_BIT(USB_CLASS_STORAGE) && d->verdict != VERDICT_BLOCK)
                mn_event_set_string(mg, "storage", media_access_to_string(d->storage));
        if (res && res->whole_device)
                json_object_object_add(mg, "whole_device", json_object_new_boolean(true));
        if (t->lockout.changed) {
                mn_event_set_string(mg, "lockout", t->lockout.reason);
                mn_event_set_string(mg, "policy_decision", policy_verdict_to_string(t->lockout.original_verdict));
        }
        if (d->audit)
                mn_event_set_audit(ev, d->verdict == VERDICT_BLOCK || d->verdict == VERDICT_PARTIAL
                                               ? "block" : policy_verdict_to_string(d->verdict));
        if (enforce_error < 0)
                mn_event_set_string(mg, "error", strerror(-enforce_error));
        manager_log(w->m, ev, w->subject ? w->subject_uid : (uid_t) -1, NULL);

        t->recorded = true;
        t->rec_verdict = d->verdict;
        t->rec_audit = d->audit;
        free(t->rec_rule);
        t->rec_rule = strdup(d->rule);
        free(t->rec_blocked);
        t->rec_blocked = NULL;
        if (t->dev->n_interfaces > 0) {
                t->rec_blocked = malloc(t->dev->n_interfaces * sizeof(bool));
                if (t->rec_blocked)
                        memcpy(t->rec_blocked, t->blocked, t->dev->n_interfaces * sizeof(bool));
        }
}

static bool decision_changed(const Tracked *t) {
        if (!t->recorded || t->rec_verdict != t->dec.verdict || t->rec_audit != t->dec.audit ||
            !t->rec_rule || !streq(t->rec_rule, t->dec.rule))
                return true;
        if (t->dev->n_interfaces > 0 &&
            (!t->rec_blocked || memcmp(t->rec_blocked, t->blocked, t->dev->n_interfaces * sizeof(bool)) != 0))
                return true;
        return false;
}

/* ---- deciding and enforcing ---- */

static int decide_raw(UsbWatch *w, Tracked *t, int64_t today) {
        free(t->raw_blocked);
        t->raw_blocked = NULL;
        int r = mn_device_decide(t->dev, w->m->policy, subject(w), today, &t->raw, &t->raw_blocked);
        if (r < 0)
                return r;
        /* A granted exception ticket overrides the policy for its one device, for its window. */
        const Exception *e = manager_exception_for(w->m, t->dev);
        if (e) {
                bool storage = t->dev->classes & USB_CLASS_BIT(USB_CLASS_STORAGE);
                t->raw = (PolicyDecision) {
                        .verdict = !storage ? VERDICT_ALLOW : e->access == MEDIA_READ_ONLY ? VERDICT_READ_ONLY
                                                                                           : VERDICT_READ_WRITE,
                        .storage = e->access,
                        .rule = e->rule,
                        .reason = "exception ticket",
                };
                for (size_t k = 0; k < t->dev->n_interfaces; k++)
                        t->raw_blocked[k] = false;
        }
        return 0;
}

/* Runs the guard over every device's raw decision; t->dec/t->blocked get the result. */
static int apply_lockout(UsbWatch *w) {
        _cleanup_free_ MnLockoutEntry *v = calloc(w->n_devices + 1, sizeof(MnLockoutEntry));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < w->n_devices; i++) {
                Tracked *t = w->devices[i];
                size_t n = t->dev->n_interfaces;
                t->dec = t->raw;
                free(t->blocked);
                t->blocked = NULL;
                if (n > 0) {
                        t->blocked = malloc(n * sizeof(bool));
                        if (!t->blocked)
                                return -ENOMEM;
                        memcpy(t->blocked, t->raw_blocked, n * sizeof(bool));
                }
                v[i] = (MnLockoutEntry) { .device = t->dev, .decision = &t->dec, .interface_blocked = t->blocked };
        }
        int r = mn_lockout_apply(w->m->policy, v, w->n_devices);
        if (r < 0)
                return r;
        for (size_t i = 0; i < w->n_devices; i++)
                w->devices[i]->lockout = v[i].result;
        return 0;
}

/* Makes sysfs match t->dec, and records the decision when it changed. */
static void enforce_one(UsbWatch *w, Tracked *t, bool force_record) {
        MnEnforceResult res = {};
        MnUsbPlan plan;
        int r = 0;
        bool usb = t->dirfd >= 0;

        if (usb) {
                r = mn_usb_plan(t->dev, &t->dec, t->blocked, &plan);
                if (r >= 0)
                        r = mn_usb_enforce(t->dirfd, t->dev, &plan, &res);
                if (r < 0 && r != -ENODEV)
                        log_warning_errno(r, "Cannot enforce the decision on %s: %m", t->dev->syspath);
        }
        if (r == -ENODEV)
                return; /* unplugged meanwhile: the remove event follows */
        /* the block layer: read-only flag, mount guard, write audit */
        if (w->m->media)
                media_watch_apply(w->m->media, t->dev, &t->dec);
        if (force_record || decision_changed(t) || (usb && res.changed))
                record_decision(w, t, usb ? &res : NULL, r);
}

static int track_device(UsbWatch *w, MnDevice *dev, Tracked **ret) {
        if (w->n_devices >= USB_WATCH_MAX_DEVICES) {
                mn_device_free(dev);
                return -E2BIG;
        }
        Tracked *t = calloc(1, sizeof(Tracked));
        if (!t) {
                mn_device_free(dev);
                return -ENOMEM;
        }
        t->dev = dev;
        t->dirfd = dev->has_authorized ? mn_usb_open(dev->syspath) : -1;
        if (dev->has_authorized && t->dirfd < 0)
                log_warning_errno(t->dirfd, "Cannot open %s, its functions cannot be cut: %m", dev->syspath);
        t->connected_usec = mn_now_usec();
        if (w->n_devices % 64 == 0) {
                Tracked **v = realloc(w->devices, (w->n_devices + 64) * sizeof(Tracked *));
                if (!v) {
                        tracked_free(t);
                        return -ENOMEM;
                }
                w->devices = v;
        }
        w->devices[w->n_devices++] = t;
        *ret = t;
        return 0;
}

static void record_connected(UsbWatch *w, Tracked *t, bool coldplug) {
        json_object *ev = device_event(w, t, "device-connected", MN_OUTCOME_SUCCESS, NULL);
        if (coldplug)
                json_object_object_add(mn_event_section(ev, "mnguard"), "coldplug", json_object_new_boolean(true));
        manager_log(w->m, ev, w->subject ? w->subject_uid : (uid_t) -1, NULL);
}

/* After the guard, enforce every device whose decision differs from what was recorded (the guard may
 * change other devices than the one an event was about). */
static void enforce_changed(UsbWatch *w, Tracked *event_device) {
        for (size_t i = 0; i < w->n_devices; i++) {
                Tracked *t = w->devices[i];
                if (t == event_device || decision_changed(t))
                        enforce_one(w, t, false);
        }
}

int usb_watch_redecide_all(UsbWatch *w, const char *why) {
        int64_t today = policy_today_local();
        log_info("Deciding all %zu devices again (%s).", w->n_devices, why);
        for (size_t i = 0; i < w->n_devices; i++) {
                int r = decide_raw(w, w->devices[i], today);
                if (r < 0)
                        return log_error_errno(r, "Cannot decide %s: %m", w->devices[i]->dev->syspath);
        }
        int r = apply_lockout(w);
        if (r < 0)
                return log_error_errno(r, "Lockout guard failed: %m");
        /* enforce everything: the sysfs state may have been changed behind our back */
        for (size_t i = 0; i < w->n_devices; i++)
                enforce_one(w, w->devices[i], false);
        return 0;
}

int usb_watch_coldplug(UsbWatch *w) {
        MnDevice **v = NULL;
        size_t n = 0;
        int r = mn_devices_enumerate_with_patterns(w->udev, &w->m->patterns, &v, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot enumerate devices: %m");
        for (size_t i = 0; i < n; i++) {
                Tracked *t;
                if (track_device(w, TAKE_PTR(v[i]), &t) < 0)
                        continue;
                record_connected(w, t, true);
        }
        free(v);
        int64_t today = policy_today_local();
        for (size_t i = 0; i < w->n_devices; i++)
                if ((r = decide_raw(w, w->devices[i], today)) < 0)
                        return log_error_errno(r, "Cannot decide %s: %m", w->devices[i]->dev->syspath);
        if ((r = apply_lockout(w)) < 0)
                return log_error_errno(r, "Lockout guard failed: %m");
        for (size_t i = 0; i < w->n_devices; i++)
                enforce_one(w, w->devices[i], true);
        log_info("Coldplug: %zu devices decided.", w->n_devices);
        return 0;
}

static void device_removed(UsbWatch *w, const char *syspath) {
        size_t idx;
        Tracked *t = find_tracked(w, syspath, &idx);
        if (!t)
                return;
        json_object *ev = device_event(w, t, "device-removed", MN_OUTCOME_SUCCESS, NULL);
        json_object *mg = mn_event_section(ev, "mnguard");
        if (t->recorded) {
                mn_event_set_string(mg, "decision", policy_verdict_to_string(t->rec_verdict));
                mn_event_set_string(mg, "rule", t->rec_rule);
        }
        json_object_object_add(mg, "connected_seconds",
                               json_object_new_uint64((mn_now_usec() - t->connected_usec) / 1000000u));
        if (w->m->media)
                media_watch_device_removed(w->m->media, t->dev, ev);
        manager_log(w->m, ev, w->subject ? w->subject_uid : (uid_t) -1, NULL);
        manager_exception_device_removed(w->m, t->dev);
        tracked_free(t);
        memmove(w->devices + idx, w->devices + idx + 1, (w->n_devices - idx - 1) * sizeof(Tracked *));
        w->n_devices--;
        /* the guard may now have to spare another keyboard */
        if (apply_lockout(w) >= 0)
                enforce_changed(w, NULL);
}

static void handle_uevent(UsbWatch *w, struct udev_device *dev) {
        const char *action = udev_device_get_action(dev);
        struct udev_device *phys = mn_device_physical_parent(dev);
        if (!action || !phys)
                return;
        const char *phys_path = udev_device_get_syspath(phys);

        if (streq(action, "remove")) {
                if (phys == dev) {
                        device_removed(w, phys_path);
                        return;
                }
                /* An interface or partition of a tracked device went away: read the device again. */
                if (!find_tracked(w, phys_path, NULL))
                        return;
        }

        MnDevice *d = NULL;
        int r = mn_device_new_from_udev_with_patterns(phys, &w->m->patterns, &d);
        if (r == -ENODEV || r == -ENOENT || r == -ENXIO) {
                /* Not (or no longer) a device mnguard decides: a hub, an internal disk, gone, or a
                 * drive whose medium was taken out (a loop device detached: "change", size 0). */
                if (find_tracked(w, phys_path, NULL))
                        device_removed(w, phys_path);
                return;
        }
        if (r < 0) {
                log_warning_errno(r, "Cannot read %s, ignoring this event: %m", phys_path);
                return;
        }

        Tracked *t = find_tracked(w, d->syspath, NULL);
        bool is_new = !t;
        if (t) {
                mn_device_free(t->dev);
                t->dev = d;
        } else if (track_device(w, d, &t) < 0) {
                log_warning("Too many devices, %s not tracked.", phys_path);
                return;
        } else
                record_connected(w, t, false);

        if ((r = decide_raw(w, t, policy_today_local())) < 0 || (r = apply_lockout(w)) < 0) {
                log_error_errno(r, "Cannot decide %s: %m", phys_path);
                return;
        }
        if (is_new)
                enforce_one(w, t, true);
        enforce_changed(w, t);
}

static int on_uevent(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        UsbWatch *w = userdata;
        /* Drain the socket: a burst of uevents is handled in one wake-up. */
        for (int i = 0; i < 256; i++) {
                struct udev_device *dev = udev_monitor_receive_device(w->monitor);
                if (!dev)
                        break;
                handle_uevent(w, dev);
                udev_device_unref(dev);
        }
        return 0;
}

static int on_login_change(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        UsbWatch *w = userdata;
        sd_login_monitor_flush(w->login);
        uid_t before = w->subject_uid;
        refresh_subject(w);
        if (before != w->subject_uid)
                usb_watch_redecide_all(w, "the active user changed");
        return 0;
}

int usb_watch_new(Manager *m, UsbWatch **ret) {
        UsbWatch *w = calloc(1, sizeof(UsbWatch));
        int r;
        if (!w)
                return -ENOMEM;
        w->m = m;
        w->subject_uid = (uid_t) -1;
        w->udev = udev_new();
        if (!w->udev) {
                usb_watch_free(w);
                return -ENOMEM;
        }
        w->monitor = udev_monitor_new_from_netlink(w->udev, "udev");
        if (!w->monitor) {
                usb_watch_free(w);
                return log_error_errno(EIO, "Cannot open the udev monitor.");
        }
        (void) udev_monitor_set_receive_buffer_size(w->monitor, USB_WATCH_RCVBUF);
        if (udev_monitor_filter_add_match_subsystem_devtype(w->monitor, "usb", NULL) < 0 ||
            udev_monitor_filter_add_match_subsystem_devtype(w->monitor, "block", NULL) < 0 ||
            udev_monitor_enable_receiving(w->monitor) < 0) {
                usb_watch_free(w);
                return log_error_errno(EIO, "Cannot start the udev monitor.");
        }
        r = sd_event_add_io(m->event, &w->monitor_source, udev_monitor_get_fd(w->monitor), EPOLLIN, on_uevent, w);
        if (r < 0) {
                usb_watch_free(w);
                return r;
        }
        refresh_subject(w);
        if (sd_login_monitor_new("session", &w->login) >= 0)
                (void) sd_event_add_io(m->event, &w->login_source, sd_login_monitor_get_fd(w->login),
                                       (uint32_t) sd_login_monitor_get_events(w->login), on_login_change, w);
        *ret = w;
        return 0;
}

UsbWatch *usb_watch_free(UsbWatch *w) {
        if (!w)
                return NULL;
        for (size_t i = 0; i < w->n_devices; i++)
                tracked_free(w->devices[i]);
        free(w->devices);
        sd_event_source_disable_unref(w->monitor_source);
        sd_event_source_disable_unref(w->login_source);
        sd_login_monitor_unref(w->login);
        udev_monitor_unref(w->monitor);
        udev_unref(w->udev);
        mn_subject_free(w->subject);
        free(w);
        return NULL;
}
