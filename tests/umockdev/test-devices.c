/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `mnguardctl devices` against umockdev testbeds: the demo device set (tests/data/devices/demo.umockdev)
 * under several policies, devices with hostile strings, and the libblkid fallback. Runs the real
 * binary as a child and checks what it prints, and that it changed nothing. Needs umockdev-wrapper
 * (LD_PRELOAD=libumockdev-preload); exits 77 without it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <umockdev.h>

#include "strutil.h"

#ifndef MNGUARDCTL_PATH
#error "MNGUARDCTL_PATH must name the mnguardctl binary"
#endif
#ifndef DEVICES_DATA_DIR
#error "DEVICES_DATA_DIR must name tests/data/devices"
#endif

#define DATA(f) DEVICES_DATA_DIR "/" f
#define OUTPUT_MAX (8 * 1024 * 1024)
#define RUN_ARGS_MAX 16
#define USB1 "/sys/devices/pci0000:00/0000:00:14.0/usb1"

/* Registered and unregistered sticks, as in demo.umockdev and demo-policy.yaml. */
#define SERIAL_UNREGISTERED "4C530009990101117384"
#define SERIAL_REGISTERED   "4C530001230101117384"
#define RULE_REGISTERED     "情報政策課-001"

extern char **environ;

typedef struct Run {
        int status; /* exit code, or -1 when killed by a signal */
        char *out, *err;
        size_t out_len, err_len;
} Run;

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

/* Runs mnguardctl with the given arguments (NULL-terminated) in the current testbed (the child
 * inherits LD_PRELOAD and UMOCKDEV_DIR) and collects its stdout, stderr and exit code. */
