#!/bin/bash
# mnguard demo: installs what it needs (Debian packages), builds, and runs the whole loop on this machine:
# a local collector, the agent on simulated devices (umockdev), a policy signed and published centrally,
# print jobs through a private cupsd, the history on the terminal and at the collector. It touches none
# of this machine's devices, printers or services, and removes what it made when it ends. Run as root.
#   installer/demo.sh              run the demo
#   installer/demo.sh --no-build   use the build as it is (no package install, no cmake): the test suite
#   installer/demo.sh --help       this text
# MNGUARD_DEMO_BUILD=DIR uses another build directory (default: build/); MNGUARD_DEMO_KEEP=1 keeps the
# demo's files (configuration, journal, collector database, logs) to look at afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
no_build=0
case "${1:-}" in
-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

# --- Part 2: the whole loop on one machine: IT's collector, the agent, devices, a published policy, print -----
# A temporary terminal: $demo/etc (agent.conf, policy.yaml), $demo/state, $demo/run. The daemon runs in
# the background under installer/demo-agent.py, which holds the umockdev testbed and plugs devices in.
# IT's side lives beside it: $demo/it (the signing key, an operator certificate) and $demo/collector (a
# collector with SQLite storage, listening on a free port of 127.0.0.1).

collector=$build/collector/mnguard-collector
backend=$build/print/mnguard
demo=
agent_pid=
collector_pid=
collector_status=
testbed=
session_pid=
session_fd=
collector_url=
host_id=
new_serial=
cleanup() {
        local rc=$? log
        if [ -n "$agent_pid" ]; then
                if [ -n "${AGENT[1]:-}" ]; then
                        { echo stop >&"${AGENT[1]}"; } 2>/dev/null || true
                fi
                wait "$agent_pid" 2>/dev/null || true
        fi
        # the helper frees its testbed when it ends; after a crash of it the directory is left
        [ -z "$testbed" ] || [ ! -d "$testbed" ] || rm -rf "$testbed"
        demo_session_stop
        demo_collector_stop
        if [ "$rc" != 0 ] && [ -n "$demo" ] && [ -z "${MNGUARD_DEMO_KEEP:-}" ]; then
                # the logs named in the messages above go with the directory: their ends, first
                for log in "$demo/mnguardd.log" "$demo/collector.log" "$demo/session/home/mnguard-session.log"; do
                        [ -s "$log" ] || continue
                        echo "--- the end of $log:" >&2
                        tail -n 15 "$log" >&2
                done
        fi
        if [ -n "$demo" ] && [ -n "${MNGUARD_DEMO_KEEP:-}" ]; then
                echo "(kept $demo: the terminal's etc/ state/ and mnguardd.log, IT's it/, the collector's collector/)"
        elif [ -n "$demo" ]; then
                rm -rf "$demo"
        fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One command to the simulated terminal, one line back (see installer/demo-agent.py).
agent() {
        local reply
        [ -n "${AGENT[1]:-}" ] || die "the simulated terminal has gone (log: $demo/mnguardd.log)"
        echo "$*" >&"${AGENT[1]}"
        read -r -t 60 reply <&"${AGENT[0]}" ||
                die "the simulated terminal did not answer '$*' (log: $demo/mnguardd.log)"
        case "$reply" in
        error*) die "simulated terminal: ${reply#error }" ;;
        esac
        echo "$reply"
}
ctl() { run "$ctl" --runtime-dir "$demo/run" "$@"; }
# The collector's command line on the demo's collector directory (shown as it is run).
coll() {
        local n=1
        [ "$1" != policy ] || n=2
        run "$collector" "${@:1:n}" --dir "$demo/collector" "${@:n+1}"
}
# A value out of the JSON document on stdin: json_get 'PYTHON EXPRESSION ON d'.
json_get() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# Polls a command (quietly) until it succeeds, at most $1 seconds.
poll() {
        local limit=$1 i
        shift
        for ((i = 0; i < limit * 10; i++)); do
                if "$@"; then return 0; fi
                sleep 0.1
        done
        return 1
}

demo_terminal_setup() {
        demo=$(mktemp -d "${TMPDIR:-/tmp}/mnguard-demo.XXXXXX")
        chmod 755 "$demo" # the desktop session runs as nobody, cupsd's filters as lp: both must get through
        mkdir -p "$demo/etc" "$demo/state" "$demo/run" "$demo/it" "$demo/collector"
        cp "$data/demo-policy.yaml" "$demo/etc/policy.yaml"
        printf 'journal:\n  max-age-days: 400\n' >"$demo/etc/agent.conf"
}

