#!/bin/bash
# Runs every benchmark and prints one "name value unit" line per figure.
# Usage: tests/bench/run.sh [BUILD_DIR]   (default: build, configured and built by tests/run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
if [ ! -x "$build/tests/bench/bench-policy" ]; then
        echo "bench: $build/tests/bench/bench-policy not built; run ./tests/run.sh first" >&2
        exit 2
fi
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -r) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
taskset -c 0 "$build/tests/bench/bench-policy"
if [ -x "$build/tests/bench/bench-journal" ]; then "$build/tests/bench/bench-journal"; fi
if [ -x "$build/tests/bench/bench-block" ]; then "$build/tests/bench/bench-block"; fi
# USB (issues 3, 4, 11): insertion latency, coldplug, RSS, idle wake-ups; mnguardd, USBGuard and a null
# responder side by side on umockdev testbeds (docs/performance.md). Knobs: BENCH_USB_INSERTS (500),
# BENCH_COLDPLUG_DEVICES (500), BENCH_COLDPLUG_RUNS (5), BENCH_IDLE_SECONDS (65).
if [ -x "$build/tests/bench/bench-usb" ]; then
        usb_bench() {
                local rc=0
                umockdev-wrapper "$build/tests/bench/bench-usb" "$@" || rc=$?
                case $rc in
                0) ;;
                77) echo "# bench-usb $1: skipped" ;;
                *) echo "# bench-usb $1: failed (exit $rc)" ;;
                esac
        }
        # How busy the machine is (CPU pressure: share of time runnable tasks waited for a CPU).
        pressure() { awk -v w="$1" '/^some/ { sub("avg60=", "", $3); print "machine_cpu_pressure_avg60_" w, $3, "%" }' \
                /proc/pressure/cpu 2>/dev/null || true; }
        if command -v umockdev-wrapper >/dev/null; then
                pressure before_usb
                usb_bench insert --daemon mnguardd,usbguard,null --inserts "${BENCH_USB_INSERTS:-500}"
                usb_bench coldplug --daemon mnguardd,usbguard,null --devices "${BENCH_COLDPLUG_DEVICES:-500}" \
                        --runs "${BENCH_COLDPLUG_RUNS:-5}"
                usb_bench idle --seconds "${BENCH_IDLE_SECONDS:-65}"
                pressure after_usb
        else
                echo "# bench-usb: umockdev-wrapper missing (Debian package umockdev): USB benchmarks skipped"
        fi
fi
if [ -x "$build/tests/bench/bench-collector-client" ]; then /usr/bin/python3 "$here/bench-collector.py" "$build"; fi
# The real agent draining a 1,000,000-event journal backlog to the collector (issue 6): mnguardd's reporter, not a
# load generator. Knobs: BENCH_REPORTER_EVENTS (1000000), BENCH_REPORTER_SQLITE=0, BENCH_REPORTER_PG=0,
# BENCH_REPORTER_PERF=PREFIX (perf report of mnguardd). Needs root.
if [ -x "$build/tests/bench/bench-reporter-seed" ] && [ -x "$build/agent/mnguardd" ] && [ -x "$build/collector/mnguard-collector" ]; then
        /usr/bin/python3 "$here/bench-reporter.py" "$build" || echo "# bench-reporter: failed (exit $?)"
fi
# Responder console (issue 12): API page latency on 10,000 hosts and 10,000,000 events (BENCH_CONSOLE_EVENTS,
# BENCH_CONSOLE_HOSTS, BENCH_CONSOLE_REPEAT, BENCH_CONSOLE_PG=0; docs/console.md).
if [ -x "$build/tests/bench/bench-console-seed" ]; then /usr/bin/python3 "$here/bench-console.py" "$build"; fi
# Policy delivery (issue 7): publish -> applied on 100 long-polling agents. Knobs: BENCH_POLICY_PUSH_AGENTS (100),
# BENCH_POLICY_PUSH_ROUNDS (10).
if [ -x "$build/agent/mnguardd" ] && [ -x "$build/collector/mnguard-collector" ]; then
        /usr/bin/python3 "$here/bench-policy-push.py" "$build" || echo "# bench-policy-push: failed (exit $?)"
fi
if [ -x "$build/tests/session/x-test-app" ] && command -v Xvfb >/dev/null; then /usr/bin/python3 "$here/bench-clipboard.py" "$build"; fi