static void run_ctl(Run *ret, ...) {
        const char *argv[RUN_ARGS_MAX + 2] = { MNGUARDCTL_PATH };
        posix_spawn_file_actions_t fa;
        int out[2], err[2];
        size_t n = 1;
        va_list ap;
        pid_t pid;

        va_start(ap, ret);
        for (const char *a; (a = va_arg(ap, const char *));) {
                assert_true(n <= RUN_ARGS_MAX);
                argv[n++] = a;
        }
        va_end(ap);

        *ret = (Run) {};
        buf_append(&ret->out, &ret->out_len, "", 0);
        buf_append(&ret->err, &ret->err_len, "", 0);

        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        assert_int_equal(pipe2(err, O_CLOEXEC), 0);
        assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
        assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO), 0);
        assert_int_equal(posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO), 0);
        assert_int_equal(posix_spawn(&pid, MNGUARDCTL_PATH, &fa, NULL, (char *const *) argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        close(out[1]);
        close(err[1]);

        struct pollfd p[2] = { { .fd = out[0], .events = POLLIN }, { .fd = err[0], .events = POLLIN } };
        while (p[0].fd >= 0 || p[1].fd >= 0) {
                char buf[65536];
                /* The child's own deadline is ctest's timeout; poll has none of its own. */
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

        int status;
        while (waitpid(pid, &status, 0) < 0)
                assert_int_equal(errno, EINTR);
        ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (ret->status != 0 && ret->err_len > 0)
                fprintf(stderr, "# mnguardctl exited %d: %s", ret->status, ret->err);
}

/* Parses the whole of s as one JSON document. */
static json_object *parse_json(const char *s, size_t n) {
        json_tokener *tok = json_tokener_new();
        assert_non_null(tok);
        json_object *o = json_tokener_parse_ex(tok, s, (int) n);
        if (!o)
                fprintf(stderr, "# JSON error: %s\n", json_tokener_error_desc(json_tokener_get_error(tok)));
        assert_non_null(o);
        for (size_t i = json_tokener_get_parse_end(tok); i < n; i++)
                assert_true(s[i] == '\n' || s[i] == ' ');
        json_tokener_free(tok);
        return o;
}

/* No byte a terminal would act on: C0 (but the newline), DEL, C1 (U+0080..U+009F as UTF-8). */
static void assert_no_control_bytes(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if ((c < 0x20 && c != '\n') || c == 0x7f ||
                    (c == 0xc2 && i + 1 < n && (unsigned char) s[i + 1] >= 0x80 && (unsigned char) s[i + 1] <= 0x9f))
                        fail_msg("control byte 0x%02x at offset %zu", c, i);
        }
}

static const char *str(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static bool has_key(json_object *o, const char *key) {
        return json_object_object_get_ex(o, key, NULL);
}

static bool boolean(json_object *o, const char *key) {
        json_object *v;
        assert_true(json_object_object_get_ex(o, key, &v));
        assert_true(json_object_is_type(v, json_type_boolean));
        return json_object_get_boolean(v);
}

static json_object *array(json_object *o, const char *key) {
        json_object *v;
        assert_true(json_object_object_get_ex(o, key, &v));
        assert_true(json_object_is_type(v, json_type_array));
        return v;
}

static void assert_str(json_object *o, const char *key, const char *want) {
        const char *v = str(o, key);
        if (!v || strcmp(v, want) != 0)
                fail_msg("%s: got %s, want \"%s\"", key, v ?: "(none)", want);
}

static void assert_json_null(json_object *o, const char *key) {
        json_object *v = NULL;
        assert_true(json_object_object_get_ex(o, key, &v));
        assert_null(v);
}

/* The device whose key has this value; fails when there is none. */
static json_object *device(json_object *devices, const char *key, const char *value) {
        for (size_t i = 0; i < json_object_array_length(devices); i++) {
                json_object *d = json_object_array_get_idx(devices, i);
                const char *v = str(d, key);
                if (v && strcmp(v, value) == 0)
                        return d;
        }
        fail_msg("no device with %s \"%s\"", key, value);
        return NULL;
}

static bool has_device(json_object *devices, const char *key, const char *value) {
        for (size_t i = 0; i < json_object_array_length(devices); i++) {
                const char *v = str(json_object_array_get_idx(devices, i), key);
                if (v && strcmp(v, value) == 0)
                        return true;
        }
        return false;
}

static bool array_has(json_object *a, const char *value) {
        for (size_t i = 0; i < json_object_array_length(a); i++)
                if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), value) == 0)
                        return true;
        return false;
}

static json_object *interface(json_object *d, const char *name) {
        return device(array(d, "interfaces"), "name", name);
}

/* Runs `devices --json` with extra arguments and returns the parsed array. */
static json_object *devices_json(const char *a1, const char *a2, const char *a3, const char *a4) {
        Run r;
        run_ctl(&r, "devices", "--json", a1, a2, a3, a4, NULL);
        assert_int_equal(r.status, 0);
        assert_true(utf8_is_valid(r.out, r.out_len, NULL));
        assert_no_control_bytes(r.out, r.out_len);
        json_object *a = parse_json(r.out, r.out_len);
        assert_true(json_object_is_type(a, json_type_array));
        run_done(&r);
        return a;
}

static char *read_sysfs(const char *path) {
        /* LD_PRELOAD redirects /sys to the testbed. */
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        char buf[256] = {};
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        return strdup(buf);
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
        /* Removes the testbed's directory from $TMPDIR. */
        g_object_unref(*state);
        return 0;
}

