/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Physical devices as mnguard sees them, built from libudev (see device.h). */
#include "device.h"

#include <blkid.h>
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "removable-patterns.h"
#include "strutil.h"
#include "usb-descriptors.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe);

static bool streq_ptr(const char *a, const char *b) {
        return a && b && streq(a, b);
}

/* A sanitized copy of an untrusted string from sysfs, udev or libblkid. Empty and missing values
 * both give NULL. */
static int dup_untrusted(const char *s, char **ret) {
        if (isempty(s)) {
                *ret = NULL;
                return 0;
        }
        char *c = untrusted_sanitize(s, strlen(s), MN_UNTRUSTED_MAX);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

/* Exactly two hex digits, as in sysfs bInterfaceClass. */
static int parse_hex2(const char *s, uint8_t *ret) {
        uint16_t v;

        if (!s || strlen(s) != 2)
                return -EINVAL;
        char buf[5] = { '0', '0', s[0], s[1], 0 };
        if (parse_hex4(buf, &v) < 0)
                return -EINVAL;
        *ret = (uint8_t) v;
        return 0;
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

/* udev's ID_VENDOR_ENC/ID_MODEL_ENC keep a name's spaces (ID_MODEL turns them into '_') and escape
 * unsafe bytes as \xNN. Decodes them, drops the trailing padding and sanitizes the result; falls back
 * to the plain property. */
static int dup_udev_name(struct udev_device *dev, const char *enc_key, const char *plain_key, char **ret) {
        const char *s = udev_device_get_property_value(dev, enc_key);
        if (isempty(s))
                return dup_untrusted(udev_device_get_property_value(dev, plain_key), ret);

        size_t n = strnlen(s, MN_UNTRUSTED_MAX * 4), o = 0;
        _cleanup_free_ char *buf = malloc(n + 1);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int hi, lo;
                if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && (hi = hex_digit(s[i + 2])) >= 0 &&
                    (lo = hex_digit(s[i + 3])) >= 0) {
                        buf[o++] = (char) (hi << 4 | lo);
                        i += 3;
                } else
                        buf[o++] = s[i];
        }
        while (o > 0 && (buf[o - 1] == ' ' || buf[o - 1] == 0))
                o--;
        if (o == 0) {
                *ret = NULL;
                return 0;
        }
        char *c = untrusted_sanitize(buf, o, MN_UNTRUSTED_MAX);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

static void interface_done(MnInterface *i) {
        free(i->syspath);
        free(i->sysname);
        free(i->label);
}

static void filesystem_done(MnFilesystem *f) {
        free(f->devnode);
        free(f->type);
        free(f->uuid);
        free(f->label);
}

MnDevice *mn_device_free(MnDevice *d) {
        if (!d)
                return NULL;
        free(d->syspath);
        free(d->sysname);
        free(d->bus);
        free(d->serial);
        free(d->manufacturer);
        free(d->model);
        for (size_t i = 0; i < d->n_interfaces; i++)
                interface_done(&d->interfaces[i]);
        free(d->interfaces);
        for (size_t i = 0; i < d->n_fs; i++)
                filesystem_done(&d->fs[i]);
        free(d->fs);
        free(d);
        return NULL;
}

/* Reads what libblkid finds on a block device whose udev properties say nothing (udev has not
 * probed it, or no udevd runs). Read-only and best effort: every failure leaves the fields NULL. */
static int filesystem_probe(MnFilesystem *f) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(blkid_free_probep) blkid_probe pr = NULL;
        struct stat st;
        const char *v;
        int r;

        /* O_NONBLOCK: an optical drive without a disc must not make us wait. */
        fd = open(f->devnode, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        /* Testbeds (umockdev) make device nodes plain files. */
        if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
                return -ENOTBLK;

        pr = blkid_new_probe();
        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, 0, 0) < 0)
                return -EIO;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL);
        blkid_probe_enable_partitions(pr, 0);
        if (blkid_do_safeprobe(pr) != 0) /* 1: nothing found, -2: ambiguous, -1: error */
                return 0;

        if (blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0 && (r = dup_untrusted(v, &f->type)) < 0)
                return r;
        if (blkid_probe_lookup_value(pr, "UUID", &v, NULL) == 0 && (r = dup_untrusted(v, &f->uuid)) < 0)
                return r;
        if (blkid_probe_lookup_value(pr, "LABEL", &v, NULL) == 0 && (r = dup_untrusted(v, &f->label)) < 0)
                return r;
        return 0;
}

