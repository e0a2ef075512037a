/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sysfs "authorized" writes for USB devices and interfaces (see usb-enforce.h). */
#include "usb-enforce.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"

/* "0\n" or "1\n" is all "authorized" ever holds; read a little more to notice anything else. */
#define AUTHORIZED_READ_MAX 16

int mn_usb_plan(const MnDevice *d, const PolicyDecision *dec, const bool *interface_blocked, MnUsbPlan *ret) {
        MnUsbPlan plan = { .audit = dec->audit, .n_interfaces = d->n_interfaces };
        size_t n_cut = 0;

        if (!d->has_authorized)
                return -EOPNOTSUPP;
        if (d->n_interfaces > MN_DEVICE_MAX_INTERFACES || (d->n_interfaces > 0 && !interface_blocked))
                return -EINVAL;

        for (size_t k = 0; k < d->n_interfaces; k++) {
                plan.cut_interface[k] = interface_blocked[k];
                n_cut += interface_blocked[k];
        }
        /* Whole: an explicit block rule, BadUSB, every function cut (the policy says "block" for all
         * three), or a device whose functions are unknown that the policy blocked. */
        plan.cut_device = dec->verdict == VERDICT_BLOCK || (d->n_interfaces > 0 && n_cut == d->n_interfaces);
        *ret = plan;
        return 0;
}

/* A sysname is one path component: never "..", never a slash. */
static bool name_is_component(const char *s) {
        return !isempty(s) && strlen(s) <= NAME_MAX && !strchr(s, '/') && !streq(s, ".") && !streq(s, "..");
}

static int open_below(int dirfd, const char *name) {
        int fd;

        if (!name) {
                fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? -errno : fd;
        }
        if (!name_is_component(name))
                return -EINVAL;
        fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int read_authorized_at(int fd, int *ret) {
        _cleanup_close_ int afd = -EBADF;
        char buf[AUTHORIZED_READ_MAX];
        ssize_t n;

        afd = openat(fd, "authorized", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (afd < 0)
                return -errno;
        do
                n = read(afd, buf, sizeof(buf));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                n--;
        if (n != 1 || (buf[0] != '0' && buf[0] != '1'))
                return -EBADMSG;
        *ret = buf[0] - '0';
        return 0;
}

static int write_authorized_at(int fd, int value) {
        _cleanup_close_ int afd = -EBADF;
        const char c = value ? '1' : '0';
        ssize_t n;
        int now;

        /* O_TRUNC means nothing to sysfs; in a testbed the attribute is a plain file. */
        afd = openat(fd, "authorized", O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (afd < 0)
                return -errno;
        do
                n = write(afd, &c, 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n != 1)
                return -EIO;
        /* The write took effect in write(); read back through a new open. */
        close(afd);
        afd = -EBADF;

        int r = read_authorized_at(fd, &now);
        if (r < 0)
                return r;
        return now == value ? 0 : -EIO;
}

int mn_usb_read_authorized(int dirfd, const char *name, int *ret) {
        _cleanup_close_ int fd = -EBADF;
        int r, v;

        fd = open_below(dirfd, name);
        if (fd < 0)
                return fd;
        r = read_authorized_at(fd, &v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

int mn_usb_open(const char *syspath) {
        int fd;

        if (isempty(syspath) || syspath[0] != '/')
                return -EINVAL;
        fd = open(syspath, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* Brings one attribute to want (or says it would). fd is the device's or the interface's directory. */
static void apply_one(int fd, int want, bool audit, MnAuthState *st) {
        int r;

        st->after = st->before;
        if (st->before == want)
                return;
        st->changed = true;
        if (audit) {
                st->after = want;
                return;
        }
        r = write_authorized_at(fd, want);
        if (r < 0) {
                st->error = r;
                /* What is there now, if it can still be read. */
                if (read_authorized_at(fd, &st->after) < 0)
                        st->after = -1;
                st->changed = st->after != st->before;
                return;
        }
        st->after = want;
}

static int enforce_interfaces(int dirfd, const MnDevice *d, const MnUsbPlan *plan, MnEnforceResult *res) {
        int first_error = 0;

        for (size_t k = 0; k < d->n_interfaces; k++) {
                const MnInterface *i = &d->interfaces[k];
                UsbClassMask bit = USB_CLASS_BIT(i->function);
                MnAuthState *st = &res->interfaces[k];
                _cleanup_close_ int fd = -EBADF;
                int r, want = plan->cut_interface[k] ? 0 : 1;

                *st = (MnAuthState) { .before = -1, .after = -1 };
                if (plan->cut_interface[k]) {
                        res->blocked |= bit;
                        res->n_cut++;
                }

                /* Opened afresh by name: after a re-authorization these are new kernel objects. */
                fd = open_below(dirfd, i->sysname);
                if (fd == -ENOENT)
                        continue; /* not there: a configuration the kernel did not choose, or gone */
                if (fd < 0) {
                        st->error = fd;
                        first_error = first_error ?: fd;
                        continue;
                }
                r = read_authorized_at(fd, &st->before);
                if (r < 0) {
                        /* No "authorized" on an interface: a kernel older than 4.4 cannot cut it. */
                        st->before = -1;
                        st->error = r == -ENOENT ? -EOPNOTSUPP : r;
                        if (want == 0)
                                first_error = first_error ?: st->error;
                        continue;
                }
                apply_one(fd, want, plan->audit, st);
                if (st->error < 0)
                        first_error = first_error ?: st->error;
                if (st->changed && st->after == 0)
                        res->cut |= bit;
                else if (st->changed && st->after == 1)
                        res->restored |= bit;
        }
        return first_error;
}

int mn_usb_enforce(int dirfd, const MnDevice *d, const MnUsbPlan *plan, MnEnforceResult *result) {
        MnEnforceResult *res = result;
        int r;

        *res = (MnEnforceResult) {
                .audit = plan->audit,
                .whole_device = plan->cut_device,
                .n_interfaces = d->n_interfaces,
                .device = { .before = -1, .after = -1 },
        };
        for (size_t k = 0; k < MN_DEVICE_MAX_INTERFACES; k++)
                res->interfaces[k] = (MnAuthState) { .before = -1, .after = -1 };
        if (dirfd < 0 || plan->n_interfaces != d->n_interfaces || d->n_interfaces > MN_DEVICE_MAX_INTERFACES)
                return -EINVAL;

        r = read_authorized_at(dirfd, &res->device.before);
        if (r == -ENOENT)
                return -ENODEV; /* the directory is gone (unplugged), or it is not a USB device */
        if (r < 0) {
                res->device.error = r;
                return r;
        }

        if (plan->cut_device) {
                apply_one(dirfd, 0, plan->audit, &res->device);
                res->blocked = d->classes;
                res->n_cut = d->n_interfaces;
                if (res->device.changed && res->device.after == 0)
                        res->cut = d->classes;
                res->changed = res->device.changed;
                return res->device.error;
        }

        /* The device first: re-authorizing it makes the kernel create its interfaces (and bind their
         * drivers); the ones that must stay cut get their 0 right after. */
        apply_one(dirfd, 1, plan->audit, &res->device);
        if (res->device.error < 0)
                return res->device.error;
        if (res->device.changed)
                res->restored |= d->classes;

        r = enforce_interfaces(dirfd, d, plan, res);
        /* A function given back with the device but cut again on its interface was not restored. */
        res->restored &= ~res->blocked;
        res->changed = res->device.changed;
        for (size_t k = 0; k < d->n_interfaces; k++)
                res->changed = res->changed || res->interfaces[k].changed;
        return r;
}