static void test_demo_policy(void **state) {
        json_object *a = devices_json("--policy", DATA("demo-policy.yaml"), NULL, NULL), *d, *i;

        /* (a)..(h) and the DVD; not the root hub, not the internal SATA disk. */
        assert_int_equal(json_object_array_length(a), 9);
        assert_false(has_device(a, "name", "usb1"));
        assert_false(has_device(a, "name", "sda"));

        d = device(a, "serial", SERIAL_UNREGISTERED);
        assert_str(d, "bus", "usb");
        assert_str(d, "vendor", "0781");
        assert_str(d, "product", "5581");
        assert_str(d, "model", "Cruzer Blade");
        assert_str(d, "syspath", USB1 "/1-1");
        assert_str(d, "decision", "block");
        assert_str(d, "rule", "default");
        assert_str(d, "storage", "block");
        assert_false(boolean(d, "audit"));
        assert_true(boolean(d, "authorized"));
        assert_true(array_has(array(d, "classes"), "storage"));
        i = interface(d, "1-1:1.0");
        assert_str(i, "class", "08");
        assert_str(i, "subclass", "06");
        assert_str(i, "protocol", "50");
        assert_str(i, "function", "storage");
        assert_str(i, "decision", "block");
        json_object *fs = device(array(d, "filesystems"), "devnode", "/dev/sdb1");
        assert_str(fs, "type", "vfat");
        assert_str(fs, "uuid", "ABCD-1234");
        assert_str(fs, "label", "USBSTICK");
        device(array(d, "filesystems"), "devnode", "/dev/sdb");

        d = device(a, "serial", SERIAL_REGISTERED);
        assert_str(d, "decision", "read-write");
        assert_str(d, "rule", RULE_REGISTERED);
        assert_str(d, "storage", "read-write");
        assert_str(interface(d, "1-2:1.0"), "decision", "allow");
        assert_str(device(array(d, "filesystems"), "devnode", "/dev/sdc1"), "uuid", "5A1E-0001");

        d = device(a, "name", "1-3"); /* keyboard */
        assert_str(d, "vendor", "046d");
        assert_str(d, "product", "c31c");
        assert_json_null(d, "serial");
        assert_str(d, "decision", "allow");
        assert_false(has_key(d, "storage"));
        assert_true(boolean(interface(d, "1-3:1.0"), "keyboard"));
        assert_str(interface(d, "1-3:1.0"), "function", "hid");
        assert_str(interface(d, "1-3:1.0"), "decision", "allow");
        assert_str(interface(d, "1-3:1.1"), "decision", "allow");

        d = device(a, "name", "1-4"); /* mouse */
        assert_str(d, "decision", "allow");
        assert_true(boolean(interface(d, "1-4:1.0"), "mouse"));

        d = device(a, "serial", "0123456789ABCDEF"); /* BadUSB: keyboard + storage */
        assert_str(d, "decision", "block");
        assert_str(d, "rule", "default");
        assert_true(array_has(array(d, "classes"), "hid"));
        assert_true(array_has(array(d, "classes"), "storage"));
        assert_str(interface(d, "1-5:1.0"), "decision", "block");
        assert_str(interface(d, "1-5:1.1"), "decision", "block");
        assert_str(device(array(d, "filesystems"), "devnode", "/dev/sdd"), "label", "PAYLOAD");

        d = device(a, "serial", "28021FDH2000ZK"); /* MTP phone: MTP cut, ADB (vendor) kept */
        assert_str(d, "decision", "partial");
        i = interface(d, "1-6:1.0");
        assert_str(i, "function", "still-image");
        assert_str(i, "label", "MTP");
        assert_str(i, "decision", "block");
        i = interface(d, "1-6:1.1");
        assert_str(i, "function", "vendor");
        assert_str(i, "decision", "allow");
        assert_true(array_has(array(d, "blocked"), "still-image"));
        assert_false(array_has(array(d, "blocked"), "vendor"));

        d = device(a, "serial", "28021FDH2000ZL"); /* RNDIS tethering: both network interfaces cut */
        assert_str(interface(d, "1-7:1.0"), "function", "network");
        assert_str(interface(d, "1-7:1.0"), "decision", "block");
        assert_str(interface(d, "1-7:1.1"), "function", "network");
        assert_str(interface(d, "1-7:1.1"), "decision", "block");
        assert_str(d, "decision", "block"); /* every interface cut */

        d = device(a, "name", "mmcblk0"); /* SD card in a PCI reader */
        assert_str(d, "bus", "mmc");
        assert_str(d, "decision", "block");
        assert_str(d, "rule", "default");
        assert_str(d, "serial", "0xa1b2c3d4");
        assert_str(d, "model", "SD64G");
        assert_json_null(d, "vendor");
        assert_false(has_key(d, "authorized"));
        assert_int_equal(json_object_array_length(array(d, "interfaces")), 0);
        assert_str(device(array(d, "filesystems"), "devnode", "/dev/mmcblk0p1"), "type", "exfat");

        d = device(a, "name", "sr0"); /* distribution DVD, matched by fs-uuid */
        assert_str(d, "bus", "ata");
        assert_true(boolean(d, "optical"));
        assert_str(d, "model", "HL-DT-ST DVDRAM GUD1N");
        assert_str(d, "decision", "read-only");
        assert_str(d, "rule", "配布用CD");

        json_object_put(a);

        /* A dry run: nothing was deauthorized. */
        static const char *const ports[] = { "1-1", "1-2", "1-3", "1-4", "1-5", "1-6", "1-7" };
        for (size_t k = 0; k < sizeof(ports) / sizeof(ports[0]); k++) {
                char path[256];
                snprintf(path, sizeof(path), USB1 "/%s/authorized", ports[k]);
                char *v = read_sysfs(path);
                assert_string_equal(v, "1");
                free(v);
        }
}

