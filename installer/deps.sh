#!/bin/bash
# Installs the Debian packages mnguard needs to build, test and demo, when they are missing.
# Idempotent and quiet when nothing is missing. Sourced by tests/run.sh and installer/demo.sh,
# or run directly: installer/deps.sh
set -euo pipefail

MNGUARD_PACKAGES=(
        # build
        build-essential cmake pkg-config
        libudev-dev libblkid-dev libmount-dev libyaml-dev libjson-c-dev libsodium-dev
        libsqlite3-dev libsystemd-dev
        # tests
        libcmocka-dev umockdev libumockdev-dev gir1.2-umockdev-1.0 udev
        # fuzzing (libFuzzer comes with clang)
        clang libclang-rt-dev
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
