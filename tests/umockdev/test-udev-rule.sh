#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The shipped rule, installer/udev/70-mnguard.rules, under the real `udevadm test` on the demo testbed:
# mnguard-udev is imported, ATTR{authorized}="0" lands in the testbed's sysfs, read-only media get
# RUN blockdev --setro, an earlier event's block does not stick, and the static fallback cuts
# by class when mnguard-udev fails. Only the helper's path in the rule is changed (to a wrapper that
# hands the testbed to it: udev runs programs with the device's properties as their whole
# environment).
#
# `udevadm test` writes the udev database and /dev links, so everything runs in a private mount
# namespace with tmpfs over /run, /dev and the rules directories: the host is not touched. Needs
# root; exits 77 otherwise.
#
# usage: test-udev-rule.sh MNGUARD_UDEV RULES_FILE DEVICES_DATA_DIR
set -euo pipefail

helper=$1 rule=$2 data=$3

if [ "${MNGUARD_RULE_TEST_STAGE:-}" = "" ]; then
        if [ "$(id -u)" != 0 ]; then
                echo "SKIP: needs root (a private mount namespace over /run and /dev)"
                exit 77
        fi
        for c in unshare udevadm umockdev-run mknod; do
                command -v "$c" >/dev/null || { echo "SKIP: $c not found"; exit 77; }
        done
        if ! unshare --mount --propagation private true 2>/dev/null; then
                echo "SKIP: cannot make a mount namespace here"
                exit 77
        fi
        MNGUARD_RULE_TEST_STAGE=namespace exec unshare --mount --propagation private "$BASH" "$0" "$@"
fi

if [ "$MNGUARD_RULE_TEST_STAGE" = namespace ]; then
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        mount -n -t tmpfs -o mode=0755 mnguard-run /run
        mount -n -t tmpfs -o mode=0755 mnguard-dev /dev
        if ! mknod -m 666 /dev/null c 1 3; then
                echo "SKIP: cannot create device nodes here"
                exit 77
        fi
        mknod -m 666 /dev/zero c 1 5
        mknod -m 666 /dev/urandom c 1 9
        mknod -m 666 /dev/random c 1 8
        for d in /etc/udev/rules.d /usr/lib/udev/rules.d /lib/udev/rules.d; do
                [ -d "$d" ] && mount -n -t tmpfs mnguard-rules "$d"
        done
        mkdir -p /etc/udev/rules.d "$tmp/state"
        sed "s|/usr/libexec/mnguard/mnguard-udev|$tmp/helper|" "$rule" >/etc/udev/rules.d/70-mnguard.rules
        grep -q "IMPORT{program}=\"$tmp/helper %p\"" /etc/udev/rules.d/70-mnguard.rules
        MNGUARD_RULE_TEST_STAGE=testbed TMPDIR_STATE=$tmp \
                umockdev-run -d "$data/demo.umockdev" -- "$BASH" "$0" "$@"
        exit 0
fi

# Stage "testbed": inside the namespace and the testbed.
tmp=$TMPDIR_STATE
usb1=/devices/pci0000:00/0000:00:14.0/usb1
failures=0

# udev gives programs the device's properties as their environment and nothing else.
cat >"$tmp/helper" <<EOF
#!/bin/sh
[ -e "$tmp/broken" ] && exit 1
LD_PRELOAD='$LD_PRELOAD' UMOCKDEV_DIR='$UMOCKDEV_DIR' ASAN_OPTIONS='verify_asan_link_order=0' exec '$helper' --state-dir '$tmp/state' "\$@"
EOF
chmod 755 "$tmp/helper"

fail() {
        echo "FAIL: $*"
        failures=$((failures + 1))
}

# udevadm test ACTION DEVPATH: its output in $tmp/out; the final properties in $tmp/props.
run() {
        udevadm test --action="$1" "$2" >"$tmp/out" 2>&1 || true
        grep -E '^[A-Z_]+=' "$tmp/out" >"$tmp/props" || true
        if grep -qiE 'invalid (key|value|rule)|failed to parse' "$tmp/out"; then
                fail "the rule does not parse"
                grep -iE 'invalid|failed to parse' "$tmp/out"
        fi
}