static int filesystem_from_udev(struct udev_device *b, MnFilesystem *ret) {
        _cleanup_(filesystem_done) MnFilesystem f = {};
        int r;

        if ((r = dup_untrusted(udev_device_get_devnode(b), &f.devnode)) < 0 ||
            (r = dup_untrusted(udev_device_get_property_value(b, "ID_FS_TYPE"), &f.type)) < 0 ||
            (r = dup_untrusted(udev_device_get_property_value(b, "ID_FS_UUID"), &f.uuid)) < 0 ||
            (r = dup_untrusted(udev_device_get_property_value(b, "ID_FS_LABEL"), &f.label)) < 0)
                return r;

        /* Nothing from udev and no partition table either: udev has not probed it, ask libblkid. */
        if (!f.type && !f.uuid && !f.label && f.devnode &&
            !udev_device_get_property_value(b, "ID_PART_TABLE_TYPE")) {
                r = filesystem_probe(&f);
                if (r == -ENOMEM)
                        return r;
        }

        *ret = f;
        f = (MnFilesystem) {};
        return 0;
}

/* A USB interface with a disk below it is storage, whatever its class says: vendor-specific card
 * readers (ums-realtek, ums-alauda, ...) bind to class ff interfaces. */
static void mark_storage_interface(MnDevice *d, struct udev_device *b) {
        struct udev_device *i = udev_device_get_parent_with_subsystem_devtype(b, "usb", "usb_interface");
        const char *name = i ? udev_device_get_sysname(i) : NULL;

        for (size_t k = 0; name && k < d->n_interfaces; k++)
                if (streq_ptr(d->interfaces[k].sysname, name)) {
                        d->interfaces[k].function = USB_CLASS_STORAGE;
                        d->classes |= USB_CLASS_BIT(USB_CLASS_STORAGE);
                }
}

/* Walking a device's own sysfs subtree: bounds against a forged tree. */
#define SYSFS_WALK_MAX_DEPTH   8
#define SYSFS_WALK_MAX_ENTRIES 4096

static int add_block_device(struct udev *udev, const char *syspath, MnDevice *d) {
        _cleanup_(udev_device_unrefp) struct udev_device *b = udev_device_new_from_syspath(udev, syspath);
        if (!b || !streq_ptr(udev_device_get_subsystem(b), "block"))
                return 0; /* gone meanwhile */
        if (d->n_fs >= MN_DEVICE_MAX_FILESYSTEMS) {
                d->fs_truncated = true;
                return 0;
        }
        MnFilesystem *v = reallocarray(d->fs, d->n_fs + 1, sizeof(MnFilesystem));
        if (!v)
                return -ENOMEM;
        d->fs = v;
        int r = filesystem_from_udev(b, &d->fs[d->n_fs]);
        if (r < 0)
                return r;
        d->n_fs++;
        mark_storage_interface(d, b);
        return 0;
}

/* Every block device (disk and partitions) below path, found by walking the device's own sysfs
 * directories (a "block" directory holds disks; a disk's subdirectories with a "partition" attribute are
 * its partitions). Only this subtree is read: enumerating every block device of the system for every
 * uevent made each decision cost O(devices). Symlinks are not followed. */
static int walk_block(struct udev *udev, const char *path, unsigned depth, bool in_block, bool in_disk,
                      unsigned *budget, MnDevice *d) {
        _cleanup_(closedirp) DIR *dir = NULL;
        struct dirent *de;
        int r;

        if (depth > SYSFS_WALK_MAX_DEPTH)
                return 0;
        dir = opendir(path);
        if (!dir)
                return 0;
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.' || de->d_type != DT_DIR)
                        continue;
                if (*budget == 0)
                        return 0;
                (*budget)--;
                _cleanup_free_ char *child = NULL;
                if (asprintf(&child, "%s/%s", path, de->d_name) < 0)
                        return -ENOMEM;
                if (in_block) {
                        /* a disk */
                        if ((r = add_block_device(udev, child, d)) < 0 ||
                            (r = walk_block(udev, child, depth + 1, false, true, budget, d)) < 0)
                                return r;
                        continue;
                }
                if (in_disk) {
                        /* a partition, or an attribute group (queue/, holders/, ...) */
                        _cleanup_free_ char *attr = NULL;
                        if (asprintf(&attr, "%s/partition", child) < 0)
                                return -ENOMEM;
                        if (access(attr, F_OK) == 0 && (r = add_block_device(udev, child, d)) < 0)
                                return r;
                        continue;
                }
                if ((r = walk_block(udev, child, depth + 1, streq(de->d_name, "block"), false, budget, d)) < 0)
                        return r;
        }
        return 0;
}

