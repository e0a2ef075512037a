/* SPDX-License-Identifier: GPL-2.0-or-later */
/* USB enforcement on umockdev testbeds, in process: the demo device set (tests/data/devices/
 * demo.umockdev) decided by demo-policy.yaml, guarded by the lockout guard and applied with
 * usb-enforce; then the sysfs "authorized" files are read back. Also: audit mode, re-allowing, the
 * last keyboard, and devices the kernel has deauthorized (interfaces gone, classified from the binary
 * "descriptors" attribute). Needs umockdev-wrapper (LD_PRELOAD=libumockdev-preload); exits 77 without. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "device.h"
#include "fileio.h"
#include "lockout.h"
#include "macro.h"
#include "policy.h"
#include "usb-enforce.h"

#ifndef DEVICES_DATA_DIR
#error "DEVICES_DATA_DIR must name tests/data/devices"
#endif

#define DATA(f) DEVICES_DATA_DIR "/" f
#define USB1 "/sys/devices/pci0000:00/0000:00:14.0/usb1"
#define TODAY 20783 /* 2026-11-26 */
#define DESC_MAX 512

static const char open_policy[] =
        "mnguard-policy: 1\nserial: 9\nname: open\n"
        "defaults: {storage: read-write, usb-classes-blocked: []}\n";
static const char block_keyboard_policy[] =
        "mnguard-policy: 1\nserial: 10\nname: no keyboard\n"
        "media:\n  - {name: kbd, match: {vendor: \"046d\", product: \"c31c\"}, access: block}\n";
static const char block_phone_policy[] =
        "mnguard-policy: 1\nserial: 11\nname: no phone\n"
        "media:\n  - {name: phone, match: {serial: \"28021FDH2000ZK\"}, access: block}\n";

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref);

static Policy *parse_text(const char *text) {
        PolicyDiagnostics d;
        Policy *p = NULL;
        int r = policy_parse(text, strlen(text), &p, &d);
        for (size_t k = 0; k < d.n; k++)
                print_message("# policy %u:%u: %s\n", d.items[k].line, d.items[k].column, d.items[k].message);
        policy_diagnostics_clear(&d);
        assert_int_equal(r, 0);
        return p;
}

static Policy *parse_file(const char *path) {
        char *data = NULL;
        size_t n;
        assert_int_equal(read_full_file(path, POLICY_MAX_FILE_SIZE, &data, &n), 0);
        Policy *p = parse_text(data);
        free(data);
        return p;
}

/* What one pass of "decide, guard, enforce" did to every device present. */
typedef struct Applied {
        MnDevice **devices;
        size_t n;
        PolicyDecision *decisions;
        bool **blocked;
        MnLockoutEntry *entries;
        MnEnforceResult *results;
        int *rets;
} Applied;

static void applied_done(Applied *a) {
        for (size_t i = 0; i < a->n; i++)
                free(a->blocked[i]);
        free(a->blocked);
        free(a->decisions);
        free(a->entries);
        free(a->results);
        free(a->rets);
        mn_devices_free(a->devices, a->n);
        *a = (Applied) {};
}

/* As the daemon will: classify everything present, decide, run the lockout guard over the whole set,
 * then enforce device by device through a held directory fd. */
static void apply_policy(const Policy *p, Applied *a) {
        _cleanup_(udev_unrefp) struct udev *udev = udev_new();

        *a = (Applied) {};
        assert_non_null(udev);
        assert_int_equal(mn_devices_enumerate(udev, &a->devices, &a->n), 0);
        a->decisions = calloc(a->n, sizeof(PolicyDecision));
        a->blocked = calloc(a->n, sizeof(bool *));
        a->entries = calloc(a->n, sizeof(MnLockoutEntry));
        a->results = calloc(a->n, sizeof(MnEnforceResult));
        a->rets = calloc(a->n, sizeof(int));
        assert_true(a->decisions && a->blocked && a->entries && a->results && a->rets);

        for (size_t i = 0; i < a->n; i++) {
                assert_int_equal(mn_device_decide(a->devices[i], p, NULL, TODAY, &a->decisions[i], &a->blocked[i]), 0);
                a->entries[i] = (MnLockoutEntry) {
                        .device = a->devices[i],
                        .decision = &a->decisions[i],
                        .interface_blocked = a->blocked[i],
                };
        }
        assert_true(mn_lockout_apply(p, a->entries, a->n) >= 0);

        for (size_t i = 0; i < a->n; i++) {
                MnUsbPlan plan;
                int r = mn_usb_plan(a->devices[i], &a->decisions[i], a->blocked[i], &plan);
                if (r == -EOPNOTSUPP) {
                        a->rets[i] = r; /* not USB: the block layer's business */
                        continue;
                }
                assert_int_equal(r, 0);
                _cleanup_close_ int fd = mn_usb_open(a->devices[i]->syspath);
                assert_true(fd >= 0);
                a->rets[i] = mn_usb_enforce(fd, a->devices[i], &plan, &a->results[i]);
                if (a->rets[i] < 0)
                        print_message("# %s: %s\n", a->devices[i]->sysname, strerror(-a->rets[i]));
        }
}

