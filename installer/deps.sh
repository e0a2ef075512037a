#!/bin/bash
# Installs the Debian packages mnguard needs to build, test and demo, when they are missing.
# Idempotent and quiet when nothing is missing. Sourced by tests/run.sh and installer/demo.sh,
# or run directly: installer/deps.sh
set -euo pipefail

MNGUARD_PACKAGES=(
        # build
        build-essential cmake pkg-config
        libudev-dev libblkid-dev libmount-dev libyaml-dev libjson-c-dev libsodium-dev
        libsqlite3-dev libsystemd-dev libssl-dev
        # print control: libcups (mnguardctl print), cupsd, the socket backend, lp/lpadmin, ipptool
        libcups2-dev cups-daemon cups cups-client cups-ipp-utils
        # tests
        libcmocka-dev umockdev libumockdev-dev gir1.2-umockdev-1.0 udev
        # block tests: images (mkfs.ext4, mkfs.exfat), exfat-fuse mounts, losetup/partx/blockdev
        e2fsprogs exfatprogs exfat-fuse util-linux mount
        # collector: HTTPS server, TLS/CA, PostgreSQL client, gzip (zlib; libdeflate for whole bodies); tests: a private PostgreSQL 15 cluster,
        # openssl/curl CLIs; mnguardd's reporter and the benchmarks: libcurl (GnuTLS flavour; it conflicts with
        # libcurl4-openssl-dev)
        libmicrohttpd-dev libgnutls28-dev libpq-dev zlib1g-dev libdeflate-dev postgresql-15 openssl curl libcurl4-gnutls-dev
        # session helper: notifications (libnotify, gettext catalogs), X11 clipboard guard (XFixes, XRes);
        # its tests: a session D-Bus with python3-dbusmock, Xvfb, xclip
        libnotify-dev libglib2.0-dev libx11-dev libxfixes-dev libxres-dev gettext
        dbus python3-dbus python3-dbusmock xvfb xclip
        # the responder console's tests: headless Chromium driven through ChromeDriver by Selenium, the
        # collector's CA trusted in an NSS database (certutil), a Japanese font for readable screenshots
        chromium chromium-driver python3-selenium libnss3-tools fonts-ipafont-gothic
        # packages and installer tests: cpack DEB, dpkg-shlibdeps, dpkg --root, lintian, systemd-analyze and
        # the shell linter, strace (the daemon's system calls); the demo (installer/demo-agent.py: python3-gi)
        dpkg-dev lintian systemd shellcheck python3-gi strace
        # fuzzing (libFuzzer comes with clang)
        clang libclang-rt-dev
        # benchmarks: the peer that tests/bench/bench-usb measures side by side (it runs its own
        # usbguard-daemon in a temporary directory). CAUTION on a workstation with systemd: the package
        # enables usbguard.service, which allows the USB devices present at install and blocks those
        # plugged in later; CI containers (policy-rc.d, no systemd) never start it.
        usbguard
)

mnguard_install_deps() {
        local missing=() p status
        for p in "${MNGUARD_PACKAGES[@]}"; do
                status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
                [[ $status == ii* ]] || missing+=("$p")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        if [ "$(id -u)" -ne 0 ]; then
                echo "mnguard: missing Debian packages: ${missing[*]}" >&2
                echo "mnguard: run as root, or: sudo apt-get install ${missing[*]}" >&2
                return 1
        fi
        echo "mnguard: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        mnguard_install_deps
fi
