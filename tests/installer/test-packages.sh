#!/bin/bash
# The two Debian packages: contents, modes and owners, control fields, conffiles, maintainer scripts,
# stripped binaries, paths that agree with each other (rule → helper, unit → daemon).
# shellcheck source=tests/installer/lib.sh
. "$(dirname "$0")/lib.sh"

need_tool dpkg-deb readelf
need_debs

# contents PACKAGE: "MODE OWNER PATH" per entry, paths without the leading "./" and trailing "/".
contents() {
        dpkg-deb -c "$1" | awk '{ p = $6; sub(/^\.\//, "", p); sub(/\/$/, "", p); if (p != "") print $1, $2, p }'
}
contents "$agent_deb" >"$tmp/agent.list"
contents "$collector_deb" >"$tmp/collector.list"

# has LIST MODE PATH
has() { grep -qxF -e "$2 root/root $3" "$tmp/$1.list"; }
lacks() { ! grep -q " $2\$" "$tmp/$1.list"; }

# --- mnguard ---
for f in usr/sbin/mnguardd usr/bin/mnguardctl usr/bin/mnguard-policy usr/bin/mnguard-session \
        usr/libexec/mnguard/mnguard-udev; do
        check "mnguard ships $f, 0755 root" has agent -rwxr-xr-x "$f"
done
check "the CUPS backend is 0700 root (cupsd runs it as root only so)" has agent -rwx------ usr/lib/cups/backend/mnguard
for f in usr/lib/udev/rules.d/70-mnguard.rules usr/lib/systemd/system/mnguardd.service \
        usr/lib/systemd/system/mnguard-print-check.service usr/lib/systemd/system/mnguard-print-check.timer \
        usr/lib/sysusers.d/mnguard.conf usr/lib/tmpfiles.d/mnguard.conf \
        etc/mnguard/agent.conf etc/mnguard/policy.yaml etc/xdg/autostart/mnguard-session.desktop \
        usr/share/locale/ja/LC_MESSAGES/mnguard.mo usr/share/doc/mnguard/copyright usr/share/doc/mnguard/changelog.gz \
        usr/share/man/man8/mnguardd.8.gz usr/share/man/man1/mnguardctl.1.gz usr/share/man/man1/mnguard-policy.1.gz \
        usr/share/man/man8/mnguard-udev.8.gz usr/share/man/man1/mnguard-session.1.gz usr/share/doc/mnguard/installing.md; do
        check "mnguard ships $f, 0644 root" has agent -rw-r--r-- "$f"
done
check "mnguard does not ship the collector" lacks agent usr/sbin/mnguard-collector
check "mnguard ships no state (postinst makes /var/lib/mnguard 0700)" bash -c "! grep -q ' var/' '$tmp/agent.list'"

# --- mnguard-collector ---
check "mnguard-collector ships usr/sbin/mnguard-collector" has collector -rwxr-xr-x usr/sbin/mnguard-collector
for f in usr/lib/systemd/system/mnguard-collector.service usr/lib/sysusers.d/mnguard-collector.conf \
        usr/lib/tmpfiles.d/mnguard-collector.conf usr/share/man/man8/mnguard-collector.8.gz \
        usr/share/doc/mnguard-collector/copyright usr/share/mnguard/console/index.html \
        usr/share/mnguard/console/app.js usr/share/mnguard/console/style.css; do
        check "mnguard-collector ships $f" has collector -rw-r--r-- "$f"
done
check "mnguard does not ship the console" lacks agent usr/share/mnguard/console/index.html
check "collector.conf is 0640 (it may hold a password)" has collector -rw-r----- etc/mnguard/collector.conf
for f in usr/sbin/mnguardd usr/bin/mnguardctl usr/lib/cups/backend/mnguard; do
        check "mnguard-collector does not ship $f" lacks collector "$f"
done

# --- both ---
for p in agent collector; do
        check "$p: everything owned by root" bash -c "! awk '\$2 != \"root/root\"' '$tmp/$p.list' | grep -q ."
        check "$p: nothing under /usr/local or /usr/etc" bash -c "! grep -qE ' usr/(local|etc)(/|\$)' '$tmp/$p.list'"
        check "$p: no group- or world-writable file" bash -c "! awk '\$1 ~ /^-....w|^-.......w/' '$tmp/$p.list' | grep -q ."
done

# --- control fields ---
field() { dpkg-deb -f "$1" "$2"; }
depends=$(field "$agent_deb" Depends)
for d in udev systemd libc6 libudev1 libsystemd0 libsodium23; do
        check "mnguard Depends on $d" grep -qE "(^|, )$d( |,|\$)" <<<"$depends"
done
check "mnguard recommends cups-daemon" grep -q cups-daemon <<<"$(field "$agent_deb" Recommends)"
cdepends=$(field "$collector_deb" Depends)
for d in systemd libc6 libmicrohttpd12 libgnutls30 libpq5; do
        check "mnguard-collector Depends on $d" grep -qE "(^|, )$d( |,|\$)" <<<"$cdepends"
done
check "section admin" test "$(field "$agent_deb" Section)" = admin
check "package names" test "$(field "$agent_deb" Package) $(field "$collector_deb" Package)" = "mnguard mnguard-collector"