static size_t find(const Applied *a, const char *sysname) {
        for (size_t i = 0; i < a->n; i++)
                if (streq(a->devices[i]->sysname, sysname))
                        return i;
        fail_msg("no device %s", sysname);
        return 0;
}

/* The "authorized" file, read as any program would: LD_PRELOAD redirects /sys to the testbed. */
static int authorized(const char *name) {
        const char *colon = strchr(name, ':');
        char path[256], buf[16] = {};

        /* "1-6:1.0" lives below "1-6". */
        if (colon)
                snprintf(path, sizeof(path), "%s/%.*s/%s/authorized", USB1, (int) (colon - name), name, name);
        else
                snprintf(path, sizeof(path), "%s/%s/authorized", USB1, name);
        FILE *f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open %s: %s", path, strerror(errno));
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                buf[--n] = 0;
        if (n != 1 || (buf[0] != '0' && buf[0] != '1'))
                fail_msg("%s holds \"%s\"", path, buf);
        return buf[0] - '0';
}

static void assert_authorized(const char *name, int want) {
        int got = authorized(name);
        if (got != want)
                fail_msg("%s: authorized=%d, want %d", name, got, want);
}

static int setup_demo(void **state) {
        UMockdevTestbed *tb = umockdev_testbed_new();
        GError *error = NULL;

        if (!umockdev_testbed_add_from_file(tb, DATA("demo.umockdev"), &error)) {
                fprintf(stderr, "# cannot load %s: %s\n", DATA("demo.umockdev"), error->message);
                g_error_free(error);
                g_object_unref(tb);
                return -1;
        }
        *state = tb;
        return 0;
}

static int teardown_testbed(void **state) {
        g_object_unref(*state);
        return 0;
}

