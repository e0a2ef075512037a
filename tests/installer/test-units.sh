#!/bin/bash
# The systemd units as installed: systemd-analyze verify (offline, on a root holding the installed files
# and the host's own units for the targets they name), the exposure score, and the settings the design
# depends on (docs/installing.md): notify + watchdog, ordering before logins, directory modes, the
# capability set, and no option that would give mnguardd a mount namespace of its own.
# shellcheck source=tests/installer/lib.sh
. "$(dirname "$0")/lib.sh"

need_tool systemd-analyze
need_usr_prefix
root=$tmp/root
for c in agent collector; do
        DESTDIR=$root cmake --install "$build" --component "$c" >"$tmp/install.log" 2>&1 ||
                { cat "$tmp/install.log" >&2; die "cmake --install --component $c failed"; }
done
# The targets and services the units are ordered against, and /bin/kill (ExecReload=), from this host.
for d in /lib/systemd/system /usr/lib/systemd/system; do
        [ -d "$d" ] && [ ! -L "$d" ] && mkdir -p "$root$d" && cp -an "$d/." "$root$d/"
done
kill_bin=$(command -v kill 2>/dev/null || true)
[ -x /bin/kill ] && kill_bin=/bin/kill
[ -n "$kill_bin" ] && install -D "$kill_bin" "$root/bin/kill"
units=(mnguardd.service mnguard-collector.service mnguard-print-check.service mnguard-print-check.timer)

verify_out=$(cd "$root" && systemd-analyze verify --man=no --root="$root" "${units[@]}" 2>&1) && verify_status=0 ||
        verify_status=$?
[ -z "$verify_out" ] || echo "$verify_out" >&2
check "systemd-analyze verify passes without a word" test "$verify_status" -eq 0 -a -z "$verify_out"

# Exposure (systemd-analyze security, 0 best … 10; mnguardd 4.9, the collector 1.2 today), as a regression
# check: mnguardd is root with CAP_SYS_ADMIN in the host's mount namespace by design; the collector is
# locked down.
for pair in "mnguardd.service 55" "mnguard-collector.service 20"; do
        # shellcheck disable=SC2086 # two words: unit and threshold
        set -- $pair
        score=$(systemd-analyze security --offline=yes --root="$root" "$1" 2>/dev/null | sed -n 's/.*exposure level for [^:]*: \([0-9.]*\).*/\1/p')
        check "$1 exposure $score ≤ $(($2 / 10)).$(($2 % 10))" \
                quiet systemd-analyze security --offline=yes --root="$root" --threshold="$2" "$1"
done

unit=$root/usr/lib/systemd/system/mnguardd.service
# settings KEY: the values of KEY= in the unit, comments left out, one per line.
settings() { sed -n "s/^$1=//p" "$unit"; }
check "mnguardd: Type=notify" test "$(settings Type)" = notify
check "mnguardd: Restart=always" test "$(settings Restart)" = always
watchdog=$(settings WatchdogSec)
watchdog_us=$(systemd-analyze timespan "$watchdog" 2>/dev/null | sed -n 's/^ *μs: //p')
check "mnguardd: WatchdogSec=$watchdog is at least 2 min (idle wake-ups under one a minute)" \
        test "${watchdog_us:-0}" -ge 120000000
check "mnguardd: ordered before the display manager and logins" bash -c \
        "grep -q '^Before=.*display-manager.service' '$unit' && grep -q '^Before=.*systemd-user-sessions.service' '$unit'"
check "mnguardd: after udevd" grep -q '^After=.*systemd-udevd.service' "$unit"
check "mnguardd: state 0700, runtime 0755" test "$(settings StateDirectoryMode) $(settings RuntimeDirectoryMode)" = "0700 0755"
check "mnguardd: directories named mnguard" test "$(settings StateDirectory) $(settings RuntimeDirectory) $(settings ConfigurationDirectory)" = "mnguard mnguard mnguard"
check "mnguardd: capabilities exactly SYS_ADMIN DAC_READ_SEARCH SYS_PTRACE NET_ADMIN" test \
        "$(settings CapabilityBoundingSet | tr ' ' '\n' | sort | tr '\n' ' ')" = "CAP_DAC_READ_SEARCH CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_PTRACE "
for k in NoNewPrivileges LockPersonality MemoryDenyWriteExecute RestrictRealtime RestrictSUIDSGID RestrictNamespaces; do
        check "mnguardd: $k=yes" test "$(settings $k)" = yes
done
check "mnguardd: SystemCallArchitectures=native" test "$(settings SystemCallArchitectures)" = native
check "mnguardd: address families" test "$(settings RestrictAddressFamilies)" = "AF_UNIX AF_NETLINK AF_INET AF_INET6"
check "mnguardd: system calls: @system-service, fanotify, open_by_handle_at, umount2" test \
        "$(settings SystemCallFilter | head -1)" = "@system-service fanotify_init fanotify_mark open_by_handle_at umount2"
# The mount guard detaches users' mounts in the host's mount namespace: nothing may give the service
# its own (systemd.exec(5)), and /sys must stay writable for "authorized".
for k in PrivateTmp PrivateDevices PrivateMounts PrivateIPC PrivateNetwork PrivateUsers ProtectSystem ProtectHome \
        ProtectKernelTunables ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectProc ProcSubset \
        ReadOnlyPaths ReadWritePaths InaccessiblePaths TemporaryFileSystem BindPaths BindReadOnlyPaths MountFlags \
        RootDirectory RootImage LogNamespace DynamicUser ProtectClock DeviceAllow DevicePolicy; do
        check "mnguardd: no $k=" test -z "$(settings $k)"
done

unit=$root/usr/lib/systemd/system/mnguard-collector.service
check "collector: runs as mnguard-collector" test "$(settings User)" = mnguard-collector
check "collector: no capability at all" test -z "$(settings CapabilityBoundingSet)" -a "$(grep -c '^CapabilityBoundingSet=$' "$unit")" = 1
for k in PrivateTmp PrivateDevices ProtectHome ProtectKernelTunables ProtectControlGroups NoNewPrivileges; do
        check "collector: $k=yes" test "$(settings $k)" = yes
done
check "collector: ProtectSystem=strict" test "$(settings ProtectSystem)" = strict
check "collector: StateDirectory=mnguard-collector 0700" test "$(settings StateDirectory) $(settings StateDirectoryMode)" = "mnguard-collector 0700"

# tmpfiles.d and sysusers.d parse (systemd-tmpfiles/-sysusers --root: what the postinst runs).
if command -v systemd-sysusers >/dev/null; then
        check "sysusers.d files apply" systemd-sysusers --root="$root" mnguard.conf mnguard-collector.conf
        check "group mnguard-audit created" grep -q '^mnguard-audit:' "$root/etc/group"
        check "user mnguard-collector created" grep -q '^mnguard-collector:' "$root/etc/passwd"
fi
if command -v systemd-tmpfiles >/dev/null; then
        check "tmpfiles.d files apply" systemd-tmpfiles --root="$root" --create mnguard.conf mnguard-collector.conf
        check "state 0700" test "$(stat -c %a "$root/var/lib/mnguard")" = 700
        check "collector state 0700 owned by the collector" test \
                "$(stat -c '%a %u' "$root/var/lib/mnguard-collector")" = "700 $(awk -F: '$1 == "mnguard-collector" { print $3 }' "$root/etc/passwd")"
fi
finish
