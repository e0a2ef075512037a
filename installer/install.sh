#!/bin/bash
# Installs mnguard from a build into a target root, for workstation images built without dpkg: the same
# files, modes and owners as the Debian package and what its postinst does (docs/installing.md).
#   installer/install.sh --root DIR [--build DIR] [--component agent|collector|all] [--no-enable]
#   installer/install.sh --help
#   --root DIR       the image's root directory ("/" installs on this machine)
#   --build DIR      a build configured for /usr and built (default: build/ in the source tree)
#   --component C    agent (package mnguard, the default), collector (mnguard-collector) or all
#   --no-enable      do not enable the services (systemctl --root DIR enable)
# Idempotent: running it again installs what changed. Configuration files the administrator changed in
# DIR/etc are kept; the shipped version is put beside them as FILE.mnguard-dist.
set -euo pipefail

me=install.sh
src=$(cd "$(dirname "$0")/.." && pwd)
root=
build=$src/build
component=agent
enable=1

die() {
        echo "$me: $*" >&2
        exit 1
}
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
        case "$1" in
        --root) [ $# -ge 2 ] || die "--root needs a directory"; root=$2; shift ;;
        --root=*) root=${1#--root=} ;;
        --build) [ $# -ge 2 ] || die "--build needs a directory"; build=$2; shift ;;
        --build=*) build=${1#--build=} ;;
        --component) [ $# -ge 2 ] || die "--component needs agent, collector or all"; component=$2; shift ;;
        --component=*) component=${1#--component=} ;;
        --no-enable) enable=0 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "$me: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
        esac
        shift
done

[ -n "$root" ] || { echo "$me: --root DIR is required" >&2; usage >&2; exit 2; }
case "$component" in
agent) components=(agent) ;;
collector) components=(collector) ;;
all) components=(agent collector) ;;
*) die "--component must be agent, collector or all, not '$component'" ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root (files are installed owned by root, users are created in the root)"
[ -d "$root" ] || die "the root $root is not a directory"
root=$(cd "$root" && pwd)
[ -f "$build/CMakeCache.txt" ] || die "$build is not a CMake build directory (build first: cmake -S $src -B $build && cmake --build $build)"
build=$(cd "$build" && pwd)
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")
[ "$prefix" = /usr ] ||
        die "$build is configured for $prefix; the paths compiled into mnguard must be those of the image: cmake -DCMAKE_INSTALL_PREFIX=/usr $build && cmake --build $build"
for t in systemd-sysusers systemd-tmpfiles; do
        command -v "$t" >/dev/null || die "$t is missing (Debian package systemd)"
done

# Stage the component(s) exactly as cpack does (stripped, DESTDIR, prefix /usr), then copy into the root.
stage=$(mktemp -d "${TMPDIR:-/tmp}/mnguard-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT
for c in "${components[@]}"; do
        DESTDIR=$stage cmake --install "$build" --prefix /usr --component "$c" --strip >"$stage.log" 2>&1 || {
                cat "$stage.log" >&2
                rm -f "$stage.log"
                die "cmake --install of component $c failed (is $build built?)"
        }
done
rm -f "$stage.log"
[ -x "$stage/usr/sbin/mnguardd" ] || [ -x "$stage/usr/sbin/mnguard-collector" ] ||
        die "nothing was installed from $build (is it built?)"

# Conffiles, as the packages list them: the administrator's version wins.
conffiles=()
for c in "${components[@]}"; do
        list=$build/installer/debian/$c/conffiles
        [ -f "$list" ] || die "$list is missing (reconfigure $build)"
        while IFS= read -r f; do
                [ -n "$f" ] && conffiles+=("$f")
        done <"$list"
done
for f in "${conffiles[@]}"; do
        [ -e "$stage$f" ] || continue
        if [ -e "$root$f" ] && ! cmp -s "$stage$f" "$root$f"; then
                echo "$me: keeping $root$f (changed); the shipped version is $root$f.mnguard-dist"
                mv "$stage$f" "$stage$f.mnguard-dist"
        else
                rm -f "$root$f.mnguard-dist"
        fi
done

# Copy: directories are created as in the package (root:root 0755), files keep the staged modes.
(cd "$stage" && find . -mindepth 1 -type d -printf '%P\n') | while IFS= read -r d; do
        [ -d "$root/$d" ] || install -d -o root -g root -m 0755 "$root/$d"
done
(cd "$stage" && find . -mindepth 1 ! -type d -printf '%P\n') | while IFS= read -r f; do
        cp -P --preserve=mode,timestamps "$stage/$f" "$root/$f.mnguard-tmp"
        chown -h root:root "$root/$f.mnguard-tmp"
        mv -f "$root/$f.mnguard-tmp" "$root/$f"
done

# What the packages' postinst does, on the root.
for c in "${components[@]}"; do
        case "$c" in
        agent)
                systemd-sysusers --root="$root" mnguard.conf
                systemd-tmpfiles --root="$root" --create mnguard.conf
                install -d -o root -g root -m 0700 "$root/var/lib/mnguard"
                chmod 0700 "$root/var/lib/mnguard"
                if [ -e "$root/usr/lib/cups/backend/mnguard" ]; then
                        chown root:root "$root/usr/lib/cups/backend/mnguard"
                        chmod 0700 "$root/usr/lib/cups/backend/mnguard"
                fi
                units=(mnguardd.service mnguard-print-check.timer)
                ;;
        collector)
                systemd-sysusers --root="$root" mnguard-collector.conf
                systemd-tmpfiles --root="$root" --create mnguard-collector.conf
                if [ -e "$root/etc/mnguard/collector.conf" ]; then
                        gid=$(awk -F: '$1 == "mnguard-collector" { print $3 }' "$root/etc/group")
                        chown "root:${gid:?group mnguard-collector missing in $root/etc/group}" "$root/etc/mnguard/collector.conf"
                        chmod 0640 "$root/etc/mnguard/collector.conf"
                fi
                units=(mnguard-collector.service)
                ;;
        esac
        if [ $enable -eq 1 ]; then
                if command -v systemctl >/dev/null; then
                        systemctl --root="$root" --quiet enable "${units[@]}"
                else
                        echo "$me: systemctl is missing: ${units[*]} not enabled" >&2
                fi
        fi
done

if [ "$root" = / ]; then
        if command -v udevadm >/dev/null && udevadm control --reload >/dev/null 2>&1; then
                echo "$me: udev rules reloaded"
        fi
        echo "$me: installed on this machine; start the agent with: systemctl start mnguardd"
else
        echo "$me: installed ${components[*]} into $root"
fi
