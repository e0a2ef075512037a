/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguard-udev run as udev runs it (IMPORT{program}, with udev's %p devpath) on a umockdev testbed of
 * the demo devices: with the policy snapshot that mnguardd would write, without one (fail closed),
 * with a broken or untrusted one, in audit mode, with the lockout guard, for a device whose
 * interfaces do not exist yet, and with hostile strings. Checks the udev properties it prints.
 * Needs umockdev-wrapper (LD_PRELOAD=libumockdev-preload); exits 77 without it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "fileio.h"
#include "snapshot.h"

#ifndef MNGUARD_UDEV_PATH
#error "MNGUARD_UDEV_PATH must name the mnguard-udev binary"
#endif
#ifndef DEVICES_DATA_DIR
#error "DEVICES_DATA_DIR must name tests/data/devices"
#endif

#define DATA(f) DEVICES_DATA_DIR "/" f
#define OUTPUT_MAX (1024 * 1024)
#define PROPS_MAX 64
#define USB1 "/devices/pci0000:00/0000:00:14.0/usb1" /* udev's %p: no /sys */
#define SD_PART "/devices/pci0000:00/0000:00:1e.6/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0/mmcblk0p1"
#define SD_DISK "/devices/pci0000:00/0000:00:1e.6/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0"
#define STICK_PART USB1 "/1-1/1-1:1.0/host0/target0:0:0/0:0:0:0/block/sdb/sdb1"
#define REGISTERED_PART USB1 "/1-2/1-2:1.0/host1/target1:0:0/1:0:0:0/block/sdc/sdc1"
#define DVD "/devices/pci0000:00/0000:00:17.0/ata2/host4/target4:0:0/4:0:0:0/block/sr0"
#define INTERNAL_DISK "/devices/pci0000:00/0000:00:17.0/ata1/host3/target3:0:0/3:0:0:0/block/sda"
#define RULE_REGISTERED "情報政策課-001"

extern char **environ;

static const char block_keyboard_policy[] =
        "mnguard-policy: 1\nserial: 10\nname: no keyboard\n"
        "media:\n  - {name: kbd, match: {vendor: \"046d\", product: \"c31c\"}, access: block}\n";
/* A rule name with everything a shell, udev or a reader could trip over. */
#define HOSTILE_RULE "q\"uo'te \\back $HOME `x` %p 情報 ;|"
static const char hostile_rule_policy[] =
        "mnguard-policy: 1\nserial: 12\nname: hostile\n"
        "media:\n  - {name: \"q\\\"uo'te \\\\back $HOME `x` %p 情報 ;|\", match: {serial: \"4C530009990101117384\"}, access: block}\n";

typedef struct Prop {
        char *key, *value;
} Prop;

typedef struct Run {
        int status;
        char *out, *err;
        size_t out_len, err_len;
        Prop props[PROPS_MAX];
        size_t n_props;
} Run;

typedef struct Fixture {
        UMockdevTestbed *tb;
        char state_dir[64];
} Fixture;

static void run_done(Run *r) {
        free(r->out);
        free(r->err);
        *r = (Run) {};
}

static void buf_append(char **buf, size_t *len, const char *data, size_t n) {
        assert_true(*len + n <= OUTPUT_MAX);
        char *b = realloc(*buf, *len + n + 1);
        assert_non_null(b);
        memcpy(b + *len, data, n);
        *len += n;
        b[*len] = 0;
        *buf = b;
}

/* What a udev property value may hold as mnguard-udev writes it: no byte udev or a shell would act on. */
static bool value_is_safe(const char *v) {
        if (!*v || v[0] == ' ' || v[strlen(v) - 1] == ' ')
                return false;
        for (const char *p = v; *p; p++) {
                char c = *p;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      strchr(" ,._:/@+()-\\", c)))
                        return false;
                if (c == '\\' && p[1] != 'x')
                        return false; /* a backslash only starts an escape */
        }
        return true;
}

