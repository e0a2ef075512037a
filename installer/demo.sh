#!/bin/bash
# mnguard demo: installs what it needs (Debian packages), builds, and shows mnguard at work on
# simulated devices (umockdev), without touching this machine's real devices.
#   installer/demo.sh              run the demo
#   installer/demo.sh --no-build   use the build as it is (no package install, no cmake): the test suite
#   installer/demo.sh --help       this text
# Set MNGUARD_DEMO_BUILD=DIR to use another build directory (default: build/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
no_build=0
case "${1:-}" in
-h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
--no-build) no_build=1 ;;
"") ;;
*) echo "demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac

build=${MNGUARD_DEMO_BUILD:-$root/build}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { echo "demo.sh: $*" >&2; exit 1; }

if [ $no_build -eq 0 ]; then
        # shellcheck source=installer/deps.sh
        . installer/deps.sh
        mnguard_install_deps
        step "Building mnguard ($build)"
        cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
        cmake --build "$build" -j"$(nproc)" >/dev/null
fi
policy_tool=$build/policy/mnguard-policy
ctl=$build/agent/mnguardctl
daemon=$build/agent/mnguardd
data=tests/data/devices
for f in "$policy_tool" "$ctl" "$daemon"; do
        [ -x "$f" ] || die "$f is missing: build first (or run without --no-build)"
done

# --- Part 1: the policy, decided against simulated devices (a dry run) ----------------------------------

demo_policy() {
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
}

# --- Part 2: the real daemon on the simulated terminal ----------------------------------------------------
# A temporary terminal: $demo/etc (agent.conf, policy.yaml), $demo/state, $demo/run. The daemon runs in
# the background under installer/demo-agent.py, which holds the umockdev testbed and plugs devices in.

demo=
agent_pid=
cleanup() {
        if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
                { echo stop >&"${AGENT[1]}"; } 2>/dev/null || true
                wait "$agent_pid" 2>/dev/null || true
        fi
        demo_collector_stop
        [ -z "$demo" ] || rm -rf "$demo"
}
trap cleanup EXIT

# One command to the simulated terminal, one line back (see installer/demo-agent.py).
agent() {
        local reply
        echo "$*" >&"${AGENT[1]}"
        read -r -t 60 reply <&"${AGENT[0]}" || die "the simulated terminal did not answer '$*' (log: $demo/mnguardd.log)"
        case "$reply" in
        error*) die "simulated terminal: ${reply#error }" ;;
        esac
        echo "$reply"
}
ctl() { run "$ctl" --runtime-dir "$demo/run" "$@"; }

demo_terminal_setup() {
        demo=$(mktemp -d "${TMPDIR:-/tmp}/mnguard-demo.XXXXXX")
        mkdir -p "$demo/etc" "$demo/state" "$demo/run"
        cp "$data/demo-policy.yaml" "$demo/etc/policy.yaml"
        printf 'journal:\n  max-age-days: 400\n' >"$demo/etc/agent.conf"
}

# Hook (collector, issue 6): start a local collector (SQLite) under $demo/collector and add its
# collector: settings (url, ca, enrollment-token) to $demo/etc/agent.conf, before the agent starts.
demo_collector_start() { :; }
# Hook (collector): stop it (called on exit too, also when it never started).
demo_collector_stop() { :; }

demo_agent_start() {
        step "6. The agent: mnguardd starts on the simulated terminal, decides every device, then says READY"
        echo "(mnguardd --config-dir $demo/etc --state-dir $demo/state --runtime-dir $demo/run, in the background)"
        # umockdev-wrapper: the helper's testbed calls, like the daemon, see the testbed's /sys.
        coproc AGENT { exec umockdev-wrapper /usr/bin/python3 "$root/installer/demo-agent.py" --mnguardd "$daemon" \
                --devices "$root/$data/demo.umockdev" --dir "$demo"; }
        agent_pid=${AGENT_PID:?}
        local reply
        read -r -t 60 reply <&"${AGENT[0]}" || die "mnguardd did not start (log: $demo/mnguardd.log)"
        case "$reply" in
        ready*) ;;
        *) die "mnguardd did not start: ${reply#error } (log: $demo/mnguardd.log)" ;;
        esac
        ctl status
}

demo_agent_events() {
        step "7. What it did before READY: every device decided and enforced (the event history)"
        ctl events --action 'device-*'
        echo "sysfs 'authorized' of the unregistered stick (1-1): $(agent authorized 1-1)," \
                "of the registered one (1-2): $(agent authorized 1-2)"
}

demo_hotplug() {
        step "8. An unregistered USB stick is plugged in: cut within milliseconds, recorded"
        local r
        r=$(agent plug 1-9 DEMO0000000000000042 0)
        echo "(a stick 0781:5581 with serial DEMO0000000000000042 at port 1-9: sysfs ${r#ok }, cut)"
        ctl events --device DEMO0000000000000042
        agent unplug 1-9 >/dev/null
}

# Hook (signed central policy, issue 7): publish a new policy at the collector and show it applied.
demo_policy_publish() { :; }
# Hook (print, issue 9): a print job to a wrapped queue, blocked by the policy; the user is told.
demo_print() { :; }
# Hook (session helper, issue 8): the user's notice about the blocked stick.
demo_session() { :; }
# Hook (collector): the same history queried at the collector.
demo_collector_query() { :; }

demo_agent_verify() {
        step "9. The history is tamper-evident: the hash chain is walked"
        ctl verify
}

demo_agent_stop() {
        step "10. The agent stops cleanly (SIGTERM); the journal can still be read without it"
        local r
        r=$(agent stop)
        echo "(mnguardd exited with status ${r#stopped })"
        wait "$agent_pid" 2>/dev/null || true
        agent_pid=
        run "$ctl" --journal "$demo/state/journal.db" events --action 'agent-*'
}

demo_policy
demo_terminal_setup
demo_collector_start
demo_agent_start
demo_agent_events
demo_hotplug
demo_policy_publish
demo_print
demo_session
demo_collector_query
demo_agent_verify
demo_agent_stop

echo
echo "Done. Next: docs/policy.md for the policy format, docs/installing.md to install mnguard on"
echo "workstation images; ./tests/run.sh runs every test suite."