static void test_users_and_dates(void **state) {
        json_object *a, *d;

        /* root is in group root: the second rule, read-only, until 2027-03-31. */
        a = devices_json("--policy", DATA("demo-policy-users.yaml"), "--user", "root");
        d = device(a, "serial", SERIAL_REGISTERED);
        assert_str(d, "decision", "read-only");
        assert_str(d, "rule", "管理者-読取専用");
        json_object_put(a);

        a = devices_json("--policy", DATA("demo-policy-users.yaml"), "--user", "0");
        assert_str(device(a, "serial", SERIAL_REGISTERED), "rule", "管理者-読取専用");
        json_object_put(a);

        /* Nobody logged in: no rule limited to users applies. */
        a = devices_json("--policy", DATA("demo-policy-users.yaml"), "--date", "2027-03-31");
        d = device(a, "serial", SERIAL_REGISTERED);
        assert_str(d, "decision", "block");
        assert_str(d, "rule", "default");
        json_object_put(a);

        /* A user in none of the listed users or groups. */
        if (getpwnam("nobody")) {
                a = devices_json("--policy", DATA("demo-policy-users.yaml"), "--user", "nobody");
                d = device(a, "serial", SERIAL_REGISTERED);
                assert_str(d, "decision", "block");
                assert_str(d, "rule", "default");
                json_object_put(a);
        }

        /* The rule's last day, and the day after. */
        Run r;
        run_ctl(&r, "devices", "--json", "--policy", DATA("demo-policy-users.yaml"), "--user", "root", "--date",
                "2027-03-31", NULL);
        assert_int_equal(r.status, 0);
        a = parse_json(r.out, r.out_len);
        assert_str(device(a, "serial", SERIAL_REGISTERED), "decision", "read-only");
        json_object_put(a);
        run_done(&r);
        run_ctl(&r, "devices", "--json", "--policy", DATA("demo-policy-users.yaml"), "--user", "root", "--date",
                "2027-04-01", NULL);
        assert_int_equal(r.status, 0);
        a = parse_json(r.out, r.out_len);
        assert_str(device(a, "serial", SERIAL_REGISTERED), "decision", "block");
        json_object_put(a);
        run_done(&r);

        /* Usage errors exit 1 with a message. */
        run_ctl(&r, "devices", "--policy", DATA("demo-policy-users.yaml"), "--user", "no-such-user-mnguard", NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "unknown user"));
        run_done(&r);
        run_ctl(&r, "devices", "--policy", DATA("demo-policy-users.yaml"), "--date", "2027-02-30", NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "--date"));
        run_done(&r);
}

