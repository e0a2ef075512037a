#!/bin/bash
# Prepares a workstation with mnguard for capturing an image: removes what belongs to this terminal
# (host identity, enrollment, journal), keeps configuration and policy, so that each clone comes up as a
# new host that enforces the policy before its first contact with the collector (docs/installing.md).
#   installer/image-prep.sh [--root DIR] [--reset-machine-id] [--dry-run]
#   installer/image-prep.sh --help
#   --root DIR          the image's root directory (default /: this machine; the agent is stopped first)
#   --reset-machine-id  also empty DIR/etc/machine-id (systemd makes a new one at the clone's first boot)
#   --dry-run           say what would be removed, remove nothing
# Removed from DIR/var/lib/mnguard: identity.json, the journal (journal.db, -wal, -shm, .head, and journals
# set aside as corrupt), tickets-used, and every other file there (enrollment key and certificate, reporting
# state), except the last good policy (policy.last-good.*) and the snapshot mnguard-udev decides from
# (policy.snapshot). DIR/etc/mnguard is not touched.
set -euo pipefail

me=image-prep.sh
root=/
reset_machine_id=0
dry_run=0

die() {
        echo "$me: $*" >&2
        exit 1
}
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
        case "$1" in
        --root) [ $# -ge 2 ] || die "--root needs a directory"; root=$2; shift ;;
        --root=*) root=${1#--root=} ;;
        --reset-machine-id) reset_machine_id=1 ;;
        --dry-run) dry_run=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "$me: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
        esac
        shift
done

[ -d "$root" ] || die "the root $root is not a directory"
root=$(cd "$root" && pwd -P)
[ $dry_run -eq 1 ] || [ "$(id -u)" -eq 0 ] || die "must run as root"
state=$root/var/lib/mnguard
[ "$root" = / ] && state=/var/lib/mnguard

remove() {
        if [ $dry_run -eq 1 ]; then
                echo "would remove $1"
        else
                rm -f -- "$1"
                echo "removed $1"
        fi
}

# 1. The agent must not write its journal or identity while they are removed.
if [ "$root" = / ] && [ $dry_run -eq 0 ]; then
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
                if systemctl --quiet is-active mnguardd.service; then
                        echo "stopping mnguardd.service (it starts again at the next boot)"
                        systemctl stop mnguardd.service
                fi
        else
                # Without systemd: stop the daemon by its pid (from /proc: no procps needed), and wait for
                # it to be gone.
                pids=()
                for comm in /proc/[0-9]*/comm; do
                        [ "$(cat "$comm" 2>/dev/null)" = mnguardd ] || continue
                        pid=${comm#/proc/}
                        pids+=("${pid%/comm}")
                done
                for pid in "${pids[@]}"; do
                        echo "stopping mnguardd (pid $pid)"
                        kill -TERM "$pid" 2>/dev/null || true
                        for _ in $(seq 200); do
                                kill -0 "$pid" 2>/dev/null || break
                                sleep 0.1
                        done
                        ! kill -0 "$pid" 2>/dev/null || die "mnguardd (pid $pid) did not stop"
                done
        fi
fi

# 2. The state directory: everything but the policy this image enforces.
if [ -L "$state" ]; then
        die "$state is a symbolic link; refusing to remove anything through it"
elif [ -d "$state" ]; then
        kept=()
        while IFS= read -r -d '' f; do
                name=${f##*/}
                case "$name" in
                policy.last-good.* | policy.snapshot)
                        [ -f "$f" ] && [ ! -L "$f" ] && kept+=("$name") && continue
                        ;;
                esac
                if [ -d "$f" ] && [ ! -L "$f" ]; then
                        if [ $dry_run -eq 1 ]; then
                                echo "would remove $f/"
                        else
                                rm -rf -- "$f"
                                echo "removed $f/"
                        fi
                else
                        remove "$f"
                fi
        done < <(find "$state" -mindepth 1 -maxdepth 1 -print0 | sort -z)
        if [ ${#kept[@]} -gt 0 ]; then
                echo "kept in $state: ${kept[*]}"
        else
                echo "$state holds no policy: clones enforce /etc/mnguard/policy.yaml (or fail closed) until the first start"
        fi
else
        echo "$state does not exist: nothing to remove there"
fi

# 3. The runtime directory of a stopped agent (a root that is an image holds nothing there at boot).
if [ "$root" != / ] && [ -d "$root/run/mnguard" ] && [ ! -L "$root/run/mnguard" ]; then
        while IFS= read -r -d '' f; do
                remove "$f"
        done < <(find "$root/run/mnguard" -mindepth 1 -maxdepth 1 ! -type d -print0)
fi

# 4. The machine id, when asked: systemd writes a new one at first boot (machine-id(5)); mnguardd would
# make a new host identity anyway, since identity.json is gone.
if [ $reset_machine_id -eq 1 ]; then
        mid=$root/etc/machine-id
        [ "$root" = / ] && mid=/etc/machine-id
        if [ $dry_run -eq 1 ]; then
                echo "would empty $mid"
        else
                : >"$mid"
                echo "emptied $mid"
        fi
        dbus_mid=$root/var/lib/dbus/machine-id
        [ "$root" = / ] && dbus_mid=/var/lib/dbus/machine-id
        if [ -f "$dbus_mid" ] && [ ! -L "$dbus_mid" ]; then
                remove "$dbus_mid"
        fi
fi

if [ $dry_run -eq 0 ]; then
        echo "ready for capture: configuration in ${root%/}/etc/mnguard kept; each clone makes its own identity at first start"
fi