static int collect_filesystems(struct udev *udev, struct udev_device *dev, MnDevice *d) {
        unsigned budget = SYSFS_WALK_MAX_ENTRIES;
        const char *syspath = udev_device_get_syspath(dev);
        /* a block disk itself (SD card, optical drive): it and its partitions */
        if (streq_ptr(udev_device_get_subsystem(dev), "block")) {
                int r = add_block_device(udev, syspath, d);
                if (r < 0)
                        return r;
                return walk_block(udev, syspath, 1, false, true, &budget, d);
        }
        return walk_block(udev, syspath, 0, false, false, &budget, d);
}

static int interface_cmp(const void *a, const void *b) {
        const MnInterface *x = a, *y = b;
        return strcmp(x->sysname ?: "", y->sysname ?: "");
}

/* The one classification of an interface, whether it was read from sysfs or from the descriptors. */
static void interface_classify(MnInterface *iface, bool mtp_hint) {
        iface->function = usb_class_classify(iface->cls, iface->subclass, iface->protocol, iface->label, mtp_hint);
        iface->keyboard = usb_interface_is_keyboard(iface->cls, iface->subclass, iface->protocol);
        iface->mouse = usb_interface_is_mouse(iface->cls, iface->subclass, iface->protocol);
}

/* Reads the sysfs attribute name of the directory dfd: at most size bytes into buf. */
static int read_at(int dfd, const char *name, void *buf, size_t size, size_t *ret_n) {
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);

        if (fd < 0)
                return -errno;
        return read_up_to(fd, buf, size, ret_n);
}

/* A sysfs attribute of the directory dfd exactly as libudev's udev_device_get_sysattr_value() gives it:
 * without its trailing newline only; NULL when missing or empty. */
static char *sysattr_at(int dfd, const char *name, char *buf, size_t size) {
        size_t n;

        if (read_at(dfd, name, buf, size - 1, &n) < 0)
                return NULL;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
        buf[n] = 0;
        return n > 0 ? buf : NULL;
}

/* The same without trailing blanks either (interface attributes). */
static char *attr_at(int dfd, const char *name, char *buf, size_t size) {
        char *v = sysattr_at(dfd, name, buf, size);
        size_t n = v ? strlen(v) : 0;
        while (n > 0 && v[n - 1] == ' ')
                v[--n] = 0;
        return n > 0 ? v : NULL;
}

/* Whether the uevent attribute of the directory dfd says DEVTYPE=usb_interface. */
static bool is_usb_interface_at(int dfd) {
        char buf[4096];
        const char *l = attr_at(dfd, "uevent", buf, sizeof(buf));
        while (l) {
                if (strncmp(l, "DEVTYPE=usb_interface", 21) == 0 && (l[21] == '\n' || l[21] == 0))
                        return true;
                l = strchr(l, '\n');
                if (l)
                        l++;
        }
        return false;
}

/* An interface from its sysfs directory (dfd, named name under the device's syspath). Read through the
 * directory fd: a udev device for each interface cost a path walk of its own (libudev's chase()). */
static int interface_at(int dfd, const char *dev_syspath, const char *name, bool mtp_hint, MnInterface *ret) {
        _cleanup_(interface_done) MnInterface iface = {};
        _cleanup_free_ char *path = NULL;
        char a[8], b[8], c[8], label[4096];
        int r;

        /* The kernel always writes these; without them the interface is going away. */
        if (parse_hex2(attr_at(dfd, "bInterfaceClass", a, sizeof(a)), &iface.cls) < 0 ||
            parse_hex2(attr_at(dfd, "bInterfaceSubClass", b, sizeof(b)), &iface.subclass) < 0 ||
            parse_hex2(attr_at(dfd, "bInterfaceProtocol", c, sizeof(c)), &iface.protocol) < 0)
                return -ENODEV;
        if (asprintf(&path, "%s/%s", dev_syspath, name) < 0)
                return -ENOMEM;
        if ((r = dup_untrusted(path, &iface.syspath)) < 0 || (r = dup_untrusted(name, &iface.sysname)) < 0 ||
            (r = dup_untrusted(attr_at(dfd, "interface", label, sizeof(label)), &iface.label)) < 0)
                return r;

        interface_classify(&iface, mtp_hint);
        *ret = iface;
        iface = (MnInterface) {};
        return 0;
}

