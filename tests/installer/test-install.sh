#!/bin/bash
# Installing into fresh roots: the packages with dpkg --root (maintainer scripts chrootless, honouring
# DPKG_ROOT), and installer/install.sh --root from the build. Both must give the same tree (files,
# modes, owners, contents) with the postinst's work done; install.sh must be idempotent and keep an
# administrator's configuration; remove keeps the state, purge removes it (the collector's data stays).
# shellcheck source=tests/installer/lib.sh
. "$(dirname "$0")/lib.sh"

need_root "dpkg --root and install.sh install files owned by root and create users in the root"
need_tool dpkg systemd-sysusers systemd-tmpfiles systemctl
need_debs

# --- dpkg --root -------------------------------------------------------------------------------------
D=$tmp/dpkg
new_dpkg_root "$D"
dpkg_root "$D" -i "$agent_deb" "$collector_deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; die "dpkg -i failed"; }
check "dpkg: both packages installed" bash -c \
        "dpkg --root='$D' -l mnguard mnguard-collector | grep -c '^ii' | grep -qx 2"

uid_of() { awk -F: -v n="$2" '$1 == n { print $3 }' "$1/etc/passwd"; }
gid_of() { awk -F: -v n="$2" '$1 == n { print $3 }' "$1/etc/group"; }
# the postinst's work, on a root R
check_postinst() {
        local R=$1 how=$2 cu cg
        cu=$(uid_of "$R" mnguard-collector)
        cg=$(gid_of "$R" mnguard-collector)
        check "$how: group mnguard-audit exists" test -n "$(gid_of "$R" mnguard-audit)"
        check "$how: system user mnguard-collector (no login)" bash -c \
                "grep -q '^mnguard-collector:x:[0-9]*:[0-9]*:.*:/var/lib/mnguard-collector:/usr/sbin/nologin\$' '$R/etc/passwd'"
        check "$how: /var/lib/mnguard 0700 root" test "$(stat -c '%a %u %g' "$R/var/lib/mnguard")" = "700 0 0"
        check "$how: /run/mnguard 0755 root" test "$(stat -c '%a %u' "$R/run/mnguard")" = "755 0"
        check "$how: /etc/mnguard 0755 root" test "$(stat -c '%a %u' "$R/etc/mnguard")" = "755 0"
        check "$how: /var/lib/mnguard-collector 0700 mnguard-collector" \
                test "$(stat -c '%a %u %g' "$R/var/lib/mnguard-collector")" = "700 $cu $cg"
        check "$how: CUPS backend 0700 root" test "$(stat -c '%a %u %g' "$R/usr/lib/cups/backend/mnguard")" = "700 0 0"
        check "$how: collector.conf 0640 root:mnguard-collector" \
                test "$(stat -c '%a %u %g' "$R/etc/mnguard/collector.conf")" = "640 0 $cg"
        check "$how: mnguardd.service enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/mnguardd.service"
        check "$how: mnguard-print-check.timer enabled" test -L "$R/etc/systemd/system/timers.target.wants/mnguard-print-check.timer"
        check "$how: mnguard-collector.service enabled" \
                test -L "$R/etc/systemd/system/multi-user.target.wants/mnguard-collector.service"
}
check_postinst "$D" dpkg

# --- install.sh --root ---------------------------------------------------------------------------------
I=$tmp/install
mkdir -p "$I"
check "install.sh --help" bash -c "'$src/installer/install.sh' --help | grep -q -- '--root DIR'"
check "install.sh without --root is refused" bash -c "! '$src/installer/install.sh' --build '$build' 2>/dev/null"
"$src/installer/install.sh" --root "$I" --build "$build" --component all >"$tmp/install.log" 2>&1 ||
        { cat "$tmp/install.log" >&2; die "install.sh failed"; }
check_postinst "$I" install.sh

tree_list "$D" >"$tmp/dpkg.tree"
tree_list "$I" >"$tmp/install.tree"
check "install.sh gives the same files, modes and owners as dpkg" diff -u "$tmp/dpkg.tree" "$tmp/install.tree"
tree_sums "$D" >"$tmp/dpkg.sums"
tree_sums "$I" >"$tmp/install.sums"
check "install.sh gives the same file contents as dpkg" diff -u "$tmp/dpkg.sums" "$tmp/install.sums"