/* Splits stdout into KEY=VALUE properties: every line one property, keys unique, values safe. */
static void parse_props(Run *r) {
        char *save = NULL;
        for (char *line = strtok_r(r->out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                assert_non_null(eq);
                *eq = 0;
                for (const char *k = line; *k; k++)
                        assert_true((*k >= 'A' && *k <= 'Z') || *k == '_');
                for (size_t i = 0; i < r->n_props; i++)
                        if (strcmp(r->props[i].key, line) == 0)
                                fail_msg("%s printed twice", line);
                if (!value_is_safe(eq + 1))
                        fail_msg("%s has an unsafe value \"%s\"", line, eq + 1);
                assert_true(r->n_props < PROPS_MAX);
                r->props[r->n_props++] = (Prop) { .key = line, .value = eq + 1 };
        }
}

/* Runs mnguard-udev --state-dir DIR DEVPATH in the testbed (the child inherits LD_PRELOAD and
 * UMOCKDEV_DIR, as the wrapper set them). */
static void run_udev(Run *ret, const char *state_dir, const char *devpath) {
        const char *argv[] = { MNGUARD_UDEV_PATH, "--state-dir", state_dir, devpath, NULL };
        posix_spawn_file_actions_t fa;
        int out[2], err[2], status;
        pid_t pid;

        *ret = (Run) {};
        buf_append(&ret->out, &ret->out_len, "", 0);
        buf_append(&ret->err, &ret->err_len, "", 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        assert_int_equal(pipe2(err, O_CLOEXEC), 0);
        assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
        assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO), 0);
        assert_int_equal(posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO), 0);
        assert_int_equal(posix_spawn(&pid, MNGUARD_UDEV_PATH, &fa, NULL, (char *const *) argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        close(out[1]);
        close(err[1]);

        struct pollfd p[2] = { { .fd = out[0], .events = POLLIN }, { .fd = err[0], .events = POLLIN } };
        while (p[0].fd >= 0 || p[1].fd >= 0) {
                char buf[65536];
                assert_true(poll(p, 2, -1) >= 0 || errno == EINTR);
                for (int i = 0; i < 2; i++) {
                        if (p[i].fd < 0 || !p[i].revents)
                                continue;
                        ssize_t k = read(p[i].fd, buf, sizeof(buf));
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0) {
                                close(p[i].fd);
                                p[i].fd = -1;
                                continue;
                        }
                        if (i == 0)
                                buf_append(&ret->out, &ret->out_len, buf, (size_t) k);
                        else
                                buf_append(&ret->err, &ret->err_len, buf, (size_t) k);
                }
        }
        while (waitpid(pid, &status, 0) < 0)
                assert_int_equal(errno, EINTR);
        ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (ret->status != 0)
                fprintf(stderr, "# mnguard-udev %s exited %d: %s", devpath, ret->status, ret->err);
        parse_props(ret);
}

static const char *prop(const Run *r, const char *key) {
        for (size_t i = 0; i < r->n_props; i++)
                if (strcmp(r->props[i].key, key) == 0)
                        return r->props[i].value;
        return NULL;
}

static void assert_prop(const Run *r, const char *key, const char *want) {
        const char *v = prop(r, key);
        if (!want && v)
                fail_msg("%s=%s, want it unset", key, v);
        if (want && (!v || strcmp(v, want) != 0))
                fail_msg("%s=%s, want %s", key, v ?: "(unset)", want);
}

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Undoes mnguard-udev's \xNN escaping (lowercase hex, every escape complete). */
static char *unescape(const char *v) {
        size_t n, o = 0;
        char *out;

        assert_non_null(v);
        n = strlen(v);
        out = malloc(n + 1);
        assert_non_null(out);
        for (size_t i = 0; i < n; i++) {
                if (v[i] != '\\') {
                        out[o++] = v[i];
                        continue;
                }
                assert_true(i + 3 < n && v[i + 1] == 'x');
                int hi = hexval(v[i + 2]), lo = hexval(v[i + 3]);
                assert_true(hi >= 0 && lo >= 0);
                out[o++] = (char) (hi << 4 | lo);
                i += 3;
        }
        out[o] = 0;
        return out;
}