# IT's side: the signing key, the local collector (SQLite), the agent's collector: settings.
demo_collector_start() {
        step "6. IT's side: a policy signing key, and a local collector (SQLite) for the terminal to report to"
        echo "The secret key stays with IT; terminals and the collector get the public key (policy-signing.pub)."
        run "$policy_tool" keygen "$demo/it/policy-signing"
        cp "$demo/it/policy-signing.pub" "$demo/etc/policy-signing.pub"
        cp "$demo/it/policy-signing.pub" "$demo/collector/policy-signing.pub"
        echo "A terminal with a trust file takes signed policies only: the starting policy is signed too."
        run "$policy_tool" sign "$demo/etc/policy.yaml" --key "$demo/it/policy-signing.key"

        coll init-ca
        local token reply ready
        printf '$ %s\n' "$collector enroll-token --dir $demo/collector"
        token=$("$collector" enroll-token --dir "$demo/collector" 2>&1 >"$demo/it/token") ||
                die "enroll-token failed: $token"
        echo "$token"
        token=$(cat "$demo/it/token")
        echo "(token ${token:0:9}…, one use: it goes into the terminal's agent.conf)"
        coll operator-cert --name demo-responder --role auditor --out "$demo/it/responder"

        echo "(mnguard-collector serve --dir $demo/collector --listen 127.0.0.1:0, in the background:" \
                "port 0 picks a free port, named in its sd_notify STATUS)"
        mkfifo "$demo/collector.ready"
        exec {ready}<>"$demo/collector.ready"
        /usr/bin/python3 "$root/installer/demo-collector.py" --collector "$collector" --dir "$demo/collector" \
                --log "$demo/collector.log" >&"$ready" {ready}>&- &
        collector_pid=$!
        read -r -t 30 -u "$ready" reply || reply="error no answer"
        exec {ready}>&-
        rm -f "$demo/collector.ready"
        case "$reply" in
        "ready "*) collector_url="https://127.0.0.1:${reply#ready }" ;;
        *)
                tail -n 20 "$demo/collector.log" >&2 || true
                die "the collector did not start: ${reply#error }"
                ;;
        esac
        echo "The collector listens on $collector_url."

        cp "$demo/collector/ca.crt" "$demo/etc/collector-ca.pem"
        cat >>"$demo/etc/agent.conf" <<EOF
collector:
  url: $collector_url
  ca: $demo/etc/collector-ca.pem
  enrollment-token: $token
EOF
        chmod 600 "$demo/etc/agent.conf" # it holds the token
        echo "The terminal's $demo/etc/agent.conf (the token is used once, at enrollment):"
        sed "s/\(enrollment-token: mngt-\).*/\1…/" "$demo/etc/agent.conf"
}

