#!/bin/bash
# lintian on the two packages: no error. Warnings are printed (and listed in docs/installing.md);
# the accepted ones are overridden in installer/debian/*/lintian-overrides with their reasons.
# shellcheck source=tests/installer/lib.sh
. "$(dirname "$0")/lib.sh"

need_tool lintian
need_debs
# lintian complains when run as root, and says so on stderr; everything else it prints is a tag.
lintian --fail-on error --display-info "$agent_deb" "$collector_deb" >"$tmp/lintian.out" 2>"$tmp/lintian.err" ||
        status=$?
grep -v 'running with root privileges' "$tmp/lintian.err" >&2 || true
cat "$tmp/lintian.out"
check "lintian ran" test -z "$(grep -v 'running with root privileges' "$tmp/lintian.err")"
check "lintian finds no error" test "${status:-0}" -eq 0 -a -z "$(grep '^E:' "$tmp/lintian.out")"
check "the overrides are still needed (no unused override)" bash -c "! grep -q 'unused-override' '$tmp/lintian.out'"
finish