authorized() {
        cat "/sys$1/authorized"
}

expect_authorized() {
        local got
        got=$(authorized "$1")
        [ "$got" = "$2" ] || fail "$1: authorized=$got, want $2"
}

expect_prop() {
        if [ -z "$3" ]; then
                ! grep -q "^$1=" "$tmp/props" || fail "$4: $(grep "^$1=" "$tmp/props"), want it unset"
        else
                grep -qx "$1=$2" "$tmp/props" || fail "$4: want $1=$2, got '$(grep "^$1=" "$tmp/props" || true)'"
        fi
}

install -m 600 "$data/demo-policy.yaml" "$tmp/state/policy.snapshot"

# Blocked stick: the device is cut.
run add "$usb1/1-1"
expect_prop MNGUARD_HELPER 1 set "1-1"
expect_authorized "$usb1/1-1" 0
grep -q "ATTR '/sys$usb1/1-1/authorized' writing '0'" "$tmp/out" || fail "1-1: no ATTR write logged"

# MTP phone: its MTP interface only.
run add "$usb1/1-6"
expect_authorized "$usb1/1-6" 1
run add "$usb1/1-6/1-6:1.0"
expect_authorized "$usb1/1-6/1-6:1.0" 0
run add "$usb1/1-6/1-6:1.1"
expect_authorized "$usb1/1-6/1-6:1.1" 1

# Keyboard and registered stick: untouched.
run add "$usb1/1-3"
expect_authorized "$usb1/1-3" 1
run add "$usb1/1-3/1-3:1.0"
expect_authorized "$usb1/1-3/1-3:1.0" 1
run add "$usb1/1-2"
expect_authorized "$usb1/1-2" 1

# Blocked SD card: udisks keeps away. The distribution DVD: read-only at the block layer.
run add /devices/pci0000:00/0000:00:1e.6/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0/mmcblk0p1
expect_prop UDISKS_IGNORE 1 set mmcblk0p1
expect_prop UDISKS_AUTO 0 set mmcblk0p1
run add /devices/pci0000:00/0000:00:17.0/ata2/host4/target4:0:0/4:0:0:0/block/sr0
expect_prop MNGUARD_READ_ONLY 1 set sr0
grep -q "run: '/usr/sbin/blockdev --setro /dev/sr0'" "$tmp/out" || fail "sr0: no blockdev --setro"

# A decision does not stick: the registered stick's partition, first without a snapshot (blocked),
# then with it (allowed) on a "change" event.
part=$usb1/1-2/1-2:1.0/host1/target1:0:0/1:0:0:0/block/sdc/sdc1
mv "$tmp/state/policy.snapshot" "$tmp/state/away"
run add "$part"
expect_prop UDISKS_IGNORE 1 set "sdc1 without snapshot"
expect_prop MNGUARD_SNAPSHOT missing set "sdc1 without snapshot"
mv "$tmp/state/away" "$tmp/state/policy.snapshot"
run change "$part"
expect_prop MNGUARD_SNAPSHOT ok set "sdc1 with snapshot"
expect_prop UDISKS_IGNORE "" "" "sdc1 with snapshot"
expect_prop UDISKS_AUTO "" "" "sdc1 with snapshot"

# mnguard-udev fails: the rule's own fallback cuts storage by class, keeps the keyboard.
touch "$tmp/broken"
run add "$usb1/1-2/1-2:1.0"
expect_prop MNGUARD_SNAPSHOT helper-failed set "1-2:1.0 fallback"
expect_authorized "$usb1/1-2/1-2:1.0" 0
run add "$usb1/1-3/1-3:1.0"
expect_authorized "$usb1/1-3/1-3:1.0" 1
run add "$part"
expect_prop UDISKS_IGNORE 1 set "sdc1 fallback"
rm "$tmp/broken"

if [ $failures -gt 0 ]; then
        echo "$failures check(s) failed; last udevadm output:"
        cat "$tmp/out"
        exit 1
fi
echo "udev rule: all checks passed"