static void test_demo(void **state) {
        Policy *p = parse_file(DATA("demo-policy.yaml"));
        Applied a;
        size_t i;

        apply_policy(p, &a);
        for (size_t k = 0; k < a.n; k++)
                assert_true(a.rets[k] == 0 || a.rets[k] == -EOPNOTSUPP);

        /* (a) unregistered stick: cut whole. */
        assert_authorized("1-1", 0);
        i = find(&a, "1-1");
        assert_true(a.results[i].whole_device);
        assert_true(a.results[i].changed);
        assert_int_equal(a.results[i].device.before, 1);
        assert_int_equal(a.results[i].device.after, 0);
        assert_int_equal(a.results[i].cut, USB_CLASS_BIT(USB_CLASS_STORAGE));

        /* (b) registered stick, (c) keyboard, (d) mouse: untouched. */
        assert_authorized("1-2", 1);
        assert_authorized("1-2:1.0", 1);
        assert_false(a.results[find(&a, "1-2")].changed);
        assert_authorized("1-3", 1);
        assert_authorized("1-3:1.0", 1);
        assert_authorized("1-3:1.1", 1);
        assert_authorized("1-4", 1);
        assert_false(a.results[find(&a, "1-3")].changed);
        assert_false(a.entries[find(&a, "1-3")].result.changed);

        /* (e) BadUSB: cut whole, while the real keyboard 1-3 is there. */
        assert_authorized("1-5", 0);
        i = find(&a, "1-5");
        assert_true(a.results[i].whole_device);
        assert_int_equal(a.results[i].cut, USB_CLASS_BIT(USB_CLASS_STORAGE) | USB_CLASS_BIT(USB_CLASS_HID));
        assert_false(a.entries[i].result.changed);

        /* (f) MTP phone: the device stays, its MTP interface goes, ADB stays. */
        assert_authorized("1-6", 1);
        assert_authorized("1-6:1.0", 0);
        assert_authorized("1-6:1.1", 1);
        i = find(&a, "1-6");
        assert_false(a.results[i].whole_device);
        assert_int_equal(a.results[i].n_cut, 1);
        assert_int_equal(a.results[i].cut, USB_CLASS_BIT(USB_CLASS_STILL_IMAGE));
        assert_int_equal(a.results[i].interfaces[0].after, 0);
        assert_int_equal(a.results[i].interfaces[1].after, 1);
        assert_false(a.results[i].interfaces[1].changed);

        /* (g) RNDIS tether: every function is network, so the device goes whole. */
        assert_authorized("1-7", 0);
        assert_true(a.results[find(&a, "1-7")].whole_device);

        /* Not USB: nothing to write (the SD card, the DVD). */
        assert_int_equal(a.rets[find(&a, "mmcblk0")], -EOPNOTSUPP);
        applied_done(&a);

        /* A second pass finds everything in place and writes nothing. */
        apply_policy(p, &a);
        for (size_t k = 0; k < a.n; k++)
                assert_false(a.results[k].changed);
        assert_authorized("1-1", 0);
        assert_authorized("1-6:1.0", 0);
        applied_done(&a);
        policy_free(p);
}

static void test_audit(void **state) {
        Policy *p = parse_file(DATA("demo-policy-audit.yaml"));
        Applied a;

        apply_policy(p, &a);
        size_t i = find(&a, "1-1");
        assert_true(a.results[i].audit);
        assert_true(a.results[i].changed); /* would change */
        assert_int_equal(a.results[i].device.before, 1);
        assert_int_equal(a.results[i].device.after, 0);
        assert_true(a.results[find(&a, "1-6")].interfaces[0].changed);

        /* Nothing was written. */
        static const char *const all[] = { "1-1", "1-2", "1-3", "1-4", "1-5", "1-6", "1-6:1.0", "1-6:1.1", "1-7", "1-7:1.0" };
        for (size_t k = 0; k < ELEMENTSOF(all); k++)
                assert_authorized(all[k], 1);
        applied_done(&a);
        policy_free(p);
}

static void test_reallow(void **state) {
        Policy *demo = parse_file(DATA("demo-policy.yaml")), *open = parse_text(open_policy);
        Applied a;

        apply_policy(demo, &a);
        applied_done(&a);
        assert_authorized("1-1", 0);

        /* A policy change allows everything: 1 goes back where 0 was. */
        apply_policy(open, &a);
        for (size_t k = 0; k < a.n; k++)
                assert_true(a.rets[k] == 0 || a.rets[k] == -EOPNOTSUPP);
        assert_authorized("1-1", 1);
        assert_authorized("1-5", 1);
        assert_authorized("1-6", 1);
        assert_authorized("1-6:1.0", 1);
        assert_authorized("1-7", 1);
        size_t i = find(&a, "1-1");
        assert_true(a.results[i].changed);
        assert_int_equal(a.results[i].restored, USB_CLASS_BIT(USB_CLASS_STORAGE));
        assert_int_equal(a.results[i].cut, 0);
        i = find(&a, "1-6");
        assert_int_equal(a.results[i].restored, USB_CLASS_BIT(USB_CLASS_STILL_IMAGE));
        assert_false(a.results[i].device.changed);
        applied_done(&a);
        policy_free(open);
        policy_free(demo);
}

