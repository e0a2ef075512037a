#!/bin/bash
# Fixture of the installer tests: builds the two Debian packages with cpack from this build into
# BUILD/tests/installer/debs (tests/installer/CMakeLists.txt, FIXTURES_SETUP installer-debs).
# shellcheck source=tests/installer/lib.sh
. "$(dirname "$0")/lib.sh"

need_tool cpack dpkg-deb dpkg-shlibdeps
need_usr_prefix
rm -rf "$debs"
mkdir -p "$debs"
if ! (cd "$build" && cpack -B "$debs") >"$tmp/cpack.log" 2>&1; then
        cat "$tmp/cpack.log" >&2
        die "cpack failed"
fi
for d in "$agent_deb" "$collector_deb"; do
        [ -f "$d" ] || { cat "$tmp/cpack.log" >&2; die "cpack did not make $d"; }
        ok "built $(basename "$d")"
done
rm -rf "$debs/_CPack_Packages"
