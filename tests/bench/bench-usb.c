/* SPDX-License-Identifier: GPL-2.0-or-later */
/* USB benchmarks on umockdev testbeds: mnguardd, USBGuard and a null responder side by side (issues 3,
 * 4, 11; docs/performance.md). Prints "name value unit" lines; never passes or fails on a figure.
 *
 *   bench-usb insert   [--daemon mnguardd,usbguard,null] [--inserts N] [--gap-ms G]
 *       Each daemon gets its own testbed with a root hub and one stick already present (the sentinel:
 *       its authorized=0 says that the daemon is up). Then N sticks (device + interface 08/06/50, binary
 *       descriptors, port/connect_type) are inserted ONE AT A TIME, stick i into every daemon's testbed
 *       in turn: the stick is created while the daemon's emulated netlink socket is parked (creating a
 *       device in a testbed synthesizes an "add" uevent by itself), the daemon is left to go idle (no
 *       thread running or in an fsync, at least G ms), then the clock starts, umockdev_testbed_uevent()
 *       sends "add", and the harness spins reading the stick's "authorized" (open/read/close) until it
 *       reads 0. Sticks stay plugged, so the last inserts see ~N devices. p50/p90/p99/max, the cost of
 *       the uevent call itself, the polling interval, whether inotify saw the write, then VmRSS/VmHWM/
 *       RssAnon with N+1 sticks, and the ratios of the run.
 *   bench-usb coldplug [--daemon ...] [--devices N] [--runs R]
 *       Time from exec until the harness has seen each of N+1 present sticks at authorized=0, minus the
 *       same with 1 stick (median of R runs each; daemons and sizes take turns; fresh state each run);
 *       for mnguardd also READY=1 (N+1) minus READY=1 (1). Then VmRSS/VmHWM/RssAnon with N+1 sticks.
 *   bench-usb idle     [--seconds S]   (default: $BENCH_IDLE_SECONDS, else 65)
 *       mnguardd as on this machine (no USB, no umockdev), and mnguardd, the null responder and
 *       usbguard-daemon on an empty testbed, idle side by side for S seconds: VmRSS/VmHWM/RssAnon and
 *       context switches (voluntary + involuntary: wake-ups) of all their threads over the window.
 *
 * insert and coldplug run under umockdev-wrapper (LD_PRELOAD with libumockdev-preload; exit 77 if not).
 * Testbeds go on a tmpfs in a private mount namespace when the harness is root (see
 * setup_sysfs_tmpfs()). USBGuard runs its production "uevent" backend with usbguard-uevent-shim.so in
 * front of umockdev's preload (see that file for why) and a policy equal to mnguardd's. Environment:
 * $MNGUARDD, $USBGUARD_DAEMON, $BENCH_USBGUARD_SHIM, $BENCH_USB_NULL override the built-in paths;
 * $BENCH_KEEP=1 keeps the daemons' directories (logs); $BENCH_SYSFS_DIR puts testbeds there. Unless
 * $BENCH_NO_PIN is set, the harness pins itself to the last CPU and the daemons to the others (when
 * there are >= 2), so that its spinning does not take their CPU. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <umockdev.h>

#ifndef MNGUARDD_PATH
#define MNGUARDD_PATH "mnguardd"
#endif
#ifndef USBGUARD_SHIM_PATH
#define USBGUARD_SHIM_PATH "usbguard-uevent-shim.so"
#endif
#ifndef NULL_RESPONDER_PATH
#define NULL_RESPONDER_PATH "bench-usb-null"
#endif
#define USBGUARD_DAEMON_PATH "/usr/sbin/usbguard-daemon"

#define HUB "/devices/pci0000:00/0000:00:14.0/usb1"
#define SENTINEL_PORT 9999
#define INSERT_TIMEOUT_NS (2 * NSEC)
#define NSEC UINT64_C(1000000000)

extern char **environ;

static const char *policy_yaml =
        "mnguard-policy: 1\n"
        "serial: 1\n"
        "name: \"bench: block storage\"\n"
        "mode: enforce\n"
        "defaults:\n"
        "  storage: block\n"
        "  usb-classes-blocked: [storage, still-image, network, wireless]\n";

/* The same policy for USBGuard: hubs allowed, the classes mnguard blocks by default blocked, the rest
 * allowed (as mnguard allows keyboards and mice). */
static const char *usbguard_rules =
        "allow with-interface equals { 09:00:* }\n"
        "block with-interface one-of { 08:*:* 06:*:* 02:*:* 0a:*:* e0:*:* }\n";

/* root hub: device 1d6b:0002, one hub interface, one interrupt endpoint */
static const char *hub_desc =
        "12010002090001406b1d020001060302010109021900010100e0000904000001090000000705810304000c";
/* stick: 0781:5581, one configuration, interface 08/06/50 with bulk in/out. Its record has what the
 * kernel shows for such a stick, including port/connect_type: USBGuard waits up to ~30 ms for that
 * attribute on every non-controller device ("port/connect_type is empty ... after waiting"). */
static const char *stick_desc =
        "12010002000000408107815500010102030109022000010100803209040000020806500007058102000200070502020002"
        "00";

#define HUB_RECORD \
        "P: /devices/pci0000:00/0000:00:14.0\n" \
        "E: SUBSYSTEM=pci\n" \
        "E: DRIVER=xhci_hcd\n" \
        "E: PCI_CLASS=C0330\n" \
        "A: class=0x0c0330\n" \
        "A: vendor=0x8086\n" \
        "A: device=0xa36d\n" \
        "\n" \
        "P: " HUB "\n" \
        "E: SUBSYSTEM=usb\n" \
        "E: DEVTYPE=usb_device\n" \
        "E: DRIVER=usb\n" \
        "E: PRODUCT=1d6b/2/601\n" \
        "E: TYPE=9/0/1\n" \
        "E: BUSNUM=001\n" \
        "E: DEVNUM=001\n" \
        "A: authorized=1\n" \
        "A: authorized_default=1\n" \
        "A: bDeviceClass=09\n" \
        "A: bDeviceProtocol=01\n" \
        "A: bDeviceSubClass=00\n" \
        "A: bNumInterfaces= 1\n" \
        "A: bConfigurationValue=1\n" \
        "A: bcdDevice=0601\n" \
        "A: busnum=1\n" \
        "A: devnum=1\n" \
        "A: idProduct=0002\n" \
        "A: idVendor=1d6b\n" \
        "A: manufacturer=Linux xhci-hcd\n" \
        "A: maxchild=12\n" \
        "A: product=xHCI Host Controller\n" \
        "A: serial=0000:00:14.0\n" \
        "A: speed=480\n" \
        "A: version= 2.00\n" \
        "H: descriptors=%s\n" \
        "\n" \
        "P: " HUB "/1-0:1.0\n" \
        "E: SUBSYSTEM=usb\n" \
        "E: DEVTYPE=usb_interface\n" \
        "E: DRIVER=hub\n" \
        "E: INTERFACE=9/0/0\n" \
        "E: PRODUCT=1d6b/2/601\n" \
        "E: TYPE=9/0/1\n" \
        "A: bAlternateSetting= 0\n" \
        "A: bInterfaceClass=09\n" \
        "A: bInterfaceNumber=00\n" \
        "A: bInterfaceProtocol=00\n" \
        "A: bInterfaceSubClass=00\n" \
        "A: bNumEndpoints=01\n" \
        "A: authorized=1\n"

