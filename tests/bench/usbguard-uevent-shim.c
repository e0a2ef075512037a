/* SPDX-License-Identifier: GPL-2.0-or-later */
/* LD_PRELOAD shim that lets USBGuard's production "uevent" backend (usbguard-daemon 1.1.2) take the
 * uevents that umockdev emulates, so that bench-usb measures USBGuard on the same insertion path as
 * mnguardd. Only used by the benchmark; never installed.
 *
 * Why it is needed (measured here, see docs/performance.md):
 *  1. umockdev's emulated netlink socket is an AF_UNIX socket: the SCM_CREDENTIALS it delivers name the
 *     process that called umockdev_testbed_uevent(). UEventDeviceManager::ueventProcessRead() accepts only
 *     pid=uid=gid=0 (the kernel) and logs "received uevent of unknown origin: ignoring." A unix socket can
 *     never carry pid 0 (the kernel looks the pid up: ESRCH).
 *  2. umockdev sends udev's format ("libudev\0" header, magic 0xfeedcafe, then KEY=VALUE\0 properties);
 *     USBGuard's uevent backend parses the kernel's ("ACTION@DEVPATH\0KEY=VALUE\0..."), so even with the
 *     credentials fixed it logs "Ignoring non-USB device: subsystem= devtype= action=libudev".
 * This shim wraps recvmsg(): a datagram in udev's format that carries SCM_CREDENTIALS (only USBGuard's
 * uevent socket asks for them) is rewritten in place into the kernel's format and its credentials are set
 * to the kernel's; every other message is left alone. Everything else USBGuard does (sysfs reads, descriptor parsing, rule evaluation, the
 * "authorized" write, audit) is untouched.
 *
 * It must come BEFORE libumockdev-preload.so in LD_PRELOAD: umockdev calls libc directly, so a shim after
 * it would never see the call. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define UDEV_MONITOR_MAGIC 0xfeedcafe

struct udev_header {
        char prefix[8];
        uint32_t magic;
        uint32_t header_size;
        uint32_t properties_off;
        uint32_t properties_len;
};

static const char *prop(const char *p, size_t n, const char *key) {
        size_t k = strlen(key);
        for (size_t i = 0; i < n;) {
                size_t l = strnlen(p + i, n - i);
                if (l > k && memcmp(p + i, key, k) == 0 && p[i + k] == '=')
                        return p + i + k + 1;
                i += l + 1;
        }
        return NULL;
}

/* Rewrites buf[0..n) from udev's format to the kernel's; returns the new length, or 0 when the message is
 * not one that this shim rewrites (left unchanged). */
static size_t to_kernel_format(char *buf, size_t n, size_t cap) {
        struct udev_header h;
        if (n < sizeof(h) || memcmp(buf, "libudev", 8) != 0)
                return 0;
        memcpy(&h, buf, sizeof(h));
        if (ntohl(h.magic) != UDEV_MONITOR_MAGIC || h.properties_off > n || h.properties_len > n - h.properties_off)
                return 0;
        char props[8192];
        size_t plen = h.properties_len;
        if (plen > sizeof(props))
                return 0;
        memcpy(props, buf + h.properties_off, plen);
        const char *action = prop(props, plen, "ACTION"), *devpath = prop(props, plen, "DEVPATH");
        if (!action || !devpath)
                return 0;
        size_t al = strlen(action), dl = strlen(devpath);
        if (al + 1 + dl + 1 + plen > cap)
                return 0;
        size_t off = 0;
        memcpy(buf + off, action, al);
        off += al;
        buf[off++] = '@';
        memcpy(buf + off, devpath, dl);
        off += dl;
        buf[off++] = '\0';
        memcpy(buf + off, props, plen);
        return off + plen;
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
        static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
        if (!real_recvmsg)
                real_recvmsg = (ssize_t (*)(int, struct msghdr *, int)) dlsym(RTLD_NEXT, "recvmsg");
        ssize_t n = real_recvmsg(fd, msg, flags);
        if (n <= 0 || !msg || msg->msg_controllen == 0 || msg->msg_iovlen < 1)
                return n;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS)
                        continue;
                if ((size_t) n > msg->msg_iov[0].iov_len)
                        return n; /* scattered: leave it alone */
                /* Only umockdev's messages (udev format) are touched; anything else keeps its credentials. */
                size_t k = to_kernel_format(msg->msg_iov[0].iov_base, (size_t) n, msg->msg_iov[0].iov_len);
                if (k == 0)
                        return n;
                struct ucred u = { .pid = 0, .uid = 0, .gid = 0 };
                memcpy(CMSG_DATA(c), &u, sizeof(u));
                return (ssize_t) k;
        }
        return n;
}
