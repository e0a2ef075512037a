/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: a USB device's sysfs attributes, its interface's, its disk's udev properties and
 * its raw descriptors, all of which the device (its firmware, its medium) chooses, read as the agent
 * reads them: the device classified (agent/device.c mn_device_new_from_udev), decided, described as JSON
 * (mnguardctl devices, event records), and mnguard-udev's decision printed as udev properties for the
 * device, its interface and its disk (agent/udev-helper.c mn_udev_decide).
 * The device is built in a umockdev testbed for each input (run under umockdev-wrapper, like the other
 * umockdev tests: without the preload library the target has nothing to read and says so once).
 * The input is NUL-separated fields, in the order of the table below; the last, the binary descriptors,
 * takes the rest. Missing fields are left out of sysfs / udev.
 * Invariants: mnguard-udev's output is KEY=VALUE lines whose values are escaped (no newline, nothing
 * udev could read as another property or a substitution); the device's strings are valid UTF-8 within
 * their bound, and its JSON parses back. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umockdev.h>
#include <unistd.h>

#include "device-json.h"
#include "device.h"
#include "fuzz-util.h"
#include "macro.h"
#include "strutil.h"
#include "udev-helper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
        F_ID_VENDOR, F_ID_PRODUCT, F_DEVICE_CLASS, F_SERIAL, F_MANUFACTURER, F_PRODUCT, F_AUTHORIZED,
        F_CONFIG_VALUE, F_NUM_INTERFACES, F_ID_MTP_DEVICE, F_ID_MEDIA_PLAYER,
        F_IF_CLASS, F_IF_SUBCLASS, F_IF_PROTOCOL, F_IF_LABEL,
        F_DISK_ID_VENDOR_ENC, F_DISK_ID_MODEL_ENC, F_DISK_ID_SERIAL_SHORT, F_FS_TYPE, F_FS_UUID, F_FS_LABEL,
        F_DESCRIPTORS, _F_MAX
};

static UMockdevTestbed *tb;
static char *root_hub;
static Policy *policy;

static const char policy_text[] =
        "mnguard-policy: 1\nserial: 3\nname: fuzz devices\n"
        "defaults: {storage: read-only}\n"
        "media:\n"
        "  - {name: known stick, match: {vendor: \"0781\", product: \"5581\"}, access: read-write}\n"
        "  - {name: by serial, match: {serial: \"4C530001230101117384\"}, access: block}\n";

/* The testbed's directory in $TMPDIR goes with it. */
static void teardown(void) {
        g_clear_object(&tb);
        g_free(root_hub);
        policy_free(policy);
}

static bool setup(void) {
        static bool tried, ok;
        if (tried)
                return ok;
        tried = true;
        const char *preload = getenv("LD_PRELOAD");
        if (!preload || !strstr(preload, "umockdev")) {
                fprintf(stderr, "fuzz-udev-device: run it under umockdev-wrapper (LD_PRELOAD=libumockdev-preload)\n");
                exit(77); /* skipped, as ctest counts it */
        }
        PolicyDiagnostics d;
        FUZZ_CHECK(policy_parse(policy_text, strlen(policy_text), &policy, &d) == 0);
        policy_diagnostics_clear(&d);
        tb = umockdev_testbed_new();
        FUZZ_CHECK(tb);
        atexit(teardown);
        root_hub = umockdev_testbed_add_device(tb, "usb", "usb1", NULL, "idVendor", "1d6b", "idProduct", "0002",
                                               "bDeviceClass", "09", NULL, "DEVTYPE", "usb_device", NULL);
        FUZZ_CHECK(root_hub);
        ok = true;
        return ok;
}

/* Adds name=value to a NULL-terminated GLib-style list when the field is there. */
static void add(const char **v, size_t *n, const char *name, const char *value) {
        if (!value)
                return;
        v[(*n)++] = name;
        v[(*n)++] = value;
        v[*n] = NULL;
}

