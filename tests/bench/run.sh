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
