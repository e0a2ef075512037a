/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mnguard-udev: run by udev (IMPORT{program}, installer/udev/70-mnguard.rules) for USB devices, USB
 * interfaces and block devices. Decides from the policy snapshot alone, so that blocking holds while
 * mnguardd is not running, and prints udev properties; the rule does the cutting. Without a usable
 * snapshot it fails closed on the built-in defaults. See docs/usb-enforcement.md. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "policy-load.h"
#include "snapshot.h"
#include "strutil.h"
#include "subject.h"
#include "udev-helper.h"

#define STATE_DIR_DEFAULT "/var/lib/mnguard"

/* The parser fills in the fail-closed defaults for everything this leaves out. */
static const char fail_closed_policy[] = "mnguard-policy: 1\nserial: 0\nname: fail-closed (no policy snapshot)\n";

DEFINE_TRIVIAL_CLEANUP_FUNC(Policy *, policy_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref);

static void help(FILE *f) {
        fprintf(f,
                "Usage: mnguard-udev [--state-dir DIR] SYSPATH\n"
                "\n"
                "Decides a USB device, USB interface or block device from the policy snapshot in DIR\n"
                "(default %s) and prints udev properties. Run by udev from 70-mnguard.rules;\n"
                "SYSPATH is udev's %%p (/devices/...) or a /sys/devices/... path.\n"
                "\n"
                "  --state-dir DIR  Where mnguardd keeps " SNAPSHOT_FILENAME "\n"
                "  -h, --help       Show this help\n"
                "      --version    Show the version\n",
                STATE_DIR_DEFAULT);
}

/* udev passes the devpath (/devices/...); libudev wants /sys in front. Nothing that climbs out. */
static int make_syspath(const char *arg, char **ret) {
        if (isempty(arg) || arg[0] != '/' || strlen(arg) >= PATH_MAX || strstr(arg, "/../") ||
            (strlen(arg) >= 3 && streq(arg + strlen(arg) - 3, "/..")))
                return -EINVAL;
        if (strncmp(arg, "/sys/", 5) == 0)
                *ret = strdup(arg);
        else if (asprintf(ret, "/sys%s", arg) < 0)
                *ret = NULL;
        return *ret ? 0 : -ENOMEM;
}

static int load_policy(const char *state_dir, Policy **ret, MnSnapshotState *ret_state) {
        _cleanup_(policy_diagnostics_clear) PolicyDiagnostics diags = {};
        int r;

        r = snapshot_load(state_dir, ret);
        if (r >= 0) {
                *ret_state = MN_SNAPSHOT_OK;
                return 0;
        }
        if (r == -ENOMEM)
                return r;
        *ret_state = r == -ENOENT ? MN_SNAPSHOT_MISSING : MN_SNAPSHOT_INVALID;
        if (r != -ENOENT)
                log_warning_errno(r, "Policy snapshot in %s unusable, failing closed: %m", state_dir);

        r = policy_parse(fail_closed_policy, strlen(fail_closed_policy), ret, &diags);
        return r < 0 ? -EINVAL : 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_STATE_DIR };
        static const struct option options[] = {
                { "help",      no_argument,       NULL, 'h'           },
                { "version",   no_argument,       NULL, ARG_VERSION   },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                {}
        };
        _cleanup_(policy_freep) Policy *policy = NULL;
        _cleanup_(mn_subject_freep) MnSubject *subject = NULL;
        _cleanup_(udev_unrefp) struct udev *udev = NULL;
        _cleanup_free_ char *syspath = NULL;
        const char *state_dir = STATE_DIR_DEFAULT;
        MnUdevContext ctx = {};
        int c, r;

        log_setup("mnguard-udev");
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return 0;
                case ARG_VERSION:
                        printf("mnguard-udev %s\n", MNGUARD_VERSION);
                        return 0;
                case ARG_STATE_DIR:
                        state_dir = optarg;
                        break;
                default:
                        help(stderr);
                        return 1;
                }
        if (optind + 1 != argc || isempty(state_dir)) {
                help(stderr);
                return 1;
        }
        r = make_syspath(argv[optind], &syspath);
        if (r < 0) {
                _cleanup_free_ char *e = terminal_escape(argv[optind], PATH_MAX);
                log_error_errno(r, "Not a device path: %s", e ?: "?");
                return 1;
        }

        r = load_policy(state_dir, &policy, &ctx.snapshot);
        if (r < 0)
                return log_error_errno(r, "Cannot set up a policy: %m"), 1;
        subject = mn_subject_new_active();
        ctx.policy = policy;
        ctx.subject = subject ? &subject->subject : NULL;
        ctx.today = policy_today_local();

        udev = udev_new();
        if (!udev)
                return log_oom(), 1;
        r = mn_udev_decide(udev, syspath, &ctx, stdout);
        if (r < 0) {
                _cleanup_free_ char *e = terminal_escape(syspath, PATH_MAX);
                /* udev imports nothing from a failed program: the rule's static fallback cuts instead. */
                log_error_errno(r, "Cannot decide %s: %m", e ?: "?");
                return 1;
        }
        return 0;
}
