#!/bin/bash
# Installs what the tests need, builds with -Werror and runs every test suite through ctest.
#   tests/run.sh                 normal build in build/
#   tests/run.sh --sanitize      ASan + UBSan build in build-sanitize/
#   tests/run.sh -- -L policy    extra arguments go to ctest (here: one area)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sanitize=0
ctest_args=()
while [ $# -gt 0 ]; do
        case "$1" in
        --sanitize) sanitize=1 ;;
        -h | --help)
                sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
                exit 0
                ;;
        --) shift; ctest_args=("$@"); break ;;
        *) echo "tests/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        esac
        shift
done

# shellcheck source=../installer/deps.sh
. installer/deps.sh
mnguard_install_deps

jobs=$(nproc)
if [ $sanitize -eq 1 ]; then
        build=build-sanitize
        cmake_args=(-DMNGUARD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
        # umockdev's preload library comes before the ASan runtime in LD_PRELOAD: tell ASan that is fine.
        export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1:abort_on_error=0
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
        build=build
        cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi

cmake -S . -B "$build" -DMNGUARD_WERROR=ON "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j"$jobs" -- --no-print-directory >/dev/null 2>"$build/build-errors.log" || {
        cat "$build/build-errors.log" >&2
        exit 1
}
ctest --test-dir "$build" --output-on-failure -j"$jobs" "${ctest_args[@]}"