/* What mnguard-udev prints must be read by udev as exactly those properties. */
static void check_udev_output(const char *text, size_t len) {
        FUZZ_CHECK(strlen(text) == len);
        for (const char *line = text; *line;) {
                const char *nl = strchr(line, '\n');
                FUZZ_CHECK(nl);
                const char *eq = memchr(line, '=', (size_t) (nl - line));
                FUZZ_CHECK(eq && eq > line);
                for (const char *k = line; k < eq; k++)
                        FUZZ_CHECK((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_');
                for (const char *c = eq + 1; c < nl; c++) {
                        bool edge = c == eq + 1 || c + 1 == nl;
                        FUZZ_CHECK((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                                   (*c && strchr(",._:/@+()-\\", *c)) || (*c == ' ' && !edge));
                        /* a backslash only as the start of \xNN */
                        if (*c == '\\')
                                FUZZ_CHECK(c + 3 < nl && c[1] == 'x');
                }
                line = nl + 1;
        }
}

static void decide_path(struct udev *udev, const char *syspath) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        FUZZ_CHECK(f);
        MnUdevContext ctx = { .policy = policy, .snapshot = MN_SNAPSHOT_OK, .today = 20783 };
        int r = mn_udev_decide(udev, syspath, &ctx, f);
        fclose(f);
        if (r == 0)
                check_udev_output(text, len);
        free(text);
}

static void check_string(const char *s) {
        if (s)
                FUZZ_CHECK(strlen(s) <= MN_UNTRUSTED_MAX + 3 && utf8_is_valid(s, strlen(s), NULL));
}

static void classify(struct udev *udev, const char *syspath) {
        struct udev_device *dev = udev_device_new_from_syspath(udev, syspath);
        MnDevice *d = NULL;
        if (!dev)
                return;
        int r = mn_device_new_from_udev(dev, &d);
        udev_device_unref(dev);
        if (r < 0) {
                FUZZ_CHECK(r == -ENODEV || r == -E2BIG || r == -ENOMEM || r == -ENOENT || r == -ENXIO);
                return;
        }
        check_string(d->serial);
        check_string(d->manufacturer);
        check_string(d->model);
        FUZZ_CHECK(d->n_interfaces <= MN_DEVICE_MAX_INTERFACES);
        for (size_t i = 0; i < d->n_interfaces; i++) {
                check_string(d->interfaces[i].label);
                FUZZ_CHECK(d->classes & USB_CLASS_BIT(d->interfaces[i].function));
        }
        for (size_t i = 0; i < d->n_fs; i++) {
                check_string(d->fs[i].type);
                check_string(d->fs[i].uuid);
                check_string(d->fs[i].label);
        }

        PolicyDecision dec;
        bool *blocked = NULL;
        if (mn_device_decide(d, policy, NULL, 20783, &dec, &blocked) == 0) {
                /* a device whose functions are unknown and that no rule named is blocked whole */
                if (d->functions_unknown && dec.rule && streq(dec.rule, POLICY_RULE_DEFAULT))
                        FUZZ_CHECK(dec.verdict == VERDICT_BLOCK);
                json_object *o = mn_device_to_json(d, &dec, blocked);
                if (o) {
                        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                        json_object *back = json_tokener_parse(s);
                        FUZZ_CHECK(back);
                        json_object_put(back);
                        json_object_put(o);
                }
                free(blocked);
        }
        json_object *ev = json_object_new_object();
        if (ev && mn_device_event_fields(ev, d) == 0)
                FUZZ_CHECK(json_object_to_json_string(ev));
        json_object_put(ev);
        mn_device_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *f[_F_MAX];
        const char *attrs[2 * 16 + 1], *props[2 * 16 + 1];
        size_t na = 0, np = 0;

        if (!setup())
                return 0;
        (void) fuzz_split(data, size, 0, f, _F_MAX);

        /* the device */
        attrs[0] = props[0] = NULL;
        add(attrs, &na, "idVendor", f[F_ID_VENDOR]);
        add(attrs, &na, "idProduct", f[F_ID_PRODUCT]);
        add(attrs, &na, "bDeviceClass", f[F_DEVICE_CLASS]);
        add(attrs, &na, "serial", f[F_SERIAL]);
        add(attrs, &na, "manufacturer", f[F_MANUFACTURER]);
        add(attrs, &na, "product", f[F_PRODUCT]);
        add(attrs, &na, "authorized", f[F_AUTHORIZED]);
        add(attrs, &na, "bConfigurationValue", f[F_CONFIG_VALUE]);
        add(attrs, &na, "bNumInterfaces", f[F_NUM_INTERFACES]);
        add(props, &np, "DEVTYPE", "usb_device");
        add(props, &np, "ID_MTP_DEVICE", f[F_ID_MTP_DEVICE]);
        add(props, &np, "ID_MEDIA_PLAYER", f[F_ID_MEDIA_PLAYER]);
        char *dev = umockdev_testbed_add_devicev(tb, "usb", "1-4", root_hub, (gchar **) attrs, (gchar **) props);
        if (!dev)
                goto finish;
        if (f[F_DESCRIPTORS]) {
                /* the last field holds the rest of the input, NULs included: from after the other
                 * fields and their separators */
                size_t consumed = 0;
                for (size_t i = 0; i < F_DESCRIPTORS; i++)
                        consumed += strlen(f[i]) + 1;
                if (consumed <= size)
                        umockdev_testbed_set_attribute_binary(tb, dev, "descriptors", (guint8 *) data + consumed,
                                                              (gssize) (size - consumed));
        }

        /* an interface in sysfs, when the class triple is there */
        char *iface = NULL, *host = NULL, *disk = NULL;
        if (f[F_IF_CLASS] && f[F_IF_SUBCLASS] && f[F_IF_PROTOCOL]) {
                na = np = 0;
                add(attrs, &na, "bInterfaceClass", f[F_IF_CLASS]);
                add(attrs, &na, "bInterfaceSubClass", f[F_IF_SUBCLASS]);
                add(attrs, &na, "bInterfaceProtocol", f[F_IF_PROTOCOL]);
                add(attrs, &na, "interface", f[F_IF_LABEL]);
                add(props, &np, "DEVTYPE", "usb_interface");
                iface = umockdev_testbed_add_devicev(tb, "usb", "1-4:1.0", dev, (gchar **) attrs, (gchar **) props);
        }
        /* a disk below it, with what udev read from the device and its medium */
        if (iface) {
                host = umockdev_testbed_add_device(tb, "scsi", "host7", iface, NULL, "DEVTYPE", "scsi_host", NULL);
                na = np = 0;
                add(attrs, &na, "removable", "1");
                add(attrs, &na, "size", "7831552");
                add(props, &np, "DEVTYPE", "disk");
                add(props, &np, "DEVNAME", "/dev/sdx");
                add(props, &np, "ID_BUS", "usb");
                add(props, &np, "ID_VENDOR_ENC", f[F_DISK_ID_VENDOR_ENC]);
                add(props, &np, "ID_MODEL_ENC", f[F_DISK_ID_MODEL_ENC]);
                add(props, &np, "ID_SERIAL_SHORT", f[F_DISK_ID_SERIAL_SHORT]);
                add(props, &np, "ID_FS_TYPE", f[F_FS_TYPE] ?: "vfat");
                add(props, &np, "ID_FS_UUID", f[F_FS_UUID]);
                add(props, &np, "ID_FS_LABEL", f[F_FS_LABEL]);
                if (host)
                        disk = umockdev_testbed_add_devicev(tb, "block", "sdx", host, (gchar **) attrs, (gchar **) props);
        }

        struct udev *udev = udev_new();
        if (udev) {
                classify(udev, dev);
                decide_path(udev, dev);
                if (iface)
                        decide_path(udev, iface);
                if (disk) {
                        classify(udev, disk);
                        decide_path(udev, disk);
                }
                udev_unref(udev);
        }

        if (disk) {
                umockdev_testbed_remove_device(tb, disk);
                /* umockdev leaves /sys/block/NAME behind, and would not add the disk again */
                char *sys = umockdev_testbed_get_sys_dir(tb);
                char *link = g_build_filename(sys, "block", "sdx", NULL);
                (void) unlink(link);
                g_free(link);
                g_free(sys);
        }
        if (host)
                umockdev_testbed_remove_device(tb, host);
        if (iface)
                umockdev_testbed_remove_device(tb, iface);
        umockdev_testbed_remove_device(tb, dev);
        g_free(disk);
        g_free(host);
        g_free(iface);
        g_free(dev);
finish:
        fuzz_fields_free(f, _F_MAX);
        return 0;
}