static void test_reauthorize_then_cut(void **state) {
        Policy *phone = parse_text(block_phone_policy), *demo = parse_file(DATA("demo-policy.yaml"));
        Applied a;

        /* An explicit rule cut the phone whole. */
        apply_policy(phone, &a);
        applied_done(&a);
        assert_authorized("1-6", 0);

        /* The policy changes to the defaults, which only cut MTP: the device is authorized again (the
         * kernel re-creates its interfaces, authorized), then the MTP interface gets its 0. */
        apply_policy(demo, &a);
        size_t i = find(&a, "1-6");
        assert_int_equal(a.rets[i], 0);
        assert_int_equal(a.results[i].device.before, 0);
        assert_int_equal(a.results[i].device.after, 1);
        assert_int_equal(a.results[i].interfaces[0].after, 0);
        assert_int_equal(a.results[i].restored, USB_CLASS_BIT(USB_CLASS_VENDOR));
        assert_int_equal(a.results[i].cut, USB_CLASS_BIT(USB_CLASS_STILL_IMAGE));
        assert_authorized("1-6", 1);
        assert_authorized("1-6:1.0", 0);
        assert_authorized("1-6:1.1", 1);
        applied_done(&a);
        policy_free(demo);
        policy_free(phone);
}

static void add_keyboard(UMockdevTestbed *tb, const char *name) {
        g_autofree char *dev = umockdev_testbed_add_device(
                tb, "usb", name, USB1,
                "idVendor", "413c", "idProduct", "2113", "bDeviceClass", "00", "authorized", "1",
                "bNumInterfaces", " 1", "bConfigurationValue", "1", "product", "Dell Keyboard", NULL,
                "DEVTYPE", "usb_device", NULL);
        assert_non_null(dev);
        g_autofree char *iname = g_strdup_printf("%s:1.0", name);
        g_autofree char *iface = umockdev_testbed_add_device(
                tb, "usb", iname, dev,
                "bInterfaceClass", "03", "bInterfaceSubClass", "01", "bInterfaceProtocol", "01", "authorized", "1", NULL,
                "DEVTYPE", "usb_interface", NULL);
        assert_non_null(iface);
}

static void test_last_keyboard(void **state) {
        Policy *p = parse_text(block_keyboard_policy);
        Applied a;

        /* The rule names the only keyboard (the BadUSB "keyboard" is cut by default): it stays. */
        apply_policy(p, &a);
        size_t i = find(&a, "1-3");
        assert_true(a.entries[i].result.last_keyboard);
        assert_int_equal(a.entries[i].result.original_verdict, VERDICT_BLOCK);
        assert_int_equal(a.decisions[i].verdict, VERDICT_ALLOW);
        assert_false(a.results[i].changed);
        assert_authorized("1-3", 1);
        assert_authorized("1-5", 0);
        applied_done(&a);

        /* Another keyboard arrives: now the rule may have the first one. */
        add_keyboard(*state, "1-12");
        apply_policy(p, &a);
        i = find(&a, "1-3");
        assert_false(a.entries[i].result.changed);
        assert_true(a.results[i].changed);
        assert_authorized("1-3", 0);
        assert_authorized("1-12", 1);
        applied_done(&a);
        policy_free(p);
}

/* --- devices the kernel has deauthorized: no interfaces in sysfs, a binary "descriptors" file --- */

typedef struct Desc {
        uint8_t b[DESC_MAX];
        size_t n, config_start;
} Desc;

static void desc_put(Desc *x, const uint8_t *d, size_t n) {
        assert_true(x->n + n <= sizeof(x->b));
        memcpy(x->b + x->n, d, n);
        x->n += n;
}

static void desc_device(Desc *x, uint16_t vendor, uint16_t product) {
        const uint8_t d[18] = { 18, 1, 0, 2, 0, 0, 0, 64, vendor & 0xff, vendor >> 8, product & 0xff, product >> 8, 0, 1, 1, 2, 3, 1 };
        *x = (Desc) {};
        desc_put(x, d, sizeof(d));
        const uint8_t c[9] = { 9, 2, 0, 0, 0, 1, 0, 0x80, 50 };
        x->config_start = x->n;
        desc_put(x, c, sizeof(c));
}

static void desc_interface(Desc *x, uint8_t number, uint8_t cls, uint8_t sub, uint8_t proto) {
        const uint8_t i[9] = { 9, 4, number, 0, 1, cls, sub, proto, 0 };
        const uint8_t ep[7] = { 7, 5, 0x81, 3, 8, 0, 10 };
        desc_put(x, i, sizeof(i));
        desc_put(x, ep, sizeof(ep));
        x->b[x->config_start + 4]++;
        size_t total = x->n - x->config_start;
        x->b[x->config_start + 2] = total & 0xff;
        x->b[x->config_start + 3] = total >> 8;
}

