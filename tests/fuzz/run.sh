#!/bin/bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs them one after another, niced, printing one
# line of figures per target. docs/fuzzing.md.
#   tests/fuzz/run.sh                          every target, 600 s each, build-fuzz/ and build-fuzz/work/
#   tests/fuzz/run.sh -t 60 fuzz-control       one target for a minute
#   tests/fuzz/run.sh -b DIR -w DIR ...        another build or work directory
# New inputs go to WORK/corpus/TARGET (the seeds in tests/*/corpus/TARGET are only read), crashes to
# WORK/artifacts/TARGET/: copy a crash into the seed corpus once it is fixed, as a regression case.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=600
build=$root/build-fuzz
work=
while getopts "t:b:w:h" o; do
        case $o in
        t) seconds=$OPTARG ;;
        b) build=$OPTARG ;;
        w) work=$OPTARG ;;
        *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
        esac
done
shift $((OPTIND - 1))
work=${work:-$build/work}
all=(fuzz-policy fuzz-control fuzz-collector-record fuzz-collector-batch fuzz-exception fuzz-sign
     fuzz-usb-descriptors fuzz-udev-device fuzz-print fuzz-print-job fuzz-conf fuzz-individual-number)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

CC=${CC:-clang} cmake -S "$root" -B "$build" -DMNGUARD_FUZZ=ON -DMNGUARD_SANITIZE=ON >/dev/null
# Two CPUs are shared with others: one compiler at a time.
nice -n 10 cmake --build "$build" -j1 --target "${targets[@]}" -- --no-print-directory >/dev/null

for t in "${targets[@]}"; do
        bin=$(find "$build/tests" -name "$t" -type f -perm -u+x | head -1)
        seeds=$(find "$root/tests" -type d -path "*/corpus/$t" | head -1)
        mkdir -p "$work/corpus/$t" "$work/artifacts/$t" "$work/logs"
        log=$work/logs/$t.log
        wrapper=()
        # the udev target reads a umockdev testbed; ASan is not first in the library list then
        [ "$t" = fuzz-udev-device ] && wrapper=(umockdev-wrapper)
        ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                nice -n 10 "${wrapper[@]}" "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$work/artifacts/$t/" "$work/corpus/$t" "$seeds" >"$log" 2>&1 || true
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
        cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
        corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
        crashes=$(find "$work/artifacts/$t" -type f | wc -l)
        echo "$t runs=${runs:-?} exec/s=${eps:-?} cov=${cov:-?} corpus=${corp:-?} artifacts=$crashes log=$log"
done