#define STICK_RECORD \
        "P: " HUB "/1-%1$d\n" \
        "E: SUBSYSTEM=usb\n" \
        "E: DEVTYPE=usb_device\n" \
        "E: DRIVER=usb\n" \
        "E: PRODUCT=781/5581/100\n" \
        "E: TYPE=0/0/0\n" \
        "E: BUSNUM=001\n" \
        "E: DEVNUM=%2$03d\n" \
        "A: authorized=1\n" \
        "A: bDeviceClass=00\n" \
        "A: bDeviceProtocol=00\n" \
        "A: bDeviceSubClass=00\n" \
        "A: bNumInterfaces= 1\n" \
        "A: bConfigurationValue=1\n" \
        "A: bcdDevice=0100\n" \
        "A: busnum=1\n" \
        "A: devnum=%2$d\n" \
        "A: idProduct=5581\n" \
        "A: idVendor=0781\n" \
        "A: manufacturer=SanDisk\n" \
        "A: product=Cruzer Blade\n" \
        "A: serial=BENCH%1$08d\n" \
        "A: speed=480\n" \
        "A: version= 2.00\n" \
        "H: descriptors=%3$s\n" \
        "A: port/connect_type=hotplug\n" \
        "\n" \
        "P: " HUB "/1-%1$d/1-%1$d:1.0\n" \
        "E: SUBSYSTEM=usb\n" \
        "E: DEVTYPE=usb_interface\n" \
        "E: INTERFACE=8/6/80\n" \
        "E: PRODUCT=781/5581/100\n" \
        "E: TYPE=0/0/0\n" \
        "A: authorized=1\n" \
        "A: bAlternateSetting= 0\n" \
        "A: bInterfaceClass=08\n" \
        "A: bInterfaceNumber=00\n" \
        "A: bInterfaceProtocol=50\n" \
        "A: bInterfaceSubClass=06\n" \
        "A: bNumEndpoints=02\n"

/* ---- small helpers ---- */

static const char *env_or(const char *name, const char *def) {
        const char *v = getenv(name);
        return v && *v ? v : def;
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NSEC + (uint64_t) ts.tv_nsec;
}

