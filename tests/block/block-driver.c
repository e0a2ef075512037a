/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Drives the block modules from an sd-event loop for the block tests (tests/block/test_*.py), as mnguardd
 * will: the mount guard, the write audit of read-write media, BLKROSET, and classification with
 * agent.conf's removable patterns decided by a policy. Prints one JSON object per line on stdout:
 * every event the modules emit (with "_uid"), and the driver's own records ({"driver": ...}).
 * Takes commands on stdin, one per line:
 *   block DEV | unblock DEV | audit DEV | ro DEV | rw DEV | getro DEV | flush | stats | apply | quit
 *
 * block-driver [--policy FILE --patterns LIST] [--block DEV]... [--audit DEV]... [--hash-max BYTES]
 *              [--deny-window-ms N]
 * block-driver --probe    exits 0 when fanotify permission and FID groups can be made, else 77. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "block-enforce.h"
#include "device.h"
#include "event-sink.h"
#include "fileio.h"
#include "macro.h"
#include "mount-guard.h"
#include "policy.h"
#include "removable-patterns.h"
#include "strutil.h"
#include "write-audit.h"

#define MAX_DEVS      64
#define LINE_MAX_LEN  4096

typedef struct Driver {
        sd_event *event;
        MnMountGuard *guard;
        MnWriteAudit *audit;
        dev_t audit_devs[MAX_DEVS];
        size_t n_audit;
        char line[LINE_MAX_LEN];
        size_t line_len;
        Policy *policy;
        MnRemovablePatterns patterns;
} Driver;

static void print_json(json_object *o) {
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), stdout);
        fputc('\n', stdout);
}

static void sink_emit(json_object *ev, uid_t uid, void *userdata) {
        json_object_object_add(ev, "_uid", json_object_new_int64(uid == (uid_t) -1 ? -1 : (int64_t) uid));
        print_json(ev);
        json_object_put(ev);
}

static json_object *record(const char *what) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "driver", json_object_new_string(what));
        return o;
}

static void record_done(json_object *o) {
        print_json(o);
        json_object_put(o);
}

static void add_str(json_object *o, const char *k, const char *v) {
        if (v) {
                _cleanup_free_ char *s = untrusted_sanitize(v, strlen(v), MN_UNTRUSTED_MAX);
                json_object_object_add(o, k, json_object_new_string(s ?: ""));
        }
}

static void add_mount(json_object *o, const MnMountInfo *m) {
        add_str(o, "source", m->source);
        add_str(o, "target", m->target);
        add_str(o, "fstype", m->fstype);
        json_object_object_add(o, "id", json_object_new_int64((int64_t) m->id));
        json_object_object_add(o, "major", json_object_new_int64(major(m->devnum)));
        json_object_object_add(o, "minor", json_object_new_int64(minor(m->devnum)));
        json_object_object_add(o, "read_only", json_object_new_boolean(m->read_only));
        json_object_object_add(o, "coldplug", json_object_new_boolean(m->coldplug));
}

static bool dev_in(const dev_t *v, size_t n, dev_t d) {
        for (size_t i = 0; d != 0 && i < n; i++)
                if (v[i] == d)
                        return true;
        return false;
}

static bool audited(Driver *drv, const MnMountInfo *m) {
        dev_t disk;
        if (dev_in(drv->audit_devs, drv->n_audit, m->devnum) || dev_in(drv->audit_devs, drv->n_audit, m->source_devnum))
                return true;
        if (major(m->devnum) != 0 && mn_block_whole_disk(m->devnum, &disk) == 0 && dev_in(drv->audit_devs, drv->n_audit, disk))
                return true;
        return major(m->source_devnum) != 0 && mn_block_whole_disk(m->source_devnum, &disk) == 0 &&
               dev_in(drv->audit_devs, drv->n_audit, disk);
}

static void on_audit_done(const MnWriteAuditSummary *s, void *userdata) {
        json_object *o = record("audit-done");
        add_str(o, "target", userdata);
        mn_write_audit_summary_to_json(s, o);
        json_object_object_add(o, "fuse", json_object_new_boolean(s->fuse));
        record_done(o);
        free(userdata);
}

static void on_mounted(const MnMountInfo *m, void *userdata) {
        Driver *drv = userdata;
        json_object *o = record("mounted");
        add_mount(o, m);
        record_done(o);

        if (!audited(drv, m))
                return;
        MnWriteAuditMedium *medium = NULL;
        MnWriteAuditMediumInfo info = { .mount_point = m->target, .devnum = m->source_devnum ?: m->devnum,
                                        .devnode = m->source, .rule = "test-read-write" };
        int r = mn_write_audit_add(drv->audit, &info, &medium);
        o = record("audit-added");
        add_mount(o, m);
        json_object_object_add(o, "error", json_object_new_int(r));
        if (medium) {
                MnWriteAuditSummary s;
                mn_write_audit_get_summary(medium, &s);
                json_object_object_add(o, "fuse", json_object_new_boolean(s.fuse));
                json_object_object_add(o, "dirent_unsupported", json_object_new_boolean(s.dirent_unsupported));
        }
        record_done(o);
}

