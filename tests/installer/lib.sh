# shellcheck shell=bash
# Shared by the installer tests (tests/installer/*.sh): sourced, not run.
# MNGUARD_BUILD and MNGUARD_SOURCE come from ctest (tests/installer/CMakeLists.txt).
# shellcheck disable=SC2034 # variables for the tests that source this file
set -euo pipefail

build=${MNGUARD_BUILD:?MNGUARD_BUILD is not set (run through ctest)}
src=${MNGUARD_SOURCE:?MNGUARD_SOURCE is not set (run through ctest)}
debs=$build/tests/installer/debs
test_name=$(basename "$0" .sh)
failures=0

skip() {
        echo "SKIP: $*"
        exit 77
}
fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}
die() {
        echo "FAIL: $*" >&2
        exit 1
}
ok() { echo "ok: $*"; }
# check DESCRIPTION COMMAND...: a named assertion; a failure is counted and the test goes on.
check() {
        local what=$1
        shift
        if "$@"; then ok "$what"; else fail "$what"; fi
}
# quiet COMMAND...: COMMAND without its output (for check).
quiet() { "$@" >/dev/null 2>&1; }
finish() {
        if [ $failures -gt 0 ]; then
                echo "$test_name: $failures check(s) failed" >&2
                exit 1
        fi
        echo "$test_name: all checks passed"
}
need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root ($*)"; }
need_tool() {
        local t
        for t in "$@"; do
                command -v "$t" >/dev/null || skip "$t is not installed (installer/deps.sh installs it)"
        done
}
need_usr_prefix() {
        local prefix
        prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")
        [ "$prefix" = /usr ] ||
                skip "this build is configured for $prefix; packages need /usr (cmake -DCMAKE_INSTALL_PREFIX=/usr $build)"
}
need_debs() {
        if [ ! -f "$agent_deb" ] || [ ! -f "$collector_deb" ]; then
                skip "no packages in $debs (the installer-debs test makes them)"
        fi
}
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")
arch=$(dpkg --print-architecture 2>/dev/null || echo unknown)
agent_deb=$debs/mnguard_${version}_$arch.deb
collector_deb=$debs/mnguard-collector_${version}_$arch.deb

# A temporary directory removed on exit.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mnguard-$test_name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# A fresh root with an empty dpkg database, for dpkg --root.
new_dpkg_root() {
        local r=$1
        mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/var/log"
        : >"$r/var/lib/dpkg/status"
        : >"$r/var/lib/dpkg/available"
}
# dpkg on that root: maintainer scripts run without chroot, with DPKG_ROOT set (they honour it); the
# root holds none of the dependencies, hence --force-depends.
dpkg_root() {
        local r=$1
        shift
        dpkg --root="$r" --force-script-chrootless --force-depends --log=/dev/null "$@"
}
# What a root holds: type+mode, owner, group, path, symlink target; dpkg's own files left out.
tree_list() {
        (cd "$1" && find . -mindepth 1 \
                ! -path './var/lib/dpkg' ! -path './var/lib/dpkg/*' ! -path './var/log' ! -path './var/log/*' \
                ! -path './var/lib/systemd' ! -path './var/lib/systemd/deb-systemd-helper-enabled*' \
                -printf '%M %U:%G %p %l\n' | sort -k3)
}
tree_sums() {
        (cd "$1" && find . -type f ! -path './var/lib/dpkg/*' ! -path './var/log/*' \
                ! -path './var/lib/systemd/*' -print0 | sort -z | xargs -0 sha256sum)
}