static void test_audit_mode(void **state) {
        json_object *a = devices_json("--policy", DATA("demo-policy-audit.yaml"), NULL, NULL);

        assert_int_equal(json_object_array_length(a), 9);
        for (size_t i = 0; i < json_object_array_length(a); i++)
                assert_true(boolean(json_object_array_get_idx(a, i), "audit"));
        /* The decisions are what enforce mode would do. */
        assert_str(device(a, "serial", SERIAL_UNREGISTERED), "decision", "block");
        assert_str(device(a, "serial", SERIAL_REGISTERED), "decision", "read-write");
        assert_str(device(a, "serial", "28021FDH2000ZK"), "decision", "partial");
        json_object_put(a);

        Run r;
        run_ctl(&r, "devices", "--policy", DATA("demo-policy-audit.yaml"), NULL);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "block (audit)"));
        run_done(&r);
}

static void test_builtin_defaults(void **state) {
        if (access("/etc/mnguard/policy.yaml", F_OK) >= 0) {
                print_message("# /etc/mnguard/policy.yaml exists here: the built-in defaults are not used, skipping\n");
                skip();
        }
        json_object *a = devices_json(NULL, NULL, NULL, NULL);
        /* Fail closed: no media rule, so even the registered stick is blocked; input stays. */
        assert_str(device(a, "serial", SERIAL_REGISTERED), "decision", "block");
        assert_str(device(a, "serial", SERIAL_REGISTERED), "rule", "default");
        assert_str(device(a, "name", "1-3"), "decision", "allow");
        assert_str(device(a, "name", "mmcblk0"), "decision", "block");
        json_object_put(a);
}

static void test_table(void **state) {
        Run r;

        run_ctl(&r, "devices", "--policy", DATA("demo-policy.yaml"), NULL);
        assert_int_equal(r.status, 0);
        assert_true(utf8_is_valid(r.out, r.out_len, NULL));
        assert_no_control_bytes(r.out, r.out_len);
        assert_true(strncmp(r.out, "DECISION", 8) == 0);
        for (const char *h = "RULE\0BUS\0ID\0SERIAL\0CLASSES\0MODEL\0"; *h; h += strlen(h) + 1)
                assert_non_null(strstr(r.out, h));
        assert_non_null(strstr(r.out, RULE_REGISTERED));
        assert_non_null(strstr(r.out, "0781:5581"));
        assert_non_null(strstr(r.out, SERIAL_UNREGISTERED));
        assert_non_null(strstr(r.out, "!still-image"));
        assert_null(strstr(r.out, "xHCI"));   /* the root hub */
        assert_null(strstr(r.out, "KIOXIA")); /* the internal disk */
        run_done(&r);
}

static void test_bad_policy(void **state) {
        Run r;

        run_ctl(&r, "devices", "--json", "--policy", DATA("demo-policy-bad.yaml"), NULL);
        assert_int_equal(r.status, 1);
        assert_int_equal(r.out_len, 0);
        /* FILE:LINE:COLUMN: error: MESSAGE, one per problem: line 5 (storage: maybe) and the rule without access. */
        assert_non_null(strstr(r.err, DATA("demo-policy-bad.yaml") ":5:12: error: "));
        assert_non_null(strstr(r.err, DATA("demo-policy-bad.yaml") ":7:"));
        for (const char *line = r.err; *line; line = strchr(line, '\n') + 1) {
                assert_true(strncmp(line, DATA("demo-policy-bad.yaml") ":", strlen(DATA("demo-policy-bad.yaml")) + 1) == 0);
                assert_non_null(strstr(line, ": error: "));
                assert_non_null(strchr(line, '\n'));
        }
        run_done(&r);

        run_ctl(&r, "devices", "--policy", DATA("no-such-policy.yaml"), NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "no-such-policy.yaml"));
        run_done(&r);

        run_ctl(&r, "devices", "--frobnicate", NULL);
        assert_int_equal(r.status, 1);
        run_done(&r);
        run_ctl(&r, "no-such-verb", NULL);
        assert_int_equal(r.status, 1);
        run_done(&r);
}

