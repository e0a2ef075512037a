#!/bin/bash
# mnguard demo: installs what it needs (Debian packages), builds, and shows mnguard at work on
# simulated devices (umockdev), without touching this machine's real devices.
#   installer/demo.sh            run the demo
#   installer/demo.sh --help     this text
# Set MNGUARD_DEMO_BUILD=DIR to use another build directory (default: build/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
case "${1:-}" in
-h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac

. installer/deps.sh
mnguard_install_deps

build=${MNGUARD_DEMO_BUILD:-$root/build}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "Building mnguard ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
policy_tool=$build/policy/mnguard-policy
ctl=$build/agent/mnguardctl
data=tests/data/devices

step "1. The municipality's policy (媒体管理簿: one registered stick, one distribution CD)"
cat "$data/demo-policy.yaml"
run "$policy_tool" check "$data/demo-policy.yaml"

step "2. A policy with mistakes is refused with file, line and column"
run "$policy_tool" check "$data/demo-policy-bad.yaml" || echo "(exit status $?: refused, as it should be)"

step "3. Simulated devices plugged in (umockdev), decided by the policy (a dry run: nothing is changed)"
echo "Devices: an unregistered stick, the registered stick, a keyboard, a mouse, a BadUSB 'keyboard' that is"
echo "also a stick, an MTP phone, a USB-tethering phone, a DVD with the distribution disc, an SD card."
run umockdev-run -d "$data/demo.umockdev" -- "$ctl" devices --policy "$data/demo-policy.yaml"

step "4. The same decisions as JSON for scripts (the MTP phone)"
umockdev-run -d "$data/demo.umockdev" -- "$ctl" devices --policy "$data/demo-policy.yaml" --json |
        /usr/bin/python3 -c 'import json,sys; d=[x for x in json.load(sys.stdin) if x["serial"]=="28021FDH2000ZK"][0]; print(json.dumps({k:d[k] for k in ("syspath","vendor","product","classes","decision","rule","reason")}|{"interfaces":[{k:i[k] for k in ("name","function","decision")} for i in d["interfaces"]]}, ensure_ascii=False, indent=1))'

step "5. Audit mode: the same devices, decided and recorded as 'would block', nothing enforced"
run umockdev-run -d "$data/demo.umockdev" -- "$ctl" devices --policy "$data/demo-policy-audit.yaml"

echo
echo "Done. Next: docs/policy.md for the policy format; ./tests/run.sh runs every test suite."