/* The usb_interface children of a usb_device: the subdirectories named "<device>:<config>.<interface>"
 * of its sysfs directory (read directly: no enumeration of the whole usb subsystem per event). */
static int collect_interfaces(struct udev_device *dev, int dfd, bool mtp_hint, MnDevice *d) {
        const char *dev_syspath = udev_device_get_syspath(dev), *sysname = udev_device_get_sysname(dev);
        int lfd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        _cleanup_(closedirp) DIR *dir = lfd >= 0 ? fdopendir(lfd) : NULL;
        struct dirent *de;
        size_t snlen = strlen(sysname ?: "");
        int r;

        if (!dir && lfd >= 0)
                close(lfd);
        if (!dir || !sysname)
                return 0; /* gone meanwhile: no interfaces */
        while ((de = readdir(dir))) {
                if (de->d_type != DT_DIR || strncmp(de->d_name, sysname, snlen) != 0 || de->d_name[snlen] != ':')
                        continue;
                _cleanup_close_ int ifd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (ifd < 0 || !is_usb_interface_at(ifd))
                        continue;

                if (d->n_interfaces >= MN_DEVICE_MAX_INTERFACES)
                        return -E2BIG;
                MnInterface *v = reallocarray(d->interfaces, d->n_interfaces + 1, sizeof(MnInterface));
                if (!v)
                        return -ENOMEM;
                d->interfaces = v;
                r = interface_at(ifd, dev_syspath, de->d_name, mtp_hint, &d->interfaces[d->n_interfaces]);
                if (r == -ENODEV)
                        continue;
                if (r < 0)
                        return r;
                d->classes |= USB_CLASS_BIT(d->interfaces[d->n_interfaces].function);
                d->n_interfaces++;
        }
        /* readdir order is the directory's; keep the interfaces in name order for stable output */
        if (d->n_interfaces > 1)
                qsort(d->interfaces, d->n_interfaces, sizeof(MnInterface), interface_cmp);
        return 0;
}

/* A small decimal sysfs value such as bNumInterfaces (" 2") or bConfigurationValue ("1"). -ENODATA
 * when empty (an unconfigured device). */