# Stops the collector (called on exit too, also when it never started): SIGTERM, up to 10 s, then SIGKILL.
demo_collector_stop() {
        [ -n "$collector_pid" ] || return 0
        local pid=$collector_pid i
        collector_pid=
        kill -TERM "$pid" 2>/dev/null || return 0
        # bash reaps its children as they end (it keeps their status for wait): kill -0 fails from then
        # on. No command substitution in here: bash 5.2.15 crashed (SIGSEGV) on one when SIGTERM came
        # during step 12 and this ran from the EXIT trap.
        for ((i = 0; i < 100; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        collector_status=0
        wait "$pid" 2>/dev/null || collector_status=$?
}

demo_agent_start() {
        step "7. The agent: mnguardd starts on the simulated terminal, decides every device, says READY, enrolls"
        echo "(mnguardd --config-dir $demo/etc --state-dir $demo/state --runtime-dir $demo/run, in the background)"
        # umockdev-wrapper: the helper's testbed calls, like the daemon, see the testbed's /sys.
        coproc AGENT { exec umockdev-wrapper /usr/bin/python3 "$root/installer/demo-agent.py" --mnguardd "$daemon" \
                --devices "$root/$data/demo.umockdev" --dir "$demo"; }
        agent_pid=${AGENT_PID:?}
        local reply
        read -r -t 60 reply <&"${AGENT[0]}" || die "mnguardd did not start (log: $demo/mnguardd.log)"
        case "$reply" in
        "ready "*) testbed=${reply#ready } ;;
        *) die "mnguardd did not start: ${reply#error } (log: $demo/mnguardd.log)" ;;
        esac
        ctl status
        host_id=$("$ctl" --runtime-dir "$demo/run" status --json | json_get 'd["host_id"]')
        # Enrollment: the reporter's first job (a key, a CSR, POST /v1/enroll with the token).
        poll 30 test -s "$demo/state/collector-enrolled-host" ||
                die "the agent did not enroll at the collector (log: $demo/mnguardd.log)"
        echo "Enrolled: the collector signed a client certificate for host $host_id" \
                "($demo/state/collector-client.crt); from now on the journal is delivered over mutual TLS."
}

demo_agent_events() {
        step "8. What it did before READY: every device decided and enforced (the event history)"
        ctl events --action 'device-*'
        local allowed blocked
        allowed=$(agent authorized 1-2)
        blocked=$(agent authorized 1-1)
        echo "Three outcomes: the registered stick is allowed (sysfs 'authorized' of 1-2: $allowed), the distribution"
        echo "DVD read-only (BLKROSET before any mount; the testbed's device nodes are plain files, so here only the"
        echo "decision shows), the unregistered stick blocked (sysfs 'authorized' of 1-1: $blocked: the kernel lets go"
        echo "of it), as are the phones' functions, the SD card and the BadUSB 'keyboard'; the real keyboard and mouse"
        echo "keep working."
}

demo_hotplug() {
        step "9. An unregistered USB stick is plugged in: cut within milliseconds, recorded"
        local r
        r=$(agent plug 1-9 DEMO0000000000000042 0)
        echo "(a stick 0781:5581 with serial DEMO0000000000000042 at port 1-9: sysfs ${r#ok }, cut)"
        ctl events --device DEMO0000000000000042
        agent unplug 1-9 >/dev/null
}

# Has the agent recorded a policy-applied or policy-rejected for the new serial (offered_serial on a
# refusal)? (quiet, for poll)
policy_decided() {
        "$ctl" --runtime-dir "$demo/run" events --action 'policy-*' --json 2>/dev/null |
                grep -Eq "\"(policy|offered)_serial\":${new_serial}[,}]"
}

demo_policy_publish() {
        step "10. IT registers the blocked stick and the 2F printer: a new policy, signed, published centrally"
        local new=$demo/it/policy.yaml
        cp "$data/demo-policy-published.yaml" "$new"
        new_serial=$(sed -n 's/^serial: *\([0-9]*\).*/\1/p' "$new")
        echo "What changed (a higher serial; a stick registered as 情報政策課-002; a print rule):"
        diff -u --label "policy in force" --label "new policy" <(grep -v '^#' "$demo/etc/policy.yaml") \
                <(grep -v '^#' "$new") | sed 1,2d || true
        run "$policy_tool" sign "$new" --key "$demo/it/policy-signing.key"
        coll policy publish --group default "$new" "$new.sig"
        echo "(the agent long-polls GET /v1/policy with the serial it enforces: the collector answers at once)"
        poll 30 policy_decided ||
                die "the agent did not take policy $new_serial within 30 s (log: $demo/mnguardd.log)"
        ctl events --action 'policy-*'
        "$ctl" --runtime-dir "$demo/run" events --action 'policy-*' --json | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    ev, m = e["event"], e.get("mnguard", {})
    seq, action, serial, origin, key = ev["sequence"], ev["action"], m.get("policy_serial"), m.get("policy_origin"), m.get("key_id")
    if action == "policy-rejected":  # policy_serial is the one in force; offered_* the one refused
        serial, origin = m.get("offered_serial", "?"), m.get("offered_origin")
    print(f"  {seq}: {action}, serial {serial} from {origin}" + (f", signed by key {key}" if key else "")
          + (": " + ev["reason"] if ev.get("reason") else ""))'
        "$ctl" --runtime-dir "$demo/run" events --action policy-applied --json |
                grep -q "\"policy_serial\":${new_serial}[,}]" || die "the agent refused policy $new_serial"
        ctl status
        local r
        r=$(agent await 1-1 1)
        echo "The stick at 1-1 (serial 4C530009990101117384) is let in now: sysfs ${r#ok } (it was 0)."
        ctl events --device 4C530009990101117384 --action 'device-*'
}

demo_print() {
        step "11. Printing: the 2F printer the new policy lists prints; a job to another printer is cancelled"
        echo "(what 'mnguardctl print wrap' does on a terminal: each queue's device URI is put behind the mnguard"
        echo " backend, which asks mnguardd about every job)"
        local rc=0
        /usr/bin/python3 "$root/installer/demo-print.py" --backend "$backend" --mnguardctl "$ctl" \
                --state "$demo/state" --runtime "$demo/run" --dir "$demo/print" || rc=$?
        case $rc in
        0) ctl events --action 'print-*' ;;
        77) ;;
        *) die "the print demo failed (status $rc)" ;;
        esac
}

