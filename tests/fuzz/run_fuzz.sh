#!/usr/bin/env bash
# Runs one libFuzzer target: first every committed seed and regression input (each must pass),
# then SECONDS (default $CLINFM_FUZZ_SECONDS, else 5) of fuzzing from the seeds. New inputs go to a scratch folder, never
# into the source tree; a crash input is kept in $CLINFM_FUZZ_ARTIFACTS (default: the scratch
# folder's crashes/) and the run fails.
# usage: run_fuzz.sh FUZZ_BINARY FUZZ_SOURCE_DIR TARGET [SECONDS] [extra libFuzzer flags...]
set -u
binary=$1 src=$2 target=$3 seconds=${4:-${CLINFM_FUZZ_SECONDS:-5}}
shift 3
[ $# -gt 0 ] && shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=${CLINFM_FUZZ_ARTIFACTS:-$work/crashes}
mkdir -p "$work/new" "$artifacts"
seeds=("$src/corpus/$target")
[ -d "$src/regressions/$target" ] && seeds+=("$src/regressions/$target")
# Leaks are findings here (the unit tests' preset turns leak detection off; this overrides it).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$src/lsan.supp:print_suppressions=0
# 1. Every seed and regression input, once.
"$binary" -runs=0 "${seeds[@]}" >"$work/replay.log" 2>&1 || { tail -40 "$work/replay.log"; echo "FAIL: a committed input of $target fails"; exit 1; }
# 2. Fuzzing.
"$binary" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$@" "$work/new" "${seeds[@]}" >"$work/fuzz.log" 2>&1
rc=$?
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "$work/fuzz.log" | sed "s/^/$target: /"
if [ $rc -ne 0 ]; then
  tail -60 "$work/fuzz.log"
  echo "FAIL: $target found a crash (input kept in $artifacts)"
  exit 1
fi
echo "ok   $target: ${seconds} s without a finding"