/* One devpath: run, expect exit 0 and these properties (NULL: must be unset). */
static void expect(const char *state_dir, const char *devpath, ...) {
        Run r;
        va_list ap;

        run_udev(&r, state_dir, devpath);
        assert_int_equal(r.status, 0);
        va_start(ap, devpath);
        for (const char *k; (k = va_arg(ap, const char *));) {
                const char *v = va_arg(ap, const char *);
                assert_prop(&r, k, v);
        }
        va_end(ap);
        run_done(&r);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        GError *error = NULL;

        if (!f)
                return -1;
        f->tb = umockdev_testbed_new();
        if (!umockdev_testbed_add_from_file(f->tb, DATA("demo.umockdev"), &error)) {
                fprintf(stderr, "# cannot load %s: %s\n", DATA("demo.umockdev"), error->message);
                g_error_free(error);
                return -1;
        }
        const char *tmp = getenv("TMPDIR");
        snprintf(f->state_dir, sizeof(f->state_dir), "%s/mnguard-udev-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
        if (!mkdtemp(f->state_dir))
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char path[128];

        snprintf(path, sizeof(path), "%s/%s", f->state_dir, SNAPSHOT_FILENAME);
        (void) unlink(path);
        (void) rmdir(f->state_dir);
        g_object_unref(f->tb);
        free(f);
        return 0;
}

static void write_snapshot_text(const Fixture *f, const char *text) {
        assert_int_equal(snapshot_write(f->state_dir, text, strlen(text)), 0);
}

static void write_snapshot_file(const Fixture *f, const char *path) {
        char *data;
        size_t n;
        assert_int_equal(read_full_file(path, POLICY_MAX_FILE_SIZE, &data, &n), 0);
        assert_int_equal(snapshot_write(f->state_dir, data, n), 0);
        free(data);
}

static void test_snapshot(void **state) {
        Fixture *f = *state;
        const char *d = f->state_dir;

        write_snapshot_file(f, DATA("demo-policy.yaml"));

        /* The unregistered stick: cut on its usb_device event, and on its interface's. */
        expect(d, USB1 "/1-1", "MNGUARD_SNAPSHOT", "ok", "MNGUARD_FAIL_CLOSED", "0",
               "MNGUARD_POLICY_SERIAL", "2026112601", "MNGUARD_MANAGED", "1", "MNGUARD_DEVICE", "1-1",
               "MNGUARD_DECISION", "block", "MNGUARD_RULE", "default", "MNGUARD_CLASSES", "storage",
               "MNGUARD_BLOCKED", "storage", "MNGUARD_CUT_DEVICE", "1", "MNGUARD_AUTHORIZE", "0",
               "MNGUARD_AUDIT", "0", "UDISKS_IGNORE", NULL, NULL);
        expect(d, USB1 "/1-1/1-1:1.0", "MNGUARD_AUTHORIZE", "0", "MNGUARD_INTERFACE_FUNCTION", "storage", NULL);
        /* Its partition, should it appear anyway: udisks keeps away. */
        expect(d, STICK_PART, "MNGUARD_DEVICE", "1-1", "MNGUARD_STORAGE", "block", "UDISKS_IGNORE", "1",
               "UDISKS_AUTO", "0", "MNGUARD_UDISKS", "1", "MNGUARD_READ_ONLY", "0", NULL);

        /* The registered stick: nothing cut; the rule's name comes out escaped. */
        Run r;
        run_udev(&r, d, USB1 "/1-2");
        assert_int_equal(r.status, 0);
        assert_prop(&r, "MNGUARD_DECISION", "read-write");
        assert_prop(&r, "MNGUARD_AUTHORIZE", "1");
        assert_prop(&r, "MNGUARD_CUT_DEVICE", "0");
        char *rule = unescape(prop(&r, "MNGUARD_RULE"));
        assert_string_equal(rule, RULE_REGISTERED);
        free(rule);
        run_done(&r);
        expect(d, USB1 "/1-2/1-2:1.0", "MNGUARD_AUTHORIZE", "1", NULL);
        expect(d, REGISTERED_PART, "MNGUARD_STORAGE", "read-write", "UDISKS_IGNORE", NULL, "UDISKS_AUTO", NULL,
               "MNGUARD_UDISKS", "0", NULL);

        /* Keyboard and mouse. */
        expect(d, USB1 "/1-3", "MNGUARD_DECISION", "allow", "MNGUARD_AUTHORIZE", "1", "MNGUARD_LOCKOUT", "none", NULL);
        expect(d, USB1 "/1-3/1-3:1.0", "MNGUARD_AUTHORIZE", "1", "MNGUARD_INTERFACE_FUNCTION", "hid", NULL);
        expect(d, USB1 "/1-4", "MNGUARD_AUTHORIZE", "1", NULL);

        /* BadUSB: cut whole. */
        expect(d, USB1 "/1-5", "MNGUARD_DECISION", "block", "MNGUARD_AUTHORIZE", "0", NULL);
        expect(d, USB1 "/1-5/1-5:1.1", "MNGUARD_AUTHORIZE", "0", "MNGUARD_CUT_DEVICE", "1", NULL);

        /* MTP phone: the device stays, the MTP interface goes, ADB stays. */
        expect(d, USB1 "/1-6", "MNGUARD_DECISION", "partial", "MNGUARD_AUTHORIZE", "1", "MNGUARD_CUT_DEVICE", "0",
               "MNGUARD_BLOCKED", "still-image", NULL);
        expect(d, USB1 "/1-6/1-6:1.0", "MNGUARD_AUTHORIZE", "0", "MNGUARD_INTERFACE_FUNCTION", "still-image", NULL);
        expect(d, USB1 "/1-6/1-6:1.1", "MNGUARD_AUTHORIZE", "1", "MNGUARD_INTERFACE_FUNCTION", "vendor", NULL);

        /* RNDIS tether: whole. */
        expect(d, USB1 "/1-7", "MNGUARD_AUTHORIZE", "0", "MNGUARD_CLASSES", "network", NULL);

        /* SD card on a PCI reader: the disk and its partition. */
        expect(d, SD_PART, "MNGUARD_DEVICE", "mmcblk0", "MNGUARD_DECISION", "block", "UDISKS_IGNORE", "1",
               "UDISKS_AUTO", "0", "MNGUARD_AUTHORIZE", "1", NULL);
        expect(d, SD_DISK, "UDISKS_IGNORE", "1", NULL);

        /* The distribution DVD: read-only by its rule (fs-uuid). */
        expect(d, DVD, "MNGUARD_DECISION", "read-only", "MNGUARD_STORAGE", "read-only", "MNGUARD_READ_ONLY", "1",
               "UDISKS_IGNORE", NULL, NULL);

        /* Not ours: the root hub, the internal disk, and absolute sysfs paths work too. */
        expect(d, USB1, "MNGUARD_MANAGED", "0", "MNGUARD_AUTHORIZE", "1", "MNGUARD_DECISION", "none", NULL);
        expect(d, INTERNAL_DISK, "MNGUARD_MANAGED", "0", "UDISKS_IGNORE", NULL, NULL);
        expect(d, "/sys" USB1 "/1-1", "MNGUARD_AUTHORIZE", "0", NULL);

        /* mnguard-udev only prints: nothing was written. */
        char *v = NULL;
        assert_int_equal(read_full_file("/sys" USB1 "/1-1/authorized", 16, &v, NULL), 0);
        assert_true(v[0] == '1');
        free(v);
}

static void test_no_snapshot(void **state) {
        Fixture *f = *state;
        const char *d = f->state_dir;

        /* Fail closed: storage, still-image and network cut; input kept; even the registered stick
         * (its rule is in the snapshot that is not there). */
        expect(d, USB1 "/1-1", "MNGUARD_SNAPSHOT", "missing", "MNGUARD_FAIL_CLOSED", "1", "MNGUARD_POLICY_SERIAL", "0",
               "MNGUARD_AUTHORIZE", "0", NULL);
        expect(d, USB1 "/1-2", "MNGUARD_SNAPSHOT", "missing", "MNGUARD_AUTHORIZE", "0", NULL);
        expect(d, USB1 "/1-3", "MNGUARD_AUTHORIZE", "1", NULL);
        expect(d, USB1 "/1-3/1-3:1.0", "MNGUARD_AUTHORIZE", "1", NULL);
        expect(d, USB1 "/1-4", "MNGUARD_AUTHORIZE", "1", NULL);
        expect(d, USB1 "/1-5", "MNGUARD_AUTHORIZE", "0", NULL);
        expect(d, USB1 "/1-6/1-6:1.0", "MNGUARD_AUTHORIZE", "0", NULL);
        expect(d, USB1 "/1-6/1-6:1.1", "MNGUARD_AUTHORIZE", "1", NULL);
        expect(d, USB1 "/1-7", "MNGUARD_AUTHORIZE", "0", NULL);
        expect(d, SD_PART, "UDISKS_IGNORE", "1", "UDISKS_AUTO", "0", NULL);
        expect(d, DVD, "UDISKS_IGNORE", "1", NULL);

        /* No state directory at all. */
        expect("/nonexistent/mnguard", USB1 "/1-1", "MNGUARD_SNAPSHOT", "missing", "MNGUARD_AUTHORIZE", "0", NULL);
}

static void test_bad_snapshot(void **state) {
        Fixture *f = *state;
        const char *d = f->state_dir;
        char path[128];

        snprintf(path, sizeof(path), "%s/%s", d, SNAPSHOT_FILENAME);

        /* snapshot_write refuses what is not a valid policy. */
        assert_int_equal(snapshot_write(d, "mnguard-policy: 2\n", 18), -EINVAL);
        assert_int_equal(access(path, F_OK), -1);

        /* Not a policy. */
        assert_int_equal(write_file_atomic(path, "garbage: [\n", 11, 0600), 0);
        expect(d, USB1 "/1-1", "MNGUARD_SNAPSHOT", "invalid", "MNGUARD_FAIL_CLOSED", "1", "MNGUARD_AUTHORIZE", "0", NULL);
        expect(d, USB1 "/1-3", "MNGUARD_SNAPSHOT", "invalid", "MNGUARD_AUTHORIZE", "1", NULL);

        /* A valid policy anyone could have written: not trusted. */
        write_snapshot_file(f, DATA("demo-policy.yaml"));
        expect(d, USB1 "/1-2", "MNGUARD_SNAPSHOT", "ok", "MNGUARD_AUTHORIZE", "1", NULL);
        assert_int_equal(chmod(path, 0666), 0);
        expect(d, USB1 "/1-2", "MNGUARD_SNAPSHOT", "invalid", "MNGUARD_AUTHORIZE", "0", NULL);
        assert_int_equal(chmod(path, 0600), 0);

        /* A symlink is not followed. */
        char target[160];
        snprintf(target, sizeof(target), "%s.real", path);
        assert_int_equal(rename(path, target), 0);
        assert_int_equal(symlink(target, path), 0);
        expect(d, USB1 "/1-2", "MNGUARD_SNAPSHOT", "invalid", "MNGUARD_AUTHORIZE", "0", NULL);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(unlink(target), 0);
}

static void test_audit(void **state) {
        Fixture *f = *state;
        const char *d = f->state_dir;

        write_snapshot_file(f, DATA("demo-policy-audit.yaml"));
        expect(d, USB1 "/1-1", "MNGUARD_AUDIT", "1", "MNGUARD_DECISION", "block", "MNGUARD_AUTHORIZE", "1",
               "MNGUARD_WOULD_AUTHORIZE", "0", NULL);
        expect(d, STICK_PART, "MNGUARD_AUDIT", "1", "MNGUARD_STORAGE", "block", "UDISKS_IGNORE", NULL,
               "MNGUARD_UDISKS", "0", NULL);
        expect(d, USB1 "/1-6/1-6:1.0", "MNGUARD_AUTHORIZE", "1", "MNGUARD_WOULD_AUTHORIZE", "0", NULL);
}

static void add_keyboard(UMockdevTestbed *tb, const char *name) {
        g_autofree char *dev = umockdev_testbed_add_device(
                tb, "usb", name, "/sys" USB1,
                "idVendor", "413c", "idProduct", "2113", "bDeviceClass", "00", "authorized", "1", NULL,
                "DEVTYPE", "usb_device", NULL);
        g_autofree char *iname = g_strdup_printf("%s:1.0", name);
        g_autofree char *iface = umockdev_testbed_add_device(
                tb, "usb", iname, dev,
                "bInterfaceClass", "03", "bInterfaceSubClass", "01", "bInterfaceProtocol", "01", "authorized", "1", NULL,
                "DEVTYPE", "usb_interface", NULL);
        assert_non_null(iface);
}

static void test_lockout(void **state) {
        Fixture *f = *state;
        const char *d = f->state_dir;

        /* A rule blocks the only keyboard (the BadUSB one is cut anyway): the guard keeps it. */
        write_snapshot_text(f, block_keyboard_policy);
        expect(d, USB1 "/1-3", "MNGUARD_RULE", "kbd", "MNGUARD_LOCKOUT", "last-keyboard", "MNGUARD_DECISION", "allow",
               "MNGUARD_AUTHORIZE", "1", NULL);
        expect(d, USB1 "/1-3/1-3:1.0", "MNGUARD_AUTHORIZE", "1", NULL);
        expect(d, USB1 "/1-5", "MNGUARD_AUTHORIZE", "0", "MNGUARD_LOCKOUT", "none", NULL);

        /* With a second keyboard the rule applies. */
        add_keyboard(f->tb, "1-12");
        expect(d, USB1 "/1-3", "MNGUARD_LOCKOUT", "none", "MNGUARD_DECISION", "block", "MNGUARD_AUTHORIZE", "0", NULL);
        expect(d, USB1 "/1-12", "MNGUARD_AUTHORIZE", "1", NULL);
}

/* A BadUSB composite at its usb_device "add" event: the kernel has not created its interfaces yet,
 * only the descriptors tell what it is. */
static void test_before_interfaces(void **state) {
        static const uint8_t descriptors[] = {
                18, 1, 0, 2, 0, 0, 0, 64, 0xcd, 0xab, 0x34, 0x12, 0, 1, 1, 2, 3, 1, /* device */
                9, 2, 41, 0, 2, 1, 0, 0x80, 50,                                   /* configuration 1: 41 bytes */
                9, 4, 0, 0, 1, 0x03, 0x01, 0x01, 0,                               /* keyboard */
                7, 5, 0x81, 3, 8, 0, 10,
                9, 4, 1, 0, 2, 0x08, 0x06, 0x50, 0,                               /* storage */
                7, 5, 0x82, 2, 0, 2, 0,
        };
        Fixture *f = *state;
        guint8 copy[sizeof(descriptors)];

        g_autofree char *dev = umockdev_testbed_add_device(
                f->tb, "usb", "1-11", "/sys" USB1,
                "idVendor", "abcd", "idProduct", "1234", "bDeviceClass", "00", "authorized", "1",
                "serial", "NEW", NULL,
                "DEVTYPE", "usb_device", NULL);
        assert_non_null(dev);
        memcpy(copy, descriptors, sizeof(copy));
        umockdev_testbed_set_attribute_binary(f->tb, dev, "descriptors", copy, sizeof(copy));

        write_snapshot_file(f, DATA("demo-policy.yaml"));
        expect(f->state_dir, USB1 "/1-11", "MNGUARD_CLASSES", "hid,storage", "MNGUARD_DECISION", "block",
               "MNGUARD_AUTHORIZE", "0", "MNGUARD_FUNCTIONS_UNKNOWN", "0", NULL);
}

static void test_hostile(void **state) {
        Fixture *f = *state;
        Run r;

        /* A rule name full of quotes, backslashes, $, `, %, a tab and Japanese: escaped, and
         * decodes back to exactly the name. */
        write_snapshot_text(f, hostile_rule_policy);
        run_udev(&r, f->state_dir, USB1 "/1-1");
        assert_int_equal(r.status, 0);
        assert_prop(&r, "MNGUARD_AUTHORIZE", "0");
        char *rule = unescape(prop(&r, "MNGUARD_RULE"));
        assert_string_equal(rule, HOSTILE_RULE);
        free(rule);
        run_done(&r);

        /* A device with hostile strings everywhere: its strings never reach the output unescaped (the
         * parser checks every value). */
        g_autofree char *dev = umockdev_testbed_add_device(
                f->tb, "usb", "1-9", "/sys" USB1,
                "idVendor", "dead", "idProduct", "beef", "bDeviceClass", "00", "authorized", "1",
                "manufacturer", "Evil\n\"Corp\"\x1b[31m", "product", "MTP\nUDISKS_IGNORE=0", "serial", "x\ny=1", NULL,
                "DEVTYPE", "usb_device", "ID_MEDIA_PLAYER", "\x1b[5m", NULL);
        g_autofree char *iface = umockdev_testbed_add_device(
                f->tb, "usb", "1-9:1.0", dev,
                "bInterfaceClass", "08", "bInterfaceSubClass", "06", "bInterfaceProtocol", "50",
                "interface", "\nMNGUARD_AUTHORIZE=1\n", NULL,
                "DEVTYPE", "usb_interface", NULL);
        assert_non_null(iface);
        expect(f->state_dir, USB1 "/1-9", "MNGUARD_AUTHORIZE", "0", "MNGUARD_DEVICE", "1-9", NULL);
        expect(f->state_dir, USB1 "/1-9/1-9:1.0", "MNGUARD_AUTHORIZE", "0", NULL);
}

static void test_usage(void **state) {
        Fixture *f = *state;
        Run r;

        /* Errors exit non-zero and print nothing: udev then imports nothing and the rule's fallback
         * applies. */
        run_udev(&r, f->state_dir, "devices/relative");
        assert_int_equal(r.status, 1);
        assert_int_equal(r.n_props, 0);
        run_done(&r);
        run_udev(&r, f->state_dir, USB1 "/../../..");
        assert_int_equal(r.status, 1);
        assert_int_equal(r.n_props, 0);
        run_done(&r);
        run_udev(&r, f->state_dir, USB1 "/9-9");
        assert_int_equal(r.status, 1);
        assert_int_equal(r.n_props, 0);
        run_done(&r);
}

int main(void) {
        const char *preload = getenv("LD_PRELOAD");
        if (!preload || !strstr(preload, "libumockdev-preload")) {
                printf("SKIP: LD_PRELOAD does not hold libumockdev-preload; run this test under umockdev-wrapper\n");
                return 77;
        }

        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_snapshot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_snapshot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lockout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_before_interfaces, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
                cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