static void on_unmounted(const MnMountInfo *m, void *userdata) {
        Driver *drv = userdata;
        json_object *o = record("unmounted");
        add_mount(o, m);
        record_done(o);

        MnWriteAuditMedium *medium = mn_write_audit_find(drv->audit, m->devnum);
        if (medium)
                (void) mn_write_audit_remove(drv->audit, medium, on_audit_done, strdup(m->target ?: ""));
}

static void on_blocked(const MnMountBlocked *b, void *userdata) {
        json_object *o = record("blocked");
        add_mount(o, &b->mount);
        json_object_object_add(o, "seen_usec", json_object_new_int64((int64_t) b->seen_usec));
        json_object_object_add(o, "marked_usec", json_object_new_int64((int64_t) b->marked_usec));
        json_object_object_add(o, "detached_usec", json_object_new_int64((int64_t) b->detached_usec));
        json_object_object_add(o, "mark_error", json_object_new_int(b->mark_error));
        json_object_object_add(o, "detach_error", json_object_new_int(b->detach_error));
        record_done(o);
}

static int devnum_of(const char *devnode, dev_t *ret) {
        struct stat st;
        if (stat(devnode, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        *ret = st.st_rdev;
        return 0;
}

static void reply(const char *cmd, int r) {
        json_object *o = record("reply");
        json_object_object_add(o, "cmd", json_object_new_string(cmd));
        json_object_object_add(o, "error", json_object_new_int(r));
        record_done(o);
}

static int add_audit(Driver *drv, const char *devnode) {
        dev_t d = 0;
        int r = devnum_of(devnode, &d);
        if (r < 0)
                return r;
        if (drv->n_audit >= MAX_DEVS)
                return -E2BIG;
        drv->audit_devs[drv->n_audit++] = d;
        return 0;
}

static int set_ro(const char *devnode, bool ro) {
        MnBlockRoResult *res = calloc(1, sizeof(MnBlockRoResult));
        if (!res)
                return -ENOMEM;
        int r = mn_block_set_read_only(devnode, ro, res);
        json_object *o = record(ro ? "ro" : "rw");
        json_object_object_add(o, "error", json_object_new_int(r));
        json_object_object_add(o, "changed", json_object_new_int64((int64_t) res->n_changed));
        mn_block_ro_result_to_json(res, o);
        record_done(o);
        free(res);
        return r;
}

static int64_t today(void) {
        time_t t = time(NULL);
        struct tm tm;
        int64_t d = 0;
        localtime_r(&t, &tm);
        (void) civil_to_days(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, &d);
        return d;
}

/* What mnguardd will do for removable disks: classify (with the patterns), decide, enforce. */
static int apply_policy(Driver *drv) {
        struct udev *udev = udev_new();
        MnDevice **v = NULL;
        size_t n = 0;
        int r;

        if (!udev)
                return -ENOMEM;
        r = mn_devices_enumerate_with_patterns(udev, &drv->patterns, &v, &n);
        if (r < 0) {
                udev_unref(udev);
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                MnDevice *d = v[i];
                PolicyDecision dec;
                PolicySubject subject = {};
                char devnode[64];
                dev_t devnum = 0;

                if (!d->extra_removable)
                        continue; /* only what the test made */
                if (mn_device_decide(d, drv->policy, &subject, today(), &dec, NULL) < 0)
                        continue;
                (void) snprintf(devnode, sizeof(devnode), "/dev/%s", d->sysname);
                (void) devnum_of(devnode, &devnum);

                json_object *o = record("decided");
                add_str(o, "sysname", d->sysname);
                add_str(o, "devnode", devnode);
                add_str(o, "rule", dec.rule);
                json_object_object_add(o, "storage", json_object_new_string(media_access_to_string(dec.storage)));
                json_object_object_add(o, "extra_removable", json_object_new_boolean(d->extra_removable));
                json_object *fs = json_object_new_array();
                for (size_t k = 0; k < d->n_fs; k++) {
                        json_object *f = json_object_new_object();
                        add_str(f, "devnode", d->fs[k].devnode);
                        add_str(f, "type", d->fs[k].type);
                        add_str(f, "uuid", d->fs[k].uuid);
                        add_str(f, "label", d->fs[k].label);
                        json_object_array_add(fs, f);
                }
                json_object_object_add(o, "filesystems", fs);
                record_done(o);

                switch (dec.storage) {
                case MEDIA_BLOCK:
                        (void) set_ro(devnode, true);
                        if (devnum != 0)
                                (void) mn_mount_guard_block_device(drv->guard, devnum, dec.rule, NULL);
                        break;
                case MEDIA_READ_ONLY:
                        (void) set_ro(devnode, true);
                        break;
                case MEDIA_READ_WRITE:
                        (void) add_audit(drv, devnode);
                        break;
                }
        }
        mn_devices_free(v, n);
        udev_unref(udev);
        return 0;
}

static void print_stats(Driver *drv) {
        MnMountGuardStats g;
        MnWriteAuditStats a;
        json_object *o = record("stats");

        mn_mount_guard_get_stats(drv->guard, &g);
        mn_write_audit_get_stats(drv->audit, &a);
        json_object_object_add(o, "mounts_blocked", json_object_new_int64((int64_t) g.mounts_blocked));
        json_object_object_add(o, "block_failures", json_object_new_int64((int64_t) g.block_failures));
        json_object_object_add(o, "opens_denied", json_object_new_int64((int64_t) g.opens_denied));
        json_object_object_add(o, "reads_denied", json_object_new_int64((int64_t) g.reads_denied));
        json_object_object_add(o, "deny_usec_max", json_object_new_int64((int64_t) g.deny_usec_max));
        json_object_object_add(o, "events_read", json_object_new_int64((int64_t) a.events_read));
        json_object_object_add(o, "records_emitted", json_object_new_int64((int64_t) a.records_emitted));
        json_object_object_add(o, "pending", json_object_new_int64((int64_t) a.pending));
        json_object_object_add(o, "pending_max", json_object_new_int64((int64_t) a.pending_max));
        json_object_object_add(o, "read_pauses", json_object_new_int64((int64_t) a.read_pauses));
        json_object_object_add(o, "unlimited_queue", json_object_new_boolean(a.unlimited_queue));
        record_done(o);
}

static void command(Driver *drv, char *line) {
        char *arg = strchr(line, ' ');
        dev_t d = 0;
        int r;

        if (arg)
                *arg++ = 0;
        if (streq(line, "quit")) {
                (void) sd_event_exit(drv->event, 0);
                return;
        }
        if (streq(line, "flush")) {
                mn_mount_guard_flush(drv->guard);
                r = 0;
        } else if (streq(line, "stats")) {
                print_stats(drv);
                r = 0;
        } else if (streq(line, "apply"))
                r = drv->policy ? apply_policy(drv) : -EINVAL;
        else if (!arg)
                r = -EINVAL;
        else if (streq(line, "block"))
                r = devnum_of(arg, &d) ?: mn_mount_guard_block_device(drv->guard, d, "test-block", NULL);
        else if (streq(line, "unblock"))
                r = devnum_of(arg, &d) ?: mn_mount_guard_unblock_device(drv->guard, d);
        else if (streq(line, "audit"))
                r = add_audit(drv, arg);
        else if (streq(line, "ro") || streq(line, "rw"))
                r = set_ro(arg, streq(line, "ro"));
        else if (streq(line, "getro")) {
                bool ro = false;
                r = mn_block_get_read_only(arg, &ro);
                json_object *o = record("getro");
                json_object_object_add(o, "read_only", json_object_new_boolean(ro));
                record_done(o);
        } else
                r = -EINVAL;
        reply(line, r);
}

static int on_stdin(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Driver *drv = userdata;
        ssize_t n = read(fd, drv->line + drv->line_len, sizeof(drv->line) - 1 - drv->line_len);

        if (n <= 0) {
                if (n < 0 && errno == EINTR)
                        return 0;
                return sd_event_exit(drv->event, 0);
        }
        drv->line_len += (size_t) n;
        char *nl;
        while ((nl = memchr(drv->line, '\n', drv->line_len))) {
                *nl = 0;
                command(drv, drv->line);
                size_t used = (size_t) (nl - drv->line) + 1;
                memmove(drv->line, nl + 1, drv->line_len - used);
                drv->line_len -= used;
        }
        if (drv->line_len >= sizeof(drv->line) - 1)
                drv->line_len = 0; /* a line too long: dropped */
        return 0;
}

static int on_post(sd_event_source *s, void *userdata) {
        fflush(stdout);
        return 0;
}

static int probe(void) {
        int fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY);
        if (fd < 0) {
                fprintf(stderr, "fanotify permission events unavailable: %s\n", strerror(errno));
                return 77;
        }
        close(fd);
        fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_CLOEXEC, O_RDONLY);
        if (fd < 0) {
                fprintf(stderr, "fanotify FID reporting unavailable: %s\n", strerror(errno));
                return 77;
        }
        close(fd);
        return 0;
}