/* A device as the kernel leaves it after authorized=0: attributes and descriptors, no interfaces. */
static char *add_deauthorized(UMockdevTestbed *tb, const char *name, const char *serial, const char *mtp,
                              const Desc *x) {
        char *dev = umockdev_testbed_add_device(
                tb, "usb", name, USB1,
                "idVendor", "0951", "idProduct", "1666", "bDeviceClass", "00", "authorized", "0",
                "serial", serial, "product", "Deauthorized", NULL,
                "DEVTYPE", "usb_device", "ID_MTP_DEVICE", mtp, NULL);
        assert_non_null(dev);
        if (x) {
                /* umockdev takes a non-const buffer; it only copies it. */
                guint8 copy[DESC_MAX];
                memcpy(copy, x->b, x->n);
                umockdev_testbed_set_attribute_binary(tb, dev, "descriptors", copy, (gint) x->n);
        }
        return dev;
}

static const MnDevice *device_named(MnDevice *const *v, size_t n, const char *sysname) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i]->sysname, sysname))
                        return v[i];
        fail_msg("no device %s", sysname);
        return NULL;
}

static void test_descriptors(void **state) {
        UMockdevTestbed *tb = *state;
        _cleanup_(udev_unrefp) struct udev *udev = udev_new();
        MnDevice **v;
        size_t n;
        Desc x;

        /* A BadUSB cut whole: keyboard + storage, seen in its descriptors only. */
        desc_device(&x, 0x0951, 0x1666);
        desc_interface(&x, 0, 0x08, 0x06, 0x50);
        desc_interface(&x, 1, 0x03, 0x01, 0x01);
        g_free(add_deauthorized(tb, "1-11", "DESC-BADUSB", "0", &x));

        /* A phone cut whole by a rule: MTP (no interface string left: ID_MTP_DEVICE says it) and ADB. */
        desc_device(&x, 0x18d1, 0x4ee2);
        desc_interface(&x, 0, 0xff, 0xff, 0x00);
        desc_interface(&x, 1, 0xff, 0x42, 0x01);
        g_free(add_deauthorized(tb, "1-13", "DESC-PHONE", "1", &x));

        /* No descriptors at all, and malformed ones: nothing is known. */
        g_free(add_deauthorized(tb, "1-14", "DESC-NONE", "0", NULL));
        desc_device(&x, 0x0951, 0x1666);
        desc_interface(&x, 0, 0x03, 0x01, 0x01);
        x.b[x.config_start + 9 + 9] = 0; /* a zero-length endpoint descriptor */
        g_free(add_deauthorized(tb, "1-15", "DESC-BAD", "0", &x));

        assert_non_null(udev);
        assert_int_equal(mn_devices_enumerate(udev, &v, &n), 0);

        const MnDevice *d = device_named(v, n, "1-11");
        assert_false(d->authorized);
        assert_false(d->functions_unknown);
        assert_int_equal(d->n_interfaces, 2);
        assert_true(d->interfaces[0].from_descriptors);
        assert_string_equal(d->interfaces[0].sysname, "1-11:1.0");
        assert_string_equal(d->interfaces[0].syspath, USB1 "/1-11/1-11:1.0");
        assert_null(d->interfaces[0].label);
        assert_int_equal(d->interfaces[0].function, USB_CLASS_STORAGE);
        assert_int_equal(d->interfaces[1].function, USB_CLASS_HID);
        assert_true(d->interfaces[1].keyboard);
        assert_int_equal(d->classes, USB_CLASS_BIT(USB_CLASS_STORAGE) | USB_CLASS_BIT(USB_CLASS_HID));

        d = device_named(v, n, "1-13");
        assert_int_equal(d->n_interfaces, 2);
        assert_int_equal(d->interfaces[0].function, USB_CLASS_STILL_IMAGE);
        assert_int_equal(d->interfaces[1].function, USB_CLASS_VENDOR);

        d = device_named(v, n, "1-14");
        assert_true(d->functions_unknown);
        assert_int_equal(d->n_interfaces, 0);
        d = device_named(v, n, "1-15");
        assert_true(d->functions_unknown);
        mn_devices_free(v, n);

        /* Decided and enforced like any other device. */
        Policy *demo = parse_file(DATA("demo-policy.yaml")), *open = parse_text(open_policy);
        Applied a;
        apply_policy(demo, &a);
        size_t i = find(&a, "1-11");
        assert_int_equal(a.decisions[i].verdict, VERDICT_BLOCK); /* BadUSB: stays cut */
        assert_false(a.results[i].changed);
        assert_authorized("1-11", 0);
        /* The phone only loses MTP: the device is authorized again; its interfaces do not exist in
         * the testbed (the kernel would create them now), so there is nothing more to write. */
        i = find(&a, "1-13");
        assert_int_equal(a.decisions[i].verdict, VERDICT_PARTIAL);
        assert_int_equal(a.rets[i], 0);
        assert_authorized("1-13", 1);
        assert_int_equal(a.results[i].interfaces[0].before, -1);
        /* Unknown functions: blocked by default, fail closed. */
        i = find(&a, "1-14");
        assert_int_equal(a.decisions[i].verdict, VERDICT_BLOCK);
        assert_authorized("1-14", 0);
        assert_authorized("1-15", 0);
        applied_done(&a);

        /* Allowed by a policy change: authorized again. Unknown functions stay cut even then. */
        apply_policy(open, &a);
        assert_authorized("1-11", 1);
        assert_authorized("1-14", 0);
        assert_authorized("1-15", 0);
        applied_done(&a);
        policy_free(open);
        policy_free(demo);
}