/* Strings a malicious device controls: quotes, backslashes, terminal escapes, DEL, C1, invalid
 * UTF-8 (lone continuation, truncated sequence, surrogate) and far more than MN_UNTRUSTED_MAX bytes. */
static const char hostile_manufacturer[] =
        "Evil \"Corp\" \\ \x1b[31mRED\x1b[0m \x07\x08\r\n\t\x7f \xc2\x9b" "2J \xff\xfe \xc3\x28 \xed\xa0\x80 end";

static int setup_hostile(void **state) {
        char product[1024] = "", serial[700] = "SER\"IAL\\\x01\x02\x1f\x1b]0;pwned\x07";
        size_t o = 0;

        if (setup_demo(state) < 0)
                return -1;
        for (int k = 0; k < 120; k++) { /* 360 bytes of 情 */
                memcpy(product + o, "\xe6\x83\x85", 3);
                o += 3;
        }
        memcpy(product + o, "\x1b]0;title\x07", 11);
        for (size_t k = strlen(serial); k < sizeof(serial) - 1; k++)
                serial[k] = 'x';

        UMockdevTestbed *tb = *state;
        g_autofree char *dev = umockdev_testbed_add_device(
                tb, "usb", "1-9", USB1,
                "idVendor", "dead", "idProduct", "beef", "bDeviceClass", "00", "authorized", "1",
                "manufacturer", hostile_manufacturer, "product", product, "serial", serial, NULL,
                "DEVTYPE", "usb_device", "ID_MEDIA_PLAYER", "\x1b[5m", NULL);
        if (!dev)
                return -1;
        g_autofree char *iface = umockdev_testbed_add_device(
                tb, "usb", "1-9:1.0", dev,
                "bInterfaceClass", "08", "bInterfaceSubClass", "06", "bInterfaceProtocol", "50",
                "interface", "\x1b[2J\"MTP\"\\\xff", NULL,
                "DEVTYPE", "usb_interface", NULL);
        return iface ? 0 : -1;
}

static void test_hostile_strings(void **state) {
        json_object *a = devices_json("--policy", DATA("demo-policy.yaml"), NULL, NULL), *d;

        d = device(a, "name", "1-9");
        assert_str(d, "vendor", "dead");
        assert_str(d, "decision", "block");
        /* Escaped, not stripped: the JSON string holds the (sanitized) bytes. */
        const char *m = str(d, "manufacturer");
        assert_non_null(m);
        assert_non_null(strstr(m, "Evil \"Corp\" \\ \x1b[31mRED"));
        assert_non_null(strstr(m, "\xef\xbf\xbd")); /* invalid bytes became U+FFFD */
        assert_true(utf8_is_valid(m, strlen(m), NULL));
        const char *s = str(d, "serial"), *p = str(d, "model");
        assert_non_null(s);
        assert_non_null(p);
        assert_true(strncmp(s, "SER\"IAL\\\x01\x02\x1f", 9) == 0);
        assert_true(strlen(s) <= MN_UNTRUSTED_MAX + 3);
        assert_true(strlen(p) <= MN_UNTRUSTED_MAX + 3);
        assert_non_null(strstr(s, "\xe2\x80\xa6")); /* cut, and marked */
        assert_non_null(strstr(str(interface(d, "1-9:1.0"), "label"), "\"MTP\""));
        /* The other devices are untouched by their neighbour. */
        assert_str(device(a, "serial", SERIAL_REGISTERED), "rule", RULE_REGISTERED);
        json_object_put(a);

        Run r;
        run_ctl(&r, "devices", "--policy", DATA("demo-policy.yaml"), NULL);
        assert_int_equal(r.status, 0);
        assert_true(utf8_is_valid(r.out, r.out_len, NULL));
        assert_no_control_bytes(r.out, r.out_len);
        assert_non_null(strstr(r.out, "dead:beef"));
        assert_non_null(strstr(r.out, "\\x01\\x02\\x1f\\x1b]0;pwned\\x07"));
        run_done(&r);
}