static int load_policy(Driver *drv, const char *path) {
        _cleanup_free_ char *data = NULL;
        PolicyDiagnostics diags = {};
        size_t size;
        int r = read_full_file(path, POLICY_MAX_FILE_SIZE, &data, &size);
        if (r < 0)
                return r;
        r = policy_parse(data, size, &drv->policy, &diags);
        for (size_t i = 0; i < diags.n; i++)
                fprintf(stderr, "%s:%u:%u: %s\n", path, diags.items[i].line, diags.items[i].column,
                        diags.items[i].message);
        policy_diagnostics_clear(&diags);
        return r;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "policy", required_argument, NULL, 'p' },   { "patterns", required_argument, NULL, 'P' },
                { "block", required_argument, NULL, 'b' },    { "audit", required_argument, NULL, 'a' },
                { "hash-max", required_argument, NULL, 'h' }, { "deny-window-ms", required_argument, NULL, 'w' },
                { "probe", no_argument, NULL, 'x' },          {},
        };
        Driver drv = {};
        char *blocks[MAX_DEVS];
        size_t n_blocks = 0;
        uint64_t hash_max = 0, window_ms = 200;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'p':
                        if (load_policy(&drv, optarg) < 0)
                                return 2;
                        break;
                case 'P':
                        if (mn_removable_patterns_parse(optarg, &drv.patterns, NULL) < 0)
                                return 2;
                        break;
                case 'b':
                        if (n_blocks < MAX_DEVS)
                                blocks[n_blocks++] = optarg;
                        break;
                case 'a':
                        if (add_audit(&drv, optarg) < 0)
                                return 2;
                        break;
                case 'h':
                        if (parse_u64(optarg, &hash_max) < 0)
                                return 2;
                        break;
                case 'w':
                        if (parse_u64(optarg, &window_ms) < 0 || window_ms == 0)
                                return 2;
                        break;
                case 'x':
                        return probe();
                default:
                        return 2;
                }

        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigprocmask(SIG_BLOCK, &ss, NULL);

        if ((r = sd_event_new(&drv.event)) < 0 || (r = sd_event_add_signal(drv.event, NULL, SIGTERM, NULL, NULL)) < 0 ||
            (r = sd_event_add_signal(drv.event, NULL, SIGINT, NULL, NULL)) < 0 ||
            (r = sd_event_add_io(drv.event, NULL, STDIN_FILENO, EPOLLIN, on_stdin, &drv)) < 0 ||
            (r = sd_event_add_post(drv.event, NULL, on_post, NULL)) < 0) {
                fprintf(stderr, "event loop: %s\n", strerror(-r));
                return 1;
        }

        MnEventSink sink = { .emit = sink_emit };
        MnWriteAuditOptions ao = { .sink = sink, .hash_max_size = hash_max };
        MnMountGuardOptions go = { .sink = sink, .deny_window_usec = window_ms * 1000, .mounted = on_mounted,
                                   .unmounted = on_unmounted, .blocked = on_blocked, .userdata = &drv };
        if ((r = mn_write_audit_new(drv.event, &ao, &drv.audit)) < 0 ||
            (r = mn_mount_guard_new(drv.event, &go, &drv.guard)) < 0) {
                fprintf(stderr, "modules: %s\n", strerror(-r));
                return r == -EPERM ? 77 : 1;
        }
        for (size_t i = 0; i < n_blocks; i++) {
                dev_t d;
                if (devnum_of(blocks[i], &d) < 0 || mn_mount_guard_block_device(drv.guard, d, "test-block", NULL) < 0) {
                        fprintf(stderr, "cannot block %s\n", blocks[i]);
                        return 2;
                }
        }
        if (drv.policy && (r = apply_policy(&drv)) < 0) {
                fprintf(stderr, "apply: %s\n", strerror(-r));
                return 1;
        }
        r = mn_mount_guard_start(drv.guard);
        if (r < 0) {
                fprintf(stderr, "mount guard: %s\n", strerror(-r));
                return 1;
        }
        json_object *o = record("ready");
        json_object_object_add(o, "pid", json_object_new_int(getpid()));
        record_done(o);
        fflush(stdout);

        r = sd_event_loop(drv.event);

        /* The guard first: the hashing thread may wait on one of its permission events. */
        drv.guard = mn_mount_guard_free(drv.guard);
        drv.audit = mn_write_audit_free(drv.audit);
        record_done(record("exit"));
        fflush(stdout);
        sd_event_unref(drv.event);
        policy_free(drv.policy);
        mn_removable_patterns_clear(&drv.patterns);
        return r < 0 ? 1 : 0;
}