static void sleep_ms(double ms) {
        struct timespec ts = { .tv_sec = (time_t) (ms / 1000), .tv_nsec = (long) (fmod(ms, 1000) * 1e6) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static pid_t children[8];
static size_t n_children;

static void kill_children(void) {
        for (size_t i = 0; i < n_children; i++)
                if (children[i] > 0) {
                        kill(children[i], SIGKILL);
                        waitpid(children[i], NULL, 0);
                        children[i] = 0;
                }
}

static void die(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("bench-usb: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        kill_children();
        exit(EXIT_FAILURE);
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                die("out of memory");
        va_end(ap);
        return s;
}

static void write_file(const char *path, const char *text, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                die("cannot create %s: %s", path, strerror(errno));
        size_t n = strlen(text);
        if (write(fd, text, n) != (ssize_t) n)
                die("cannot write %s: %s", path, strerror(errno));
        close(fd);
}

/* First byte of a sysfs attribute; 0 when it cannot be read. One open/read/close: the daemon under test
 * may write the file in place or replace it. */
static char read_first(const char *path) {
        char c = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        if (read(fd, &c, 1) != 1)
                c = 0;
        close(fd);
        return c;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
        (void) st, (void) flag, (void) f;
        remove(p);
        return 0;
}

static void rm_rf(const char *dir) {
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* nearest-rank percentile of a sorted array */
static double pct(const double *v, size_t n, double q) {
        if (n == 0)
                return NAN;
        size_t k = (size_t) ceil(q * (double) n);
        return v[k == 0 ? 0 : k - 1];
}

static double median(double *v, size_t n) {
        qsort(v, n, sizeof(double), cmp_double);
        return pct(v, n, 0.5);
}

/* ---- /proc figures ---- */

static long status_kib(pid_t pid, const char *field) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        long v = -1;
        size_t n = strlen(field);
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, field, n) == 0 && line[n] == ':') {
                        v = strtol(line + n + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

/* Pss (shared library pages divided among the processes that map them) from smaps_rollup, KiB. */
static long pss_kib(pid_t pid) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
        FILE *f = fopen(path, "re");
        long v = -1;
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "Pss:", 4) == 0) {
                        v = strtol(line + 4, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

/* Sums a per-thread figure over /proc/PID/task/ *: context switches from status, or ns on CPU from
 * schedstat (field "schedstat"). */
static uint64_t sum_tasks(pid_t pid, const char *field, unsigned *ret_threads) {
        char path[96];
        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        DIR *d = opendir(path);
        uint64_t sum = 0;
        unsigned threads = 0;
        if (!d)
                return 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                threads++;
                char p[320], line[256];
                bool sched = strcmp(field, "schedstat") == 0;
                snprintf(p, sizeof(p), "/proc/%d/task/%s/%s", (int) pid, e->d_name, sched ? "schedstat" : "status");
                FILE *f = fopen(p, "re");
                if (!f)
                        continue;
                size_t n = strlen(field);
                while (fgets(line, sizeof(line), f)) {
                        if (sched) {
                                sum += strtoull(line, NULL, 10);
                                break;
                        }
                        if (strncmp(line, field, n) == 0 && line[n] == ':') {
                                sum += strtoull(line + n + 1, NULL, 10);
                                break;
                        }
                }
                fclose(f);
        }
        closedir(d);
        if (ret_threads)
                *ret_threads = threads;
        return sum;
}

/* ns on CPU of one thread */
static uint64_t thread_cpu_ns(pid_t pid, pid_t tid) {
        char p[96];
        snprintf(p, sizeof(p), "/proc/%d/task/%d/schedstat", (int) pid, (int) tid);
        FILE *f = fopen(p, "re");
        unsigned long long v = 0;
        if (f) {
                if (fscanf(f, "%llu", &v) != 1)
                        v = 0;
                fclose(f);
        }
        return v;
}

/* Whether any thread of pid is running or in uninterruptible sleep (an fsync, for instance). */
static bool any_thread_busy(pid_t pid) {
        char path[96];
        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        DIR *d = opendir(path);
        bool busy = false;
        if (!d)
                return false;
        struct dirent *e;
        while (!busy && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                char p[320], line[512];
                snprintf(p, sizeof(p), "/proc/%d/task/%s/stat", (int) pid, e->d_name);
                FILE *f = fopen(p, "re");
                if (!f)
                        continue;
                if (fgets(line, sizeof(line), f)) {
                        const char *c = strrchr(line, ')');
                        if (c && c[1] == ' ' && (c[2] == 'R' || c[2] == 'D'))
                                busy = true;
                }
                fclose(f);
        }
        closedir(d);
        return busy;
}

/* Waits at least min_ms, then until no thread of the daemon has run for two consecutive milliseconds
 * and none is running or in an fsync (the journal commit or audit write of the previous insert is
 * done), at most 2 s. */
static void wait_quiet(pid_t pid, double min_ms) {
        sleep_ms(min_ms);
        uint64_t deadline = now_ns() + 2 * NSEC, last = sum_tasks(pid, "schedstat", NULL);
        int still = 0;
        while (still < 2 && now_ns() < deadline) {
                sleep_ms(1);
                uint64_t cur = sum_tasks(pid, "schedstat", NULL);
                still = cur == last && !any_thread_busy(pid) ? still + 1 : 0;
                last = cur;
        }
}

/* ---- CPUs: the harness spins on the last one, daemons get the others ---- */

static cpu_set_t daemon_cpus;
static bool pin_daemons;

static void setup_cpus(void) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cpu_set_t me;
        if (n < 2 || getenv("BENCH_NO_PIN") || sched_getaffinity(0, sizeof(me), &me) < 0)
                return;
        int last = -1;
        for (int c = 0; c < CPU_SETSIZE; c++)
                if (CPU_ISSET(c, &me))
                        last = c;
        if (last < 0 || CPU_COUNT(&me) < 2)
                return;
        daemon_cpus = me;
        CPU_CLR(last, &daemon_cpus);
        CPU_ZERO(&me);
        CPU_SET(last, &me);
        if (sched_setaffinity(0, sizeof(me), &me) == 0)
                pin_daemons = true;
}

/* ---- the testbed ---- */

typedef struct Bed {
        UMockdevTestbed *tb;
        char *root, *sys;
} Bed;

/* Where testbeds go: a private tmpfs mounted by main() when it can (see setup_sysfs_tmpfs()), else
 * $TMPDIR. */
static char *sysfs_dir;

static void bed_new(Bed *b) {
        char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
        if (sysfs_dir)
                setenv("TMPDIR", sysfs_dir, 1);
        b->tb = umockdev_testbed_new();
        if (sysfs_dir) {
                if (old)
                        setenv("TMPDIR", old, 1);
                else
                        unsetenv("TMPDIR");
        }
        free(old);
        b->root = umockdev_testbed_get_root_dir(b->tb);
        b->sys = umockdev_testbed_get_sys_dir(b->tb);
        char *rec = xasprintf(HUB_RECORD, hub_desc);
        GError *error = NULL;
        if (!umockdev_testbed_add_from_string(b->tb, rec, &error))
                die("cannot add the root hub: %s", error ? error->message : "?");
        free(rec);
}

static void bed_free(Bed *b) {
        g_object_unref(b->tb);
        rm_rf(b->root); /* in case the testbed leaves anything behind */
        g_free(b->root);
        g_free(b->sys);
}

/* libumockdev's uevent sender resolves paths through this process's own preload, that is through
 * $UMOCKDEV_DIR: with several testbeds, point it at the one about to be used. */
static void bed_use(const Bed *b) {
        setenv("UMOCKDEV_DIR", b->root, 1);
}

static void bed_add_stick(Bed *b, int port) {
        bed_use(b);
        char *rec = xasprintf(STICK_RECORD, port, port % 126 + 2, stick_desc);
        GError *error = NULL;
        if (!umockdev_testbed_add_from_string(b->tb, rec, &error))
                die("cannot add stick %d: %s", port, error ? error->message : "?");
        free(rec);
}

static char *stick_attr(const Bed *b, int port, const char *iface, const char *attr) {
        return iface ? xasprintf("%s" HUB "/1-%d/1-%d:1.0/%s", b->sys, port, port, attr)
                     : xasprintf("%s" HUB "/1-%d/%s", b->sys, port, attr);
}

static void bed_reset_stick(const Bed *b, int port) {
        char *p = stick_attr(b, port, NULL, "authorized"), *q = stick_attr(b, port, "if", "authorized");
        write_file(p, "1\n", 0644);
        write_file(q, "1\n", 0644);
        free(p);
        free(q);
}

/* Renames the emulated netlink sockets ($UMOCKDEV_DIR/event*) away, or back: umockdev sends a uevent to
 * every such socket, so parked sockets get nothing while a device is created. */
static void bed_park(const Bed *b, bool park) {
        DIR *d = opendir(b->root);
        if (!d)
                die("cannot open %s: %s", b->root, strerror(errno));
        const char *from = park ? "event" : "parked-event";
        struct dirent *e;
        while ((e = readdir(d))) {
                if (strncmp(e->d_name, from, strlen(from)) != 0)
                        continue;
                char *a = xasprintf("%s/%s", b->root, e->d_name);
                char *n = park ? xasprintf("%s/parked-%s", b->root, e->d_name)
                               : xasprintf("%s/%s", b->root, e->d_name + strlen("parked-"));
                if (rename(a, n) < 0)
                        die("cannot rename %s: %s", a, strerror(errno));
                free(a);
                free(n);
        }
        closedir(d);
}

/* Removes the socket files a stopped daemon left behind. */
static void bed_clean_sockets(const Bed *b) {
        DIR *d = opendir(b->root);
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d)))
                if (strncmp(e->d_name, "event", 5) == 0 || strncmp(e->d_name, "parked-event", 12) == 0) {
                        char *a = xasprintf("%s/%s", b->root, e->d_name);
                        unlink(a);
                        free(a);
                }
        closedir(d);
}

/* ---- daemons ---- */

typedef enum { MNGUARDD, USBGUARD, NULLD, _KIND_MAX } Kind;

typedef struct Daemon {
        Kind kind;
        const char *label;
        char *base;
        pid_t pid;
        int notify_fd;
        uint64_t t_exec, t_ready;
} Daemon;