# --- control archive: conffiles and maintainer scripts ---
for p in agent collector; do
        deb=$agent_deb
        [ $p = collector ] && deb=$collector_deb
        mkdir -p "$tmp/ctl-$p"
        dpkg-deb -e "$deb" "$tmp/ctl-$p"
        for s in postinst prerm postrm; do
                check "$p: $s is executable" test -x "$tmp/ctl-$p/$s"
                check "$p: $s is valid sh" sh -n "$tmp/ctl-$p/$s"
                check "$p: $s honours DPKG_ROOT" grep -q DPKG_ROOT "$tmp/ctl-$p/$s"
        done
        check "$p: md5sums" test -s "$tmp/ctl-$p/md5sums"
done
printf '/etc/mnguard/agent.conf\n/etc/mnguard/policy.yaml\n/etc/xdg/autostart/mnguard-session.desktop\n' >"$tmp/want-conffiles"
check "mnguard conffiles: agent.conf, policy.yaml, the autostart entry" cmp -s "$tmp/ctl-agent/conffiles" "$tmp/want-conffiles"
check "mnguard-collector conffiles: collector.conf" test "$(cat "$tmp/ctl-collector/conffiles")" = /etc/mnguard/collector.conf
check "every file in /etc is a conffile (agent)" bash -c \
        "diff <(awk '\$1 ~ /^-/ && \$3 ~ /^etc\\// { print \"/\" \$3 }' '$tmp/agent.list' | sort) <(sort '$tmp/ctl-agent/conffiles')"
check "postinst creates the group, fixes the backend and state modes, enables the unit" bash -c \
        "grep -q 'systemd-sysusers' '$tmp/ctl-agent/postinst' && grep -q 'chmod 0700 \"\$backend\"' '$tmp/ctl-agent/postinst' &&
         grep -q 'chmod 0700 \"\$root/var/lib/mnguard\"' '$tmp/ctl-agent/postinst' && grep -q 'deb-systemd-helper enable' '$tmp/ctl-agent/postinst'"
check "postrm removes the state on purge only" bash -c \
        "awk '/^purge\\)/,/;;/' '$tmp/ctl-agent/postrm' | grep -q 'rm -rf \"\$root/var/lib/mnguard\"' &&
         ! awk '/^remove\\)/,/;;/' '$tmp/ctl-agent/postrm' | grep -q 'rm -rf'"

# --- the files themselves ---
mkdir -p "$tmp/x"
dpkg-deb -x "$agent_deb" "$tmp/x"
dpkg-deb -x "$collector_deb" "$tmp/x"
for f in usr/sbin/mnguardd usr/bin/mnguardctl usr/libexec/mnguard/mnguard-udev usr/lib/cups/backend/mnguard \
        usr/sbin/mnguard-collector; do
        check "$f is stripped" bash -c "! readelf -S '$tmp/x/$f' | grep -q '\\.symtab'"
done
check "the udev rule runs the packaged helper" grep -q 'IMPORT{program}="/usr/libexec/mnguard/mnguard-udev %p"' \
        "$tmp/x/usr/lib/udev/rules.d/70-mnguard.rules"
check "mnguardd.service starts the packaged daemon" grep -qx 'ExecStart=/usr/sbin/mnguardd' \
        "$tmp/x/usr/lib/systemd/system/mnguardd.service"
check "mnguard-print-check.service runs the packaged mnguardctl" grep -qx 'ExecStart=/usr/bin/mnguardctl print check --auto' \
        "$tmp/x/usr/lib/systemd/system/mnguard-print-check.service"
check "mnguard-collector.service starts the packaged collector" grep -qx 'ExecStart=/usr/sbin/mnguard-collector serve' \
        "$tmp/x/usr/lib/systemd/system/mnguard-collector.service"
check "the default policy is valid" "$build/policy/mnguard-policy" check "$tmp/x/etc/mnguard/policy.yaml"
check "the default policy fails closed (storage block, print block, clipboard block)" bash -c \
        "'$build/policy/mnguard-policy' show '$tmp/x/etc/mnguard/policy.yaml' | /usr/bin/python3 -c '
import json, sys
p = json.load(sys.stdin); d = p[\"defaults\"]
sys.exit(not (p[\"mode\"] == \"enforce\" and d[\"storage\"] == \"block\" and d[\"print\"] == \"block\" and
              d[\"clipboard\"] == \"block\" and {\"storage\", \"still-image\", \"network\", \"wireless\"} <= set(d[\"usb-classes-blocked\"])
              and not p[\"media\"] and not p[\"print\"]))'"
check "the man pages are compressed roff" bash -c "zcat '$tmp/x/usr/share/man/man8/mnguardd.8.gz' | grep -q '^\\.TH MNGUARDD 8'"
check "the sysusers line makes group mnguard-audit" grep -qx 'g mnguard-audit -' "$tmp/x/usr/lib/sysusers.d/mnguard.conf"
check "tmpfiles: the state directory 0700 root" grep -qx 'd /var/lib/mnguard 0700 root root -' "$tmp/x/usr/lib/tmpfiles.d/mnguard.conf"
check "tmpfiles: the runtime directory 0755 root" grep -qx 'd /run/mnguard     0755 root root -' "$tmp/x/usr/lib/tmpfiles.d/mnguard.conf"
check "the collector's user" grep -q '^u mnguard-collector - ' "$tmp/x/usr/lib/sysusers.d/mnguard-collector.conf"

finish