static void test_errors(void **state) {
        Policy *demo = parse_file(DATA("demo-policy.yaml"));
        _cleanup_(udev_unrefp) struct udev *udev = udev_new();
        MnDevice **v;
        size_t n;
        MnEnforceResult res;
        MnUsbPlan plan;
        PolicyDecision dec;
        bool *blocked;

        assert_int_equal(mn_usb_open("relative/path"), -EINVAL);
        assert_true(mn_usb_open(USB1 "/9-9") < 0);

        assert_int_equal(mn_devices_enumerate(udev, &v, &n), 0);
        const MnDevice *d = device_named(v, n, "1-1");
        assert_int_equal(mn_device_decide(d, demo, NULL, TODAY, &dec, &blocked), 0);
        assert_int_equal(mn_usb_plan(d, &dec, blocked, &plan), 0);
        assert_true(plan.cut_device);

        /* A held fd on a directory that is not the device's (a port emptied and refilled is a new
         * directory): no "authorized" there, and nothing written. */
        _cleanup_close_ int wrong = mn_usb_open(USB1 "/1-1/1-1:1.0/host0");
        assert_true(wrong >= 0);
        assert_int_equal(mn_usb_enforce(wrong, d, &plan, &res), -ENODEV);
        assert_authorized("1-1", 1);

        /* An interface name that would climb out of the device directory is refused. */
        int val;
        _cleanup_close_ int fd = mn_usb_open(d->syspath);
        assert_true(fd >= 0);
        assert_int_equal(mn_usb_read_authorized(fd, "..", &val), -EINVAL);
        assert_int_equal(mn_usb_read_authorized(fd, "../1-2", &val), -EINVAL);
        assert_int_equal(mn_usb_read_authorized(fd, NULL, &val), 0);
        assert_int_equal(val, 1);
        assert_int_equal(mn_usb_read_authorized(fd, "1-1:1.0", &val), 0);

        /* A value that is neither 0 nor 1. */
        umockdev_testbed_set_attribute(*state, USB1 "/1-1", "authorized", "banana");
        assert_int_equal(mn_usb_enforce(fd, d, &plan, &res), -EBADMSG);

        free(blocked);
        mn_devices_free(v, n);
        policy_free(demo);
}

int main(void) {
        const char *preload = getenv("LD_PRELOAD");
        if (!preload || !strstr(preload, "libumockdev-preload")) {
                printf("SKIP: LD_PRELOAD does not hold libumockdev-preload; run this test under umockdev-wrapper\n");
                return 77;
        }

        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_demo, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_audit, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_reallow, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_reauthorize_then_cut, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_last_keyboard, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_descriptors, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_errors, setup_demo, teardown_testbed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