# Idempotent: a second run changes nothing.
"$src/installer/install.sh" --root "$I" --build "$build" --component all >"$tmp/install2.log" 2>&1 ||
        { cat "$tmp/install2.log" >&2; die "install.sh (second run) failed"; }
check "install.sh again: same tree" bash -c "tree_list() { $(declare -f tree_list | tail -n +2); }; diff -u '$tmp/install.tree' <(tree_list '$I')"
check "install.sh again: same contents" bash -c "diff -u '$tmp/install.sums' <(cd '$I' && find . -type f ! -path './var/lib/systemd/*' -print0 | sort -z | xargs -0 sha256sum)"

# The administrator's configuration wins; the shipped version is put beside it.
echo "# changed by the administrator" >>"$I/etc/mnguard/agent.conf"
cp "$I/etc/mnguard/agent.conf" "$tmp/agent.conf.admin"
"$src/installer/install.sh" --root "$I" --build "$build" >"$tmp/install3.log" 2>&1 ||
        { cat "$tmp/install3.log" >&2; die "install.sh (third run) failed"; }
check "install.sh keeps a changed agent.conf" cmp -s "$I/etc/mnguard/agent.conf" "$tmp/agent.conf.admin"
check "install.sh puts the shipped agent.conf beside it" cmp -s "$I/etc/mnguard/agent.conf.mnguard-dist" "$D/etc/mnguard/agent.conf"
check "install.sh says so" grep -q 'keeping .*agent.conf (changed)' "$tmp/install3.log"

# A build configured for another prefix is refused (its compiled-in paths would be wrong).
mkdir -p "$tmp/otherbuild"
sed 's/^CMAKE_INSTALL_PREFIX:PATH=.*/CMAKE_INSTALL_PREFIX:PATH=\/usr\/local/' "$build/CMakeCache.txt" >"$tmp/otherbuild/CMakeCache.txt"
mkdir -p "$tmp/o"
check "install.sh refuses a build not configured for /usr" bash -c \
        "! '$src/installer/install.sh' --root '$tmp/o' --build '$tmp/otherbuild' 2>'$tmp/o.err' && grep -q 'configured for /usr/local' '$tmp/o.err'"

# --- upgrade (reinstall), remove, purge with dpkg --root ---------------------------------------------------
echo "state" >"$D/var/lib/mnguard/journal.db"
echo "data" >"$D/var/lib/mnguard-collector/collector.db"
echo "# changed" >>"$D/etc/mnguard/policy.yaml"
dpkg_root "$D" -i "$agent_deb" >"$tmp/dpkg2.log" 2>&1 || { cat "$tmp/dpkg2.log" >&2; die "dpkg reinstall failed"; }
check "reinstall keeps the state" test -f "$D/var/lib/mnguard/journal.db"
check "reinstall keeps a changed conffile" grep -q '# changed' "$D/etc/mnguard/policy.yaml"
dpkg_root "$D" -r mnguard >"$tmp/dpkg3.log" 2>&1 || { cat "$tmp/dpkg3.log" >&2; die "dpkg -r failed"; }
check "remove: the daemon is gone" test ! -e "$D/usr/sbin/mnguardd"
check "remove: the state stays" test -f "$D/var/lib/mnguard/journal.db"
check "remove: the configuration stays" test -f "$D/etc/mnguard/agent.conf"
dpkg_root "$D" -P mnguard >"$tmp/dpkg4.log" 2>&1 || { cat "$tmp/dpkg4.log" >&2; die "dpkg -P failed"; }
check "purge: the state is removed" test ! -e "$D/var/lib/mnguard"
check "purge: the conffiles are removed" test ! -e "$D/etc/mnguard/agent.conf" -a ! -e "$D/etc/mnguard/policy.yaml"
check "purge: the units are no longer enabled" test ! -e "$D/etc/systemd/system/multi-user.target.wants/mnguardd.service" \
        -a ! -e "$D/etc/systemd/system/timers.target.wants/mnguard-print-check.timer"
dpkg_root "$D" -P mnguard-collector >"$tmp/dpkg5.log" 2>&1 || { cat "$tmp/dpkg5.log" >&2; die "dpkg -P mnguard-collector failed"; }
check "purge of the collector keeps its data (evidence, CA)" test -f "$D/var/lib/mnguard-collector/collector.db"
check "nothing else of the packages is left" bash -c \
        "! find '$D' -name '*mnguard*' ! -path '$D/var/lib/dpkg/*' ! -path '$D/var/lib/mnguard-collector' | grep ."

finish