static const char *kind_name(Kind k) {
        return k == MNGUARDD ? "mnguardd" : k == USBGUARD ? "usbguard" : "null";
}

/* Starts a daemon in a fresh temporary directory, on testbed b (NULL: none, LD_PRELOAD and
 * UMOCKDEV_DIR are removed from its environment). For mnguardd, waits for READY=1. */
static void daemon_start(Daemon *d, Kind kind, const Bed *b) {
        bool umockdev = b != NULL;
        if (b)
                bed_use(b); /* inherited by the daemon */
        memset(d, 0, sizeof(*d));
        d->kind = kind;
        d->notify_fd = -1;
        d->base = xasprintf("%s/mnguard-bench-XXXXXX", env_or("TMPDIR", "/tmp"));
        if (!mkdtemp(d->base))
                die("mkdtemp: %s", strerror(errno));

        char *argv[12] = {};
        char **env = NULL;
        size_t n_env = 0;
        for (char **e = environ; *e; e++)
                n_env++;
        env = calloc(n_env + 8, sizeof(char *));
        size_t k = 0;
        for (char **e = environ; *e; e++) {
                if (!umockdev && (strncmp(*e, "LD_PRELOAD=", 11) == 0 || strncmp(*e, "UMOCKDEV_DIR=", 13) == 0))
                        continue;
                if (strncmp(*e, "NOTIFY_SOCKET=", 14) == 0 || strncmp(*e, "WATCHDOG_", 9) == 0 ||
                    strncmp(*e, "LISTEN_", 7) == 0)
                        continue;
                if (kind == USBGUARD && strncmp(*e, "LD_PRELOAD=", 11) == 0)
                        continue;
                env[k++] = *e;
        }

        if (kind == MNGUARDD) {
                char *etc = xasprintf("%s/etc", d->base), *pol = xasprintf("%s/etc/policy.yaml", d->base);
                char *mid = xasprintf("%s/machine-id", d->base);
                char *sock = xasprintf("%s/notify.sock", d->base);
                mkdir(etc, 0755);
                write_file(pol, policy_yaml, 0644);
                write_file(mid, "0123456789abcdef0123456789abcdef\n", 0644);
                d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                if (strlen(sock) >= sizeof(sa.sun_path))
                        die("path too long: %s", sock);
                memcpy(sa.sun_path, sock, strlen(sock) + 1);
                if (d->notify_fd < 0 || bind(d->notify_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        die("notify socket: %s", strerror(errno));
                env[k++] = xasprintf("NOTIFY_SOCKET=%s", sock);
                env[k++] = xasprintf("MNGUARD_MACHINE_ID_FILE=%s", mid);
                argv[0] = (char *) env_or("MNGUARDD", MNGUARDD_PATH);
                argv[1] = "--config-dir";
                argv[2] = etc;
                argv[3] = "--state-dir";
                argv[4] = xasprintf("%s/state", d->base);
                argv[5] = "--runtime-dir";
                argv[6] = xasprintf("%s/run", d->base);
                free(pol);
                free(sock);
        } else if (kind == NULLD) {
                argv[0] = (char *) env_or("BENCH_USB_NULL", NULL_RESPONDER_PATH);
        } else {
                char *rules = xasprintf("%s/rules.conf", d->base), *conf = xasprintf("%s/usbguard-daemon.conf", d->base);
                char *ipc = xasprintf("%s/IPCAccessControl.d", d->base);
                mkdir(ipc, 0755);
                write_file(rules, usbguard_rules, 0600);
                char *text = xasprintf("RuleFile=%s\n"
                                       "ImplicitPolicyTarget=allow\n"
                                       "PresentDevicePolicy=apply-policy\n"
                                       "PresentControllerPolicy=keep\n"
                                       "InsertedDevicePolicy=apply-policy\n"
                                       "AuthorizedDefault=none\n"
                                       "RestoreControllerDeviceState=false\n"
                                       "DeviceManagerBackend=uevent\n"
                                       "IPCAllowedUsers=root\n"
                                       "IPCAccessControlFiles=%s\n"
                                       "DeviceRulesWithPort=false\n"
                                       "AuditBackend=FileAudit\n"
                                       "AuditFilePath=%s/audit.log\n"
                                       "HidePII=false\n",
                                       rules, ipc, d->base);
                write_file(conf, text, 0600);
                free(text);
                const char *pre = getenv("LD_PRELOAD");
                const char *shim = env_or("BENCH_USBGUARD_SHIM", USBGUARD_SHIM_PATH);
                if (umockdev) {
                        if (access(shim, R_OK) < 0)
                                die("%s: %s", shim, strerror(errno));
                        env[k++] = xasprintf("LD_PRELOAD=%s%s%s", shim, pre ? ":" : "", pre ? pre : "");
                }
                argv[0] = (char *) env_or("USBGUARD_DAEMON", USBGUARD_DAEMON_PATH);
                argv[1] = "-k"; /* log to the console (our log file); info level */
                argv[2] = "-P"; /* our temporary files: no permission check */
                argv[3] = "-c";
                argv[4] = conf;
                free(rules);
                free(ipc);
        }
        env[k] = NULL;

        char *log = xasprintf("%s/daemon.log", d->base);
        int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (logfd < 0)
                die("cannot create %s: %s", log, strerror(errno));
        free(log);

        d->t_exec = now_ns();
        d->pid = fork();
        if (d->pid < 0)
                die("fork: %s", strerror(errno));
        if (d->pid == 0) {
                if (pin_daemons)
                        sched_setaffinity(0, sizeof(daemon_cpus), &daemon_cpus);
                dup2(logfd, STDOUT_FILENO);
                dup2(logfd, STDERR_FILENO);
                int nul = open("/dev/null", O_RDONLY);
                if (nul >= 0)
                        dup2(nul, STDIN_FILENO);
                execve(argv[0], argv, env);
                fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(logfd);
        children[n_children++] = d->pid;

        if (kind == MNGUARDD) {
                char buf[4096];
                uint64_t deadline = now_ns() + 60 * NSEC;
                for (;;) {
                        int st;
                        if (waitpid(d->pid, &st, WNOHANG) == d->pid)
                                die("%s exited before READY=1 (see %s/daemon.log)", argv[0], d->base);
                        if (now_ns() > deadline)
                                die("%s: no READY=1 within 60 s", argv[0]);
                        struct timeval tv = { 0, 100000 };
                        setsockopt(d->notify_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                        ssize_t n = recv(d->notify_fd, buf, sizeof(buf) - 1, 0);
                        if (n <= 0)
                                continue;
                        buf[n] = 0;
                        if (strncmp(buf, "READY=1", 7) == 0 || strstr(buf, "\nREADY=1")) {
                                d->t_ready = now_ns();
                                break;
                        }
                }
        }
        for (size_t i = 0; env[i]; i++) {
                bool ours = true;
                for (char **e = environ; *e; e++)
                        if (*e == env[i])
                                ours = false;
                if (ours)
                        free(env[i]);
        }
        free(env);
}

static void daemon_check_alive(Daemon *d) {
        int st;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
                d->pid = 0;
                die("%s died (see %s/daemon.log)", kind_name(d->kind), d->base);
        }
}

static void daemon_stop(Daemon *d, bool keep_dir) {
        if (d->pid > 0) {
                kill(d->pid, SIGTERM);
                uint64_t deadline = now_ns() + 10 * NSEC;
                int st;
                while (waitpid(d->pid, &st, WNOHANG) != d->pid) {
                        if (now_ns() > deadline) {
                                fprintf(stderr, "bench-usb: %s did not stop on SIGTERM, killed\n", kind_name(d->kind));
                                kill(d->pid, SIGKILL);
                                waitpid(d->pid, &st, 0);
                                break;
                        }
                        sleep_ms(2);
                }
                for (size_t i = 0; i < n_children; i++)
                        if (children[i] == d->pid)
                                children[i] = 0;
                d->pid = 0;
        }
        if (d->notify_fd >= 0)
                close(d->notify_fd);
        if (!keep_dir && !getenv("BENCH_KEEP"))
                rm_rf(d->base);
        else
                fprintf(stderr, "bench-usb: kept %s\n", d->base);
        free(d->base);
        d->base = NULL;
}

/* Waits until every path reads '0'; returns the time of the read that saw the last one, or 0 on timeout.
 * ret_sweep: the longest pass over the pending paths (the resolution of the result). */
static uint64_t wait_all_zero(char **paths, size_t n, uint64_t timeout_ns, Daemon *d, uint64_t *ret_sweep) {
        size_t *pending = malloc(n * sizeof(size_t)), left = n;
        uint64_t deadline = now_ns() + timeout_ns, done = 0, sweep = 0, passes = 0;
        for (size_t i = 0; i < n; i++)
                pending[i] = i;
        while (left > 0) {
                uint64_t t0 = now_ns();
                if (t0 > deadline)
                        break;
                size_t k = 0;
                for (size_t i = 0; i < left; i++)
                        if (read_first(paths[pending[i]]) == '0')
                                done = now_ns();
                        else
                                pending[k++] = pending[i];
                left = k;
                uint64_t t1 = now_ns();
                if (t1 - t0 > sweep)
                        sweep = t1 - t0;
                if (left > 0 && ++passes % 1000 == 0)
                        daemon_check_alive(d);
        }
        free(pending);
        if (ret_sweep)
                *ret_sweep = sweep;
        return left == 0 ? done : 0;
}

/* ---- insert ---- */

typedef struct Insert {
        Kind kind;
        Bed bed;
        Daemon d;
        double *lat, *call, *cpu, *cpu_main;
        int got, lost, inotify_seen;
        double poll_ns;
        uint64_t polls;
        double p50, p99;
} Insert;

/* One stick into one daemon's testbed; records the time from the uevent call to authorized=0. */
static void insert_one(Insert *x, int port, double gap_ms, int ino) {
        Bed *b = &x->bed;
        bed_park(b, true);
        bed_add_stick(b, port);
        bed_park(b, false);
        char *auth = stick_attr(b, port, NULL, "authorized");
        char *syspath = xasprintf("/sys" HUB "/1-%d", port);
        int wd = ino >= 0 ? inotify_add_watch(ino, auth, IN_MODIFY | IN_CLOSE_WRITE) : -1;
        wait_quiet(x->d.pid, gap_ms);
        bed_use(b);

        uint64_t cpu0 = sum_tasks(x->d.pid, "schedstat", NULL), main0 = thread_cpu_ns(x->d.pid, x->d.pid);
        uint64_t t0 = now_ns();
        umockdev_testbed_uevent(b->tb, syspath, "add");
        uint64_t t_call = now_ns(), t = t_call, deadline = t0 + INSERT_TIMEOUT_NS, np = 0;
        bool ok = false;
        while (t < deadline) {
                char c = read_first(auth);
                t = now_ns();
                np++;
                if (c == '0') {
                        ok = true;
                        break;
                }
        }
        if (ok) {
                /* CPU time of all the daemon's threads for this insert, until it is idle again (journal
                 * commit included): unlike the latency, hardly touched by other tenants of the machine. */
                wait_quiet(x->d.pid, 0);
                x->cpu[x->got] = (double) (sum_tasks(x->d.pid, "schedstat", NULL) - cpu0) / 1e3;
                x->cpu_main[x->got] = (double) (thread_cpu_ns(x->d.pid, x->d.pid) - main0) / 1e3;
                x->lat[x->got] = (double) (t - t0) / 1e3;
                x->call[x->got] = (double) (t_call - t0) / 1e3;
                x->got++;
                x->poll_ns += (double) (t - t_call);
                x->polls += np;
        } else {
                x->lost++;
                daemon_check_alive(&x->d);
        }
        if (wd >= 0) {
                char buf[4096];
                if (ok && read(ino, buf, sizeof(buf)) > 0)
                        x->inotify_seen++;
                inotify_rm_watch(ino, wd);
                while (read(ino, buf, sizeof(buf)) > 0)
                        ;
        }
        free(auth);
        free(syspath);
}

static void insert_report(Insert *x, int n) {
        const char *name = kind_name(x->kind);
        int got = x->got;
        double first = NAN, last = NAN;
        size_t w = got < 100 ? (size_t) got : 100;
        if (w > 0) {
                double *tmp = malloc(w * sizeof(double));
                memcpy(tmp, x->lat, w * sizeof(double));
                first = median(tmp, w);
                memcpy(tmp, x->lat + got - w, w * sizeof(double));
                last = median(tmp, w);
                free(tmp);
        }
        qsort(x->lat, (size_t) got, sizeof(double), cmp_double);
        qsort(x->call, (size_t) got, sizeof(double), cmp_double);
        qsort(x->cpu, (size_t) got, sizeof(double), cmp_double);
        qsort(x->cpu_main, (size_t) got, sizeof(double), cmp_double);
        x->p50 = pct(x->lat, (size_t) got, 0.50);
        x->p99 = pct(x->lat, (size_t) got, 0.99);
        printf("%s_usb_inserts %d inserts\n", name, got);
        printf("%s_usb_insert_p50 %.1f us\n", name, pct(x->lat, (size_t) got, 0.50));
        printf("%s_usb_insert_p90 %.1f us\n", name, pct(x->lat, (size_t) got, 0.90));
        printf("%s_usb_insert_p99 %.1f us\n", name, pct(x->lat, (size_t) got, 0.99));
        printf("%s_usb_insert_max %.1f us\n", name, got ? x->lat[got - 1] : NAN);
        printf("%s_usb_insert_first100_p50 %.1f us\n", name, first);
        printf("%s_usb_insert_last100_p50 %.1f us\n", name, last);
        printf("%s_usb_insert_lost %d inserts\n", name, x->lost);
        printf("%s_usb_uevent_call_p50 %.1f us\n", name, pct(x->call, (size_t) got, 0.50));
        printf("%s_usb_insert_cpu_p50 %.1f us\n", name, pct(x->cpu, (size_t) got, 0.50));
        printf("%s_usb_insert_cpu_p99 %.1f us\n", name, pct(x->cpu, (size_t) got, 0.99));
        if (x->kind == MNGUARDD) { /* its event loop; the journal writer is another thread */
                printf("%s_usb_insert_cpu_main_thread_p50 %.1f us\n", name, pct(x->cpu_main, (size_t) got, 0.50));
                printf("%s_usb_insert_cpu_main_thread_p99 %.1f us\n", name, pct(x->cpu_main, (size_t) got, 0.99));
        }
        printf("%s_usb_poll_interval %.2f us\n", name, x->polls ? x->poll_ns / (double) x->polls / 1e3 : NAN);
        printf("%s_usb_insert_inotify_fired %d inserts\n", name, x->inotify_seen);
        printf("%s_rss_%d_hotplugged %ld KiB\n", name, n + 1, status_kib(x->d.pid, "VmRSS"));
        printf("%s_hwm_%d_hotplugged %ld KiB\n", name, n + 1, status_kib(x->d.pid, "VmHWM"));
        printf("%s_rss_anon_%d_hotplugged %ld KiB\n", name, n + 1, status_kib(x->d.pid, "RssAnon"));
        printf("%s_pss_%d_hotplugged %ld KiB\n", name, n + 1, pss_kib(x->d.pid));
}

/* Every daemon on its own testbed, started at once; stick i goes into each daemon's testbed in turn, so
 * that what disturbs the machine meanwhile disturbs all of them alike. */
static int run_insert(const Kind *kinds, size_t nk, int n, double gap_ms) {
        Insert x[_KIND_MAX] = {};
        int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        for (size_t j = 0; j < nk; j++) {
                x[j].kind = kinds[j];
                bed_new(&x[j].bed);
                bed_add_stick(&x[j].bed, SENTINEL_PORT);
                x[j].lat = calloc((size_t) n, sizeof(double));
                x[j].call = calloc((size_t) n, sizeof(double));
                x[j].cpu = calloc((size_t) n, sizeof(double));
                x[j].cpu_main = calloc((size_t) n, sizeof(double));
        }
        for (size_t j = 0; j < nk; j++) {
                char *sentinel = stick_attr(&x[j].bed, SENTINEL_PORT, NULL, "authorized");
                daemon_start(&x[j].d, kinds[j], &x[j].bed);
                if (!wait_all_zero(&sentinel, 1, 30 * NSEC, &x[j].d, NULL))
                        die("%s did not block the stick present at start within 30 s (see %s/daemon.log)",
                            kind_name(kinds[j]), x[j].d.base);
                free(sentinel);
        }
        for (size_t j = 0; j < nk; j++)
                wait_quiet(x[j].d.pid, 200);

        for (int i = 1; i <= n; i++)
                for (size_t j = 0; j < nk; j++)
                        insert_one(&x[(j + (size_t) i) % nk], i, gap_ms, ino); /* rotate who goes first */
        if (ino >= 0)
                close(ino);

        Insert *mn = NULL, *ug = NULL, *nul = NULL;
        for (size_t j = 0; j < nk; j++) {
                wait_quiet(x[j].d.pid, 300);
                insert_report(&x[j], n);
                if (x[j].kind == MNGUARDD)
                        mn = &x[j];
                else if (x[j].kind == USBGUARD)
                        ug = &x[j];
                else
                        nul = &x[j];
        }
        /* Same run, same noise: the figures to compare on a busy machine. */
        Insert *pair[2] = { mn, ug };
        for (size_t j = 0; j < 2 && nul; j++)
                if (pair[j])
                        printf("%s_usb_insert_p50_above_null %.1f us\n", kind_name(pair[j]->kind),
                               pair[j]->p50 - nul->p50);
        if (mn && ug) {
                printf("usb_insert_p50_ratio_mnguardd_to_usbguard %.2f ratio\n", mn->p50 / ug->p50);
                printf("usb_insert_p99_ratio_mnguardd_to_usbguard %.2f ratio\n", mn->p99 / ug->p99);
        }
        fflush(stdout);
        for (size_t j = 0; j < nk; j++) {
                daemon_stop(&x[j].d, false);
                bed_clean_sockets(&x[j].bed);
                bed_free(&x[j].bed);
                free(x[j].lat);
                free(x[j].call);
                free(x[j].cpu);
                free(x[j].cpu_main);
        }
        return 0; /* lost inserts are a figure, not a failure */
}

/* ---- coldplug ---- */

typedef struct Coldplug {
        double all_blocked_ms, ready_ms, sweep_ms;
        long rss, hwm, anon, pss;
} Coldplug;

static void coldplug_once(Bed *b, Kind kind, char **paths, int n, bool want_rss, Coldplug *out) {
        for (int i = 1; i <= n; i++)
                bed_reset_stick(b, i);
        bed_clean_sockets(b);
        Daemon d;
        daemon_start(&d, kind, b);
        uint64_t sweep = 0;
        uint64_t t = wait_all_zero(paths, (size_t) n, 60 * NSEC, &d, &sweep);
        if (!t)
                die("%s: not all %d present sticks blocked within 60 s (see %s/daemon.log)", kind_name(kind), n, d.base);
        out->all_blocked_ms = (double) (t - d.t_exec) / 1e6;
        out->ready_ms = d.t_ready ? (double) (d.t_ready - d.t_exec) / 1e6 : NAN;
        out->sweep_ms = (double) sweep / 1e6;
        if (!want_rss && kind == USBGUARD)
                wait_quiet(d.pid, 20); /* a SIGTERM while it still starts up can go unanswered for >10 s */
        if (want_rss) {
                /* resident memory with the devices present, once the daemon has settled (mnguardd's journal
                 * writer gives its cache back after a second without work); VmHWM keeps the peak */
                wait_quiet(d.pid, 300);
                usleep(1500 * 1000);
                wait_quiet(d.pid, 300);
                out->rss = status_kib(d.pid, "VmRSS");
                out->hwm = status_kib(d.pid, "VmHWM");
                out->anon = status_kib(d.pid, "RssAnon");
                out->pss = pss_kib(d.pid);
        }
        daemon_stop(&d, false);
}

/* Time from exec until every one of n+1 present sticks reads authorized=0, minus the same with one stick
 * (median of `runs` each); the daemons and the two sizes take turns. */
static int run_coldplug(const Kind *kinds, size_t nk, int n, int runs) {
        Bed b, b1;
        int total = n + 1;
        bed_new(&b);
        char **paths = calloc((size_t) total, sizeof(char *));
        for (int i = 1; i <= total; i++) {
                bed_add_stick(&b, i);
                paths[i - 1] = stick_attr(&b, i, NULL, "authorized");
        }
        bed_new(&b1);
        bed_add_stick(&b1, 1);
        char *p1 = stick_attr(&b1, 1, NULL, "authorized");

        double *many[_KIND_MAX], *one[_KIND_MAX], *rmany[_KIND_MAX], *rone[_KIND_MAX], sweep[_KIND_MAX] = {};
        Coldplug last[_KIND_MAX] = {};
        for (size_t j = 0; j < nk; j++) {
                many[j] = calloc((size_t) runs, sizeof(double));
                one[j] = calloc((size_t) runs, sizeof(double));
                rmany[j] = calloc((size_t) runs, sizeof(double));
                rone[j] = calloc((size_t) runs, sizeof(double));
        }
        for (int r = 0; r < runs; r++)
                for (size_t j = 0; j < nk; j++) {
                        Coldplug c = {};
                        coldplug_once(&b1, kinds[j], &p1, 1, false, &c);
                        one[j][r] = c.all_blocked_ms;
                        rone[j][r] = c.ready_ms;
                        coldplug_once(&b, kinds[j], paths, total, r == runs - 1, &c);
                        many[j][r] = c.all_blocked_ms;
                        rmany[j][r] = c.ready_ms;
                        if (c.sweep_ms > sweep[j])
                                sweep[j] = c.sweep_ms;
                        if (r == runs - 1)
                                last[j] = c;
                }
        double cost[_KIND_MAX] = {};
        for (size_t j = 0; j < nk; j++) {
                const char *name = kind_name(kinds[j]);
                double m1 = median(one[j], (size_t) runs), mn = median(many[j], (size_t) runs);
                cost[kinds[j]] = mn - m1;
                printf("%s_coldplug_%d %.1f ms\n", name, n, mn - m1);
                printf("%s_coldplug_%d_all_blocked_from_exec %.1f ms\n", name, total, mn);
                printf("%s_coldplug_1_all_blocked_from_exec %.1f ms\n", name, m1);
                printf("%s_coldplug_sweep_max %.2f ms\n", name, sweep[j]);
                if (kinds[j] == MNGUARDD) {
                        double r1 = median(rone[j], (size_t) runs), rn = median(rmany[j], (size_t) runs);
                        printf("%s_coldplug_%d_ready_delta %.1f ms\n", name, n, rn - r1);
                        printf("%s_ready_1_device %.1f ms\n", name, r1);
                }
                printf("%s_rss_%d_coldplugged %ld KiB\n", name, total, last[j].rss);
                printf("%s_hwm_%d_coldplugged %ld KiB\n", name, total, last[j].hwm);
                printf("%s_rss_anon_%d_coldplugged %ld KiB\n", name, total, last[j].anon);
                printf("%s_pss_%d_coldplugged %ld KiB\n", name, total, last[j].pss);
                free(many[j]);
                free(one[j]);
                free(rmany[j]);
                free(rone[j]);
        }
        if (cost[MNGUARDD] > 0 && cost[USBGUARD] > 0)
                printf("coldplug_%d_ratio_mnguardd_to_usbguard %.2f ratio\n", n, cost[MNGUARDD] / cost[USBGUARD]);
        fflush(stdout);

        for (int i = 0; i < total; i++)
                free(paths[i]);
        free(paths);
        free(p1);
        bed_clean_sockets(&b);
        bed_clean_sockets(&b1);
        bed_free(&b1);
        bed_free(&b);
        return 0;
}

/* ---- idle ---- */

/* mnguardd as on this machine (no USB, no umockdev), and mnguardd, USBGuard and the null responder each
 * on an empty testbed (root hub only), idle side by side. */
static int run_idle(double seconds, bool usbguard) {
        bool umockdev = strstr(env_or("LD_PRELOAD", ""), "umockdev-preload") != NULL;
        Bed b = {};
        Daemon d[4];
        const char *label[4] = { "mnguardd_idle", "mnguardd_idle_umockdev", "null_idle_umockdev", "usbguard_idle" };
        int nd = 1;

        daemon_start(&d[0], MNGUARDD, NULL);
        if (umockdev) {
                bed_new(&b);
                daemon_start(&d[1], MNGUARDD, &b);
                daemon_start(&d[2], NULLD, &b);
                nd = 3;
                if (usbguard)
                        daemon_start(&d[nd++], USBGUARD, &b);
        } else
                fprintf(stderr, "bench-usb: idle: not under umockdev-wrapper: USBGuard (needs a testbed here) skipped\n");
        sleep_ms(2000); /* settle: USBGuard has no readiness signal */
        uint64_t sw0[4];
        for (int i = 0; i < nd; i++) {
                daemon_check_alive(&d[i]);
                sw0[i] = sum_tasks(d[i].pid, "voluntary_ctxt_switches", NULL) +
                         sum_tasks(d[i].pid, "nonvoluntary_ctxt_switches", NULL);
        }
        uint64_t t0 = now_ns();
        sleep_ms(seconds * 1000);
        double window = (double) (now_ns() - t0) / 1e9;
        printf("idle_window %.1f s\n", window);
        for (int i = 0; i < nd; i++) {
                daemon_check_alive(&d[i]);
                unsigned threads = 0;
                uint64_t sw = sum_tasks(d[i].pid, "voluntary_ctxt_switches", &threads) +
                              sum_tasks(d[i].pid, "nonvoluntary_ctxt_switches", NULL) - sw0[i];
                printf("%s_rss %ld KiB\n", label[i], status_kib(d[i].pid, "VmRSS"));
                printf("%s_hwm %ld KiB\n", label[i], status_kib(d[i].pid, "VmHWM"));
                printf("%s_rss_anon %ld KiB\n", label[i], status_kib(d[i].pid, "RssAnon"));
                printf("%s_pss %ld KiB\n", label[i], pss_kib(d[i].pid));
                printf("%s_threads %u threads\n", label[i], threads);
                printf("%s_wakeups %" PRIu64 " switches\n", label[i], sw);
                printf("%s_wakeups_per_min %.1f switches/min\n", label[i], (double) sw * 60.0 / window);
        }
        fflush(stdout);
        for (int i = 0; i < nd; i++)
                daemon_stop(&d[i], false);
        if (umockdev) {
                bed_clean_sockets(&b);
                bed_free(&b);
        }
        return 0;
}

/* ---- main ---- */

static char *tmpfs_mount;

static void undo_tmpfs(void) {
        if (tmpfs_mount) {
                umount2(tmpfs_mount, MNT_DETACH);
                rmdir(tmpfs_mount);
        }
}

/* Testbeds on tmpfs, like sysfs in memory: on a journaling file system (here /tmp is ext4 on the same
 * disk as the daemons' journals) a daemon's write of "authorized" can wait for the file system's journal
 * commit, which real sysfs never does. The tmpfs is mounted in a private mount namespace of this process
 * and its children (root only; else, or with $BENCH_SYSFS_DIR, testbeds go where that or $TMPDIR says).
 * /dev/shm is not used: umockdev's preload redirects every path under /dev. */
static void setup_sysfs_tmpfs(void) {
        const char *dir = getenv("BENCH_SYSFS_DIR");
        if (dir && *dir) {
                sysfs_dir = strdup(dir);
                return;
        }
        if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                fprintf(stderr, "bench-usb: no private tmpfs for testbeds (%s), using $TMPDIR\n", strerror(errno));
                return;
        }
        char *d = xasprintf("%s/bench-usb-sysfs-XXXXXX", env_or("TMPDIR", "/tmp"));
        if (!mkdtemp(d) || mount("bench-usb-sysfs", d, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=512m") < 0) {
                fprintf(stderr, "bench-usb: cannot mount a tmpfs for testbeds (%s), using $TMPDIR\n", strerror(errno));
                rmdir(d);
                free(d);
                return;
        }
        tmpfs_mount = d;
        sysfs_dir = d;
        atexit(undo_tmpfs);
}

static void on_signal(int sig) {
        kill_children();
        undo_tmpfs();
        signal(sig, SIG_DFL);
        raise(sig);
}

static size_t parse_kinds(const char *arg, Kind *ret) {
        size_t n = 0;
        char *copy = strdup(arg), *save = NULL;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                Kind k;
                if (strcmp(w, "mnguardd") == 0)
                        k = MNGUARDD;
                else if (strcmp(w, "usbguard") == 0)
                        k = USBGUARD;
                else if (strcmp(w, "null") == 0)
                        k = NULLD;
                else
                        die("--daemon: a comma-separated list of mnguardd, usbguard, null");
                bool dup = false;
                for (size_t i = 0; i < n; i++)
                        dup = dup || ret[i] == k;
                if (!dup)
                        ret[n++] = k;
        }
        free(copy);
        return n;
}

/* A positive whole number from the command line (strtol with full checking; no atoi). */
static int count_arg(const char *s) {
        char *end = NULL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno != 0 || !end || *end != 0 || v < 1 || v > 1000000) {
                fprintf(stderr, "bench-usb: expected a whole number from 1 to 1000000, not '%s'\n", s);
                exit(2);
        }
        return (int) v;
}

int main(int argc, char *argv[]) {
        enum { ARG_DAEMON = 0x100, ARG_INSERTS, ARG_GAP, ARG_DEVICES, ARG_RUNS, ARG_SECONDS };
        static const struct option options[] = {
                { "daemon", required_argument, NULL, ARG_DAEMON },
                { "inserts", required_argument, NULL, ARG_INSERTS },
                { "gap-ms", required_argument, NULL, ARG_GAP },
                { "devices", required_argument, NULL, ARG_DEVICES },
                { "runs", required_argument, NULL, ARG_RUNS },
                { "seconds", required_argument, NULL, ARG_SECONDS },
                {},
        };
        Kind kinds[_KIND_MAX] = { MNGUARDD };
        size_t nk = 1;
        int inserts = 500, devices = 500, runs = 5, c;
        double gap = 2, seconds = atof(env_or("BENCH_IDLE_SECONDS", "65"));

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_DAEMON: nk = parse_kinds(optarg, kinds); break;
                case ARG_INSERTS: inserts = count_arg(optarg); break;
                case ARG_GAP: gap = atof(optarg); break;
                case ARG_DEVICES: devices = count_arg(optarg); break;
                case ARG_RUNS: runs = count_arg(optarg); break;
                case ARG_SECONDS: seconds = atof(optarg); break;
                default:
                        return 2;
                }
        if (optind + 1 != argc || nk == 0) {
                fprintf(stderr, "usage: bench-usb insert|coldplug|idle [--daemon mnguardd,usbguard,null] [--inserts N] "
                                "[--gap-ms G] [--devices N] [--runs R] [--seconds S]\n");
                return 2;
        }
        const char *mode = argv[optind];
        if (inserts < 1 || inserts >= SENTINEL_PORT || devices < 1 || devices >= SENTINEL_PORT || runs < 1 ||
            seconds < 0)
                die("bad numbers");

        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        atexit(kill_children);
        setup_cpus();

        bool umockdev = strstr(env_or("LD_PRELOAD", ""), "umockdev-preload") != NULL;
        bool have_usbguard = access(env_or("USBGUARD_DAEMON", USBGUARD_DAEMON_PATH), X_OK) == 0;
        size_t k = 0;
        for (size_t i = 0; i < nk; i++)
                if (kinds[i] != USBGUARD || have_usbguard)
                        kinds[k++] = kinds[i];
                else
                        fprintf(stderr, "bench-usb: %s not installed (Debian package usbguard): skipped\n",
                                env_or("USBGUARD_DAEMON", USBGUARD_DAEMON_PATH));
        nk = k;
        if (umockdev)
                setup_sysfs_tmpfs();

        if (strcmp(mode, "idle") == 0)
                return run_idle(seconds, have_usbguard);
        if (!umockdev) {
                fprintf(stderr, "bench-usb: %s needs umockdev-wrapper (LD_PRELOAD lacks libumockdev-preload)\n", mode);
                return 77;
        }
        if (nk == 0)
                return 77;
        if (strcmp(mode, "insert") == 0)
                return run_insert(kinds, nk, inserts, gap);
        if (strcmp(mode, "coldplug") == 0)
                return run_coldplug(kinds, nk, devices, runs);
        die("unknown mode %s", mode);
}
