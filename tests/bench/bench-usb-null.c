/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The floor for bench-usb: the least a libudev-based daemon can do. It writes authorized=0 to every
 * non-hub USB device present at start and to every usb_device that a "udev" monitor reports added,
 * with no classification, policy, journal or anything else. bench-usb runs it on the same testbed
 * path as mnguardd and USBGuard, so that its latency (umockdev's emulated netlink, the scheduler, the
 * harness's polling) can be subtracted or used as the ratio's denominator on a noisy machine.
 * Never installed. */
#include <errno.h>
#include <fcntl.h>
#include <libudev.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig) {
        (void) sig;
        stop = 1;
}

static void block_device(struct udev_device *d) {
        const char *devtype = udev_device_get_devtype(d), *cls = udev_device_get_sysattr_value(d, "bDeviceClass");
        if (!devtype || strcmp(devtype, "usb_device") != 0 || (cls && strcmp(cls, "09") == 0))
                return;
        char path[4096];
        snprintf(path, sizeof(path), "%s/authorized", udev_device_get_syspath(d));
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        if (write(fd, "0", 1) != 1)
                fprintf(stderr, "bench-usb-null: %s: %s\n", path, strerror(errno));
        close(fd);
}

int main(void) {
        struct udev *udev = udev_new();
        struct udev_monitor *mon = udev ? udev_monitor_new_from_netlink(udev, "udev") : NULL;
        if (!mon || udev_monitor_filter_add_match_subsystem_devtype(mon, "usb", "usb_device") < 0 ||
            udev_monitor_enable_receiving(mon) < 0) {
                fprintf(stderr, "bench-usb-null: cannot monitor udev events\n");
                return EXIT_FAILURE;
        }
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);

        struct udev_enumerate *e = udev_enumerate_new(udev);
        udev_enumerate_add_match_subsystem(e, "usb");
        udev_enumerate_scan_devices(e);
        struct udev_list_entry *entry;
        udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
                struct udev_device *d = udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
                if (d) {
                        block_device(d);
                        udev_device_unref(d);
                }
        }
        udev_enumerate_unref(e);

        struct pollfd p = { .fd = udev_monitor_get_fd(mon), .events = POLLIN };
        while (!stop) {
                if (poll(&p, 1, -1) < 0)
                        continue;
                struct udev_device *d;
                while ((d = udev_monitor_receive_device(mon))) {
                        const char *action = udev_device_get_action(d);
                        if (action && strcmp(action, "add") == 0)
                                block_device(d);
                        udev_device_unref(d);
                }
        }
        udev_monitor_unref(mon);
        udev_unref(udev);
        return EXIT_SUCCESS;
}