static int parse_small_uint(const char *s, unsigned max, unsigned *ret) {
        uint64_t v;

        if (!s)
                return -ENODATA;
        while (*s == ' ')
                s++;
        if (isempty(s))
                return -ENODATA;
        if (parse_u64(s, &v) < 0 || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* The binary "descriptors" attribute, read through the device's directory. It holds NUL bytes, so
 * libudev's string attributes cannot carry it. */
static int read_descriptors(int dfd, uint8_t **ret, size_t *ret_n) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n;
        int r;

        /* One byte more than allowed tells a file that is too long. */
        buf = malloc(MN_USB_DESCRIPTORS_MAX + 1);
        if (!buf)
                return -ENOMEM;
        if ((r = read_at(dfd, "descriptors", buf, MN_USB_DESCRIPTORS_MAX + 1, &n)) < 0)
                return r;
        if (n > MN_USB_DESCRIPTORS_MAX)
                return -EFBIG;
        *ret = TAKE_PTR(buf);
        *ret_n = n;
        return 0;
}

static bool has_interface_named(const MnDevice *d, const char *sysname) {
        for (size_t i = 0; i < d->n_interfaces; i++)
                if (streq_ptr(d->interfaces[i].sysname, sysname))
                        return true;
        return false;
}

/* Adds the interfaces that the descriptors list and sysfs does not show: all of them for a device that
 * is deauthorized (the kernel removed its interfaces) or not configured yet, the missing ones while
 * the kernel is still creating them. Of the active configuration when there is one, else of every
 * configuration. Anything unreadable or malformed makes the functions unknown. */
static int add_interfaces_from_descriptors(int dfd, bool mtp_hint, MnDevice *d, uint8_t *ret_device_class) {
        _cleanup_free_ uint8_t *buf = NULL;
        MnUsbDescriptors desc;
        unsigned config = 0;
        size_t n = 0;
        int r;

        *ret_device_class = 0;
        char cv[16];
        (void) parse_small_uint(sysattr_at(dfd, "bConfigurationValue", cv, sizeof(cv)), UINT8_MAX, &config);
        r = read_descriptors(dfd, &buf, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || mn_usb_descriptors_parse(buf, n, (uint8_t) config, &desc) < 0) {
                d->functions_unknown = true;
                return 0;
        }
        *ret_device_class = desc.device_class;
        if (desc.truncated)
                d->functions_unknown = true;

        for (size_t k = 0; k < desc.n_interfaces; k++) {
                const MnUsbDescInterface *di = &desc.interfaces[k];
                _cleanup_(interface_done) MnInterface iface = {
                        .cls = di->cls,
                        .subclass = di->subclass,
                        .protocol = di->protocol,
                        .from_descriptors = true,
                };

                /* Named as the kernel names interfaces: "<device>:<configuration>.<interface>". */
                if (asprintf(&iface.sysname, "%s:%u.%u", d->sysname, di->config, di->number) < 0) {
                        iface.sysname = NULL;
                        return -ENOMEM;
                }
                if (has_interface_named(d, iface.sysname))
                        continue;
                if (asprintf(&iface.syspath, "%s/%s", d->syspath, iface.sysname) < 0) {
                        iface.syspath = NULL;
                        return -ENOMEM;
                }
                if (d->n_interfaces >= MN_DEVICE_MAX_INTERFACES) {
                        d->functions_unknown = true;
                        break;
                }
                MnInterface *v = reallocarray(d->interfaces, d->n_interfaces + 1, sizeof(MnInterface));
                if (!v)
                        return -ENOMEM;
                d->interfaces = v;
                interface_classify(&iface, mtp_hint);
                d->classes |= USB_CLASS_BIT(iface.function);
                d->interfaces[d->n_interfaces++] = iface;
                iface = (MnInterface) {};
        }
        return 0;
}

/* Whether the product string names MTP ("MTP", "Android MTP Device", ...): with the interface strings
 * gone (a deauthorized device), the one hint left besides udev's ID_MTP_DEVICE. */
static bool product_says_mtp(const char *product) {
        if (!product)
                return false;
        for (const char *p = strcasestr(product, "MTP"); p; p = strcasestr(p + 1, "MTP")) {
                bool start = p == product || p[-1] == ' ', end = p[3] == 0 || p[3] == ' ';
                if (start && end)
                        return true;
        }
        return false;
}

static bool usb_device_is_hub(const char *device_class, const MnDevice *d) {
        if (streq_ptr(device_class, "09"))
                return true;
        if (d->n_interfaces == 0)
                return false;
        for (size_t i = 0; i < d->n_interfaces; i++)
                if (d->interfaces[i].cls != 0x09)
                        return false;
        return true;
}

static int device_new_usb(struct udev_device *dev, MnDevice **ret) {
        _cleanup_(mn_device_freep) MnDevice *d = NULL;
        struct udev *udev = udev_device_get_udev(dev);
        const char *v;
        int r;

        d = calloc(1, sizeof(MnDevice));
        if (!d)
                return -ENOMEM;

        /* The attributes are read through one fd on the device's directory: libudev's sysattr reads cost
         * a stat and an open by path each (coldplug of 500 sticks under umockdev: 8 of them per stick). */
        _cleanup_close_ int dfd = open(udev_device_get_syspath(dev), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char product[4096], buf[4096], dev_class[16];
        /* Not opened (gone meanwhile, or out of fds): nothing can be read, the descriptors neither, so
         * the functions are unknown and the device is blocked (fail closed). */
        const char *product_v = sysattr_at(dfd, "product", product, sizeof(product));

        v = udev_device_get_property_value(dev, "ID_MEDIA_PLAYER");
        bool mtp_hint = streq_ptr(udev_device_get_property_value(dev, "ID_MTP_DEVICE"), "1") || !isempty(v) ||
                        product_says_mtp(product_v);

        r = collect_interfaces(dev, dfd, mtp_hint, d);
        if (r < 0)
                return r;

        if ((r = dup_untrusted(udev_device_get_syspath(dev), &d->syspath)) < 0 ||
            (r = dup_untrusted(udev_device_get_sysname(dev), &d->sysname)) < 0 ||
            (r = dup_untrusted("usb", &d->bus)) < 0 ||
            (r = dup_untrusted(sysattr_at(dfd, "serial", buf, sizeof(buf)), &d->serial)) < 0 ||
            (r = dup_untrusted(sysattr_at(dfd, "manufacturer", buf, sizeof(buf)), &d->manufacturer)) < 0 ||
            (r = dup_untrusted(product_v, &d->model)) < 0)
                return r;

        d->has_ids = parse_hex4(sysattr_at(dfd, "idVendor", buf, sizeof(buf)), &d->vendor) >= 0 &&
                     parse_hex4(sysattr_at(dfd, "idProduct", buf, sizeof(buf)), &d->product) >= 0;

        v = sysattr_at(dfd, "authorized", buf, sizeof(buf));
        d->has_authorized = v != NULL;
        d->authorized = streq_ptr(v, "1");

        /* A deauthorized device has no interfaces in sysfs; one being configured may not have them all
         * yet. Either way the descriptors tell what it is. */
        unsigned want = 0;
        uint8_t device_class = 0;
        if (d->n_interfaces == 0 ||
            (parse_small_uint(sysattr_at(dfd, "bNumInterfaces", buf, sizeof(buf)), UINT8_MAX, &want) >= 0 &&
             d->n_interfaces < want)) {
                r = add_interfaces_from_descriptors(dfd, mtp_hint, d, &device_class);
                if (r < 0)
                        return r;
        }
        if (device_class == 0x09 || usb_device_is_hub(sysattr_at(dfd, "bDeviceClass", dev_class, sizeof(dev_class)), d))
                return -ENODEV;

        r = collect_filesystems(udev, dev, d);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(d);
        return 0;
}

static bool block_is_removable(struct udev_device *dev) {
        return streq_ptr(udev_device_get_sysattr_value(dev, "removable"), "1") ||
               streq_ptr(udev_device_get_property_value(dev, "ID_CDROM"), "1") ||
               /* SD/MMC cards report removable=0: the card, not the slot, is the medium. */
               udev_device_get_parent_with_subsystem_devtype(dev, "mmc", NULL);
}

/* A disk that agent.conf's removable-patterns names. Only while it holds a medium: an unbound loop
 * device (size 0) is not a medium, unlike an empty card reader, which is a real removable drive. */
static bool block_is_extra_removable(struct udev_device *dev, const MnRemovablePatterns *extra) {
        const char *size;

        if (!mn_removable_patterns_match(extra, udev_device_get_sysname(dev)))
                return false;
        size = udev_device_get_sysattr_value(dev, "size");
        return !isempty(size) && !streq(size, "0");
}

static const char *block_bus(struct udev_device *dev) {
        const char *bus = udev_device_get_property_value(dev, "ID_BUS");
        if (!isempty(bus))
                return bus;
        if (udev_device_get_parent_with_subsystem_devtype(dev, "mmc", NULL))
                return "mmc";
        for (struct udev_device *p = udev_device_get_parent(dev); p; p = udev_device_get_parent(p)) {
                const char *s = udev_device_get_subsystem(p);
                if (!isempty(s))
                        return s;
        }
        return NULL;
}

static int device_new_block(struct udev_device *dev, const MnRemovablePatterns *extra, MnDevice **ret) {
        _cleanup_(mn_device_freep) MnDevice *d = NULL;
        bool is_mmc, by_pattern = false;
        const char *v;
        int r;

        if (!block_is_removable(dev)) {
                if (!block_is_extra_removable(dev, extra))
                        return -ENODEV;
                by_pattern = true;
        }
        /* A disk on USB is part of its usb_device's entry. */
        if (udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_device"))
                return -ENODEV;
        is_mmc = udev_device_get_parent_with_subsystem_devtype(dev, "mmc", NULL);

        d = calloc(1, sizeof(MnDevice));
        if (!d)
                return -ENOMEM;
        d->extra_removable = by_pattern;

        if ((r = dup_untrusted(udev_device_get_syspath(dev), &d->syspath)) < 0 ||
            (r = dup_untrusted(udev_device_get_sysname(dev), &d->sysname)) < 0 ||
            (r = dup_untrusted(block_bus(dev), &d->bus)) < 0 ||
            (r = dup_udev_name(dev, "ID_VENDOR_ENC", "ID_VENDOR", &d->manufacturer)) < 0 ||
            (r = dup_udev_name(dev, "ID_MODEL_ENC", "ID_MODEL", &d->model)) < 0)
                return r;

        /* udev names SD/MMC cards with ID_NAME and ID_SERIAL (the card's serial attribute). */
        v = udev_device_get_property_value(dev, "ID_SERIAL_SHORT");
        if (isempty(v) && is_mmc)
                v = udev_device_get_property_value(dev, "ID_SERIAL");
        if ((r = dup_untrusted(v, &d->serial)) < 0)
                return r;
        if (!d->model && (r = dup_untrusted(udev_device_get_property_value(dev, "ID_NAME"), &d->model)) < 0)
                return r;

        d->has_ids = parse_hex4(udev_device_get_property_value(dev, "ID_VENDOR_ID"), &d->vendor) >= 0 &&
                     parse_hex4(udev_device_get_property_value(dev, "ID_MODEL_ID"), &d->product) >= 0;
        d->optical = streq_ptr(udev_device_get_property_value(dev, "ID_CDROM"), "1");
        d->classes = USB_CLASS_BIT(USB_CLASS_STORAGE);

        r = collect_filesystems(udev_device_get_udev(dev), dev, d);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(d);
        return 0;
}

int mn_device_new_from_udev_with_patterns(struct udev_device *dev, const MnRemovablePatterns *extra,
                                          MnDevice **ret) {
        const char *subsystem = udev_device_get_subsystem(dev);
        const char *devtype = udev_device_get_devtype(dev);

        if (streq_ptr(subsystem, "usb") && streq_ptr(devtype, "usb_device"))
                return device_new_usb(dev, ret);
        if (streq_ptr(subsystem, "block") && streq_ptr(devtype, "disk"))
                return device_new_block(dev, extra, ret);
        return -ENODEV;
}

int mn_device_new_from_udev(struct udev_device *dev, MnDevice **ret) {
        return mn_device_new_from_udev_with_patterns(dev, NULL, ret);
}

void mn_devices_free(MnDevice **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                mn_device_free(v[i]);
        free(v);
}

typedef struct DeviceList {
        MnDevice **v;
        size_t n;
} DeviceList;

static void device_list_done(DeviceList *l) {
        mn_devices_free(l->v, l->n);
}

static int device_cmp(const void *a, const void *b) {
        const MnDevice *x = *(MnDevice *const *) a, *y = *(MnDevice *const *) b;
        return strcmp(x->syspath ?: "", y->syspath ?: "");
}

/* Builds the view of dev and adds it to l when it is a device mnguard decides. */
static int device_list_add(DeviceList *l, struct udev_device *dev, const MnRemovablePatterns *extra) {
        MnDevice *d;
        int r = mn_device_new_from_udev_with_patterns(dev, extra, &d);
        if (r == -ENODEV || r == -ENOENT || r == -ENXIO)
                return 0; /* not one we decide, or unplugged meanwhile */
        if (r < 0)
                return r;
        if (l->n >= MN_DEVICES_MAX) {
                mn_device_free(d);
                return -E2BIG;
        }
        MnDevice **v = reallocarray(l->v, l->n + 1, sizeof(MnDevice *));
        if (!v) {
                mn_device_free(d);
                return -ENOMEM;
        }
        l->v = v;
        l->v[l->n++] = d;
        return 0;
}

/* The usb_devices: the kernel's list in /sys/bus/usb/devices read directly, so that the interfaces listed
 * there too ("1-1:1.0", read with their device by collect_interfaces()) cost no udev device each (libudev's
 * enumeration builds one per entry, a path walk each). No usb_device has a ':' in its kernel name. */
static int enumerate_usb(struct udev *udev, DeviceList *l) {
        _cleanup_(closedirp) DIR *dir = opendir("/sys/bus/usb/devices");
        struct dirent *de;
        int r;

        if (!dir)
                return errno == ENOENT ? 0 : -errno; /* no USB at all */
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.' || strchr(de->d_name, ':'))
                        continue;
                _cleanup_(udev_device_unrefp) struct udev_device *dev =
                        udev_device_new_from_subsystem_sysname(udev, "usb", de->d_name);
                if (!dev)
                        continue; /* unplugged meanwhile */
                if ((r = device_list_add(l, dev, NULL)) < 0)
                        return r;
        }
        return 0;
}

int mn_devices_enumerate_with_patterns(struct udev *udev, const MnRemovablePatterns *extra, MnDevice ***ret,
                                       size_t *ret_n) {
        _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
        _cleanup_(device_list_done) DeviceList l = {};
        struct udev_list_entry *entry;
        int r;

        if ((r = enumerate_usb(udev, &l)) < 0)
                return r;
        /* No udev_enumerate_add_match_is_initialized(): a device udev has not processed yet is still
         * plugged in, and testbeds never mark devices initialized. */
        e = udev_enumerate_new(udev);
        if (!e)
                return -ENOMEM;
        if ((r = udev_enumerate_add_match_subsystem(e, "block")) < 0 || (r = udev_enumerate_scan_devices(e)) < 0)
                return r;
        udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
                _cleanup_(udev_device_unrefp) struct udev_device *dev =
                        udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
                if (!dev)
                        continue; /* unplugged meanwhile */
                if ((r = device_list_add(&l, dev, extra)) < 0)
                        return r;
        }

        if (l.n > 1)
                qsort(l.v, l.n, sizeof(MnDevice *), device_cmp);
        *ret = TAKE_PTR(l.v);
        *ret_n = l.n;
        l.n = 0;
        return 0;
}

int mn_devices_enumerate(struct udev *udev, MnDevice ***ret, size_t *ret_n) {
        return mn_devices_enumerate_with_patterns(udev, NULL, ret, ret_n);
}

void mn_device_to_policy(const MnDevice *d, PolicyDevice *ret, PolicyInterface *storage,
                         const char **fs_storage) {
        for (size_t i = 0; i < d->n_interfaces; i++)
                storage[i] = (PolicyInterface) { .cls = d->interfaces[i].function };
        for (size_t i = 0; i < d->n_fs; i++) {
                fs_storage[i] = d->fs[i].uuid;
                fs_storage[d->n_fs + i] = d->fs[i].label;
        }

        *ret = (PolicyDevice) {
                .bus = d->bus,
                .has_ids = d->has_ids,
                .vendor = d->vendor,
                .product = d->product,
                .serial = d->serial,
                .fs_uuids = fs_storage,
                .fs_labels = fs_storage + d->n_fs,
                .n_fs = d->n_fs,
                .interfaces = storage,
                .n_interfaces = d->n_interfaces,
                .is_storage = d->classes & USB_CLASS_BIT(USB_CLASS_STORAGE),
        };
}

int mn_device_decide(const MnDevice *d, const Policy *p, const PolicySubject *subject, int64_t today,
                     PolicyDecision *ret, bool **ret_interface_blocked) {
        _cleanup_free_ PolicyInterface *ifaces = NULL;
        _cleanup_free_ const char **fs = NULL;
        _cleanup_free_ bool *blocked = NULL;
        PolicyDevice pd;

        /* calloc(0) may return NULL: allocate at least one element. */
        ifaces = calloc(d->n_interfaces ?: 1, sizeof(PolicyInterface));
        fs = calloc(d->n_fs ? 2 * d->n_fs : 1, sizeof(const char *));
        blocked = calloc(d->n_interfaces ?: 1, sizeof(bool));
        if (!ifaces || !fs || !blocked)
                return -ENOMEM;

        mn_device_to_policy(d, &pd, ifaces, fs);
        policy_decide_device(p, &pd, subject, today, ret, blocked);
        if (d->functions_unknown && ret->rule && streq(ret->rule, POLICY_RULE_DEFAULT)) {
                /* Fail closed: a device we cannot see into is not let in by the defaults. */
                ret->verdict = VERDICT_BLOCK;
                ret->storage = MEDIA_BLOCK;
                ret->blocked |= d->classes;
                ret->reason = "USB functions unknown (descriptors unreadable or malformed)";
                for (size_t i = 0; i < d->n_interfaces; i++)
                        blocked[i] = true;
        }
        if (ret_interface_blocked)
                *ret_interface_blocked = TAKE_PTR(blocked);
        return 0;
}

struct udev_device *mn_device_physical_parent(struct udev_device *dev) {
        const char *subsystem = udev_device_get_subsystem(dev), *devtype = udev_device_get_devtype(dev);
        struct udev_device *usb;

        if (streq_ptr(subsystem, "usb") && streq_ptr(devtype, "usb_device"))
                return dev;
        if (streq_ptr(subsystem, "usb") && streq_ptr(devtype, "usb_interface"))
                return udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_device");
        if (!streq_ptr(subsystem, "block"))
                return NULL;
        usb = udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_device");
        if (usb)
                return usb;
        if (streq_ptr(devtype, "partition"))
                return udev_device_get_parent_with_subsystem_devtype(dev, "block", "disk");
        return streq_ptr(devtype, "disk") ? dev : NULL;
}