# The user's side: mnguard-session in a session of its own (a session D-Bus, a stand-in notification
# server; no X display, so no clipboard guard), told by the daemon about a stick plugged in.
demo_session() {
        step "12. What the user sees: mnguard-session's notice about a blocked stick (Japanese first, then English)"
        local session_bin=$build/session/mnguard-session line
        if [ ! -x "$session_bin" ]; then
                echo "(skipped: $session_bin is not built)"
                return 0
        fi
        echo "(mnguard-session runs in each desktop session; here in a session D-Bus of its own, with"
        echo " python3-dbusmock's notification server standing in for the desktop's, which would draw it on the screen)"
        mkfifo "$demo/session.out"
        exec {session_fd}<>"$demo/session.out"
        /usr/bin/python3 "$root/installer/demo-session.py" --mnguard-session "$session_bin" --runtime "$demo/run" \
                --localedir "$build/po/locale" --dir "$demo/session" \
                >&"$session_fd" 2>>"$demo/session.log" {session_fd}>&- &
        session_pid=$!
        read -r -t 30 -u "$session_fd" line || line="error no answer"
        case "$line" in
        ready) ;;
        skip*)
                echo "(skipped: ${line#skip })"
                demo_session_stop
                return 0
                ;;
        *) die "the desktop session did not start: ${line#error } (log: $demo/session.log)" ;;
        esac
        # The helper subscribes right after it says it connected: a stick plugged in at that very moment
        # could come first. So a moment's grace, and if no notice comes, a second stick at another port.
        sleep 0.2
        local port
        for port in 1-8 1-10; do
                agent plug "$port" 4C530007770101117384 0 >/dev/null
                echo "(a stick that is not registered, serial 4C530007770101117384, is plugged in at $port)"
                if read -r -t 20 -u "$session_fd" line; then break; fi
                agent unplug "$port" >/dev/null
                line=
        done
        case "$line" in
        "notice "*) ;;
        *) die "no notice reached the desktop session (log: $demo/session/home/mnguard-session.log)" ;;
        esac
        echo "The notification (libnotify → org.freedesktop.Notifications):"
        /usr/bin/python3 -c '
import json, sys
n = json.loads(sys.argv[1])
urgency = {0: "low", 1: "normal", 2: "critical"}.get(n["urgency"], n["urgency"])
print("  [" + str(urgency) + "] " + n["summary"])
for line in n["body"].splitlines():
    print("  " + line if line else "")' "${line#notice }"
        echo "(print-blocked notices go to the session of the user who printed; the daemon tells every session about"
        echo " devices and policy changes)"
        agent unplug "$port" >/dev/null
        demo_session_stop
}

# Stops the session helper and its bus (called on exit too).
demo_session_stop() {
        [ -n "$session_pid" ] || return 0
        local pid=$session_pid
        session_pid=
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        exec {session_fd}>&-
}

# Has the collector acknowledged every record the agent had journaled at $1? (quiet, for poll)
collector_acked() {
        local acked
        acked=$("$collector" hosts --dir "$demo/collector" --json 2>/dev/null |
                json_get "max([h['acked_sequence'] for h in d['hosts'] if h['host_id'] == '$host_id'] or [0])") ||
                return 1
        [ "$acked" -ge "$1" ]
}

demo_collector_query() {
        step "13. The same history at the collector: every record delivered, acknowledged, queryable centrally"
        local last
        last=$("$ctl" --runtime-dir "$demo/run" status --json | json_get 'd["journal"]["last_sequence"]')
        poll 30 collector_acked "$last" ||
                die "the collector did not acknowledge sequence $last within 30 s" \
                        "(logs: $demo/mnguardd.log, $demo/collector.log)"
        coll hosts
        coll query --host "$host_id" --action 'device-blocked'
        coll query --host "$host_id" --action 'p*'
        command -v curl >/dev/null || return 0
        echo "Responders' tools ask the same over HTTPS with an operator certificate (role auditor):"
        printf '$ %s\n' "curl --cacert ca.crt --cert responder.crt --key responder.key '$collector_url/v1/hosts'"
        curl -sS --fail --cacert "$demo/collector/ca.crt" --cert "$demo/it/responder.crt" \
                --key "$demo/it/responder.key" "$collector_url/v1/hosts"
        echo
}

demo_agent_verify() {
        step "14. The history is tamper-evident: the hash chain is walked"
        ctl verify
}

demo_agent_stop() {
        step "15. The agent stops cleanly (SIGTERM); the journal can still be read without it"
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
demo_collector_stop
[ "$collector_status" = 0 ] || die "mnguard-collector exited with status $collector_status (log: $demo/collector.log)"
echo "(mnguard-collector exited with status 0: SIGTERM stops it cleanly too)"

echo
echo "Done. Next: docs/policy.md for the policy format, docs/signing.md and docs/collector.md for signing and"
echo "publishing, docs/installing.md to install mnguard on workstation images; ./tests/run.sh runs every test suite."