/* A FAT12 boot sector, FATs and root directory with a volume label: enough for libblkid. */
static void write_fat12_image(const char *path) {
        static uint8_t img[2880 * 512];
        static const uint8_t bpb[] = {
                0xeb, 0x3c, 0x90, 'M', 'S', 'D', 'O', 'S', '5', '.', '0', /* jump, OEM */
                0x00, 0x02, 0x01, 0x01, 0x00, 0x02, 0xe0, 0x00,          /* 512 B/sector, 1 sector/cluster, 1 reserved, 2 FATs, 224 root entries */
                0x40, 0x0b, 0xf0, 0x09, 0x00, 0x12, 0x00, 0x02, 0x00,    /* 2880 sectors, media f0, 9 sectors/FAT, 18/track, 2 heads */
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,          /* hidden, large total */
                0x00, 0x00, 0x29, 0x78, 0x56, 0x34, 0x12,                /* drive, ext. signature, serial 1234-5678 */
                'M', 'N', 'P', 'R', 'O', 'B', 'E', ' ', ' ', ' ', ' ',   /* label */
                'F', 'A', 'T', '1', '2', ' ', ' ', ' ',
        };
        memset(img, 0, sizeof(img));
        memcpy(img, bpb, sizeof(bpb));
        img[510] = 0x55;
        img[511] = 0xaa;
        for (int fat = 0; fat < 2; fat++)
                memcpy(img + (1 + 9 * fat) * 512, "\xf0\xff\xff", 3);
        memcpy(img + 19 * 512, "MNPROBE    \x08", 12); /* root directory: volume label entry */

        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(img, 1, sizeof(img), f), sizeof(img));
        assert_int_equal(fclose(f), 0);
}

static int setup_blkid(void **state) {
        if (setup_demo(state) < 0)
                return -1;
        UMockdevTestbed *tb = *state;
        /* A removable disk that udev has not probed: no ID_FS_* properties. */
        g_autofree char *host = umockdev_testbed_add_device(tb, "platform", "floppy.0", NULL, NULL, NULL);
        g_autofree char *disk = umockdev_testbed_add_device(
                tb, "block", "fd0", host, "removable", "1", "dev", "2:0", "size", "2880", NULL,
                "DEVNAME", "/dev/fd0", "DEVTYPE", "disk", "MAJOR", "2", "MINOR", "0", NULL);
        if (!host || !disk)
                return -1;
        g_autofree char *root = umockdev_testbed_get_root_dir(tb);
        g_autofree char *node = g_build_filename(root, "dev", "fd0", NULL);
        write_fat12_image(node);
        return 0;
}

static void test_blkid_fallback(void **state) {
        json_object *a = devices_json("--policy", DATA("demo-policy.yaml"), NULL, NULL), *d;

        d = device(a, "name", "fd0");
        assert_str(d, "bus", "platform");
        assert_str(d, "decision", "block");
        json_object *fs = device(array(d, "filesystems"), "devnode", "/dev/fd0");
        assert_str(fs, "type", "vfat");
        assert_str(fs, "uuid", "1234-5678");
        assert_str(fs, "label", "MNPROBE");
        json_object_put(a);
}

int main(void) {
        const char *preload = getenv("LD_PRELOAD");
        if (!preload || !strstr(preload, "libumockdev-preload")) {
                printf("SKIP: LD_PRELOAD does not hold libumockdev-preload; run this test under umockdev-wrapper\n");
                return 77;
        }

        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_demo_policy, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_users_and_dates, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_audit_mode, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_builtin_defaults, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_table, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_bad_policy, setup_demo, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_hostile_strings, setup_hostile, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_blkid_fallback, setup_blkid, teardown_testbed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
