#!/usr/bin/env bash
# A fuzzing campaign (issue #19): each libFuzzer target of tests/fuzz runs until 1,000,000
# executions or SECONDS (default 600), two at a time, from the committed seeds, under ASan +
# UBSan + leak detection. Prints a table: executions, time, exec/s, coverage, corpus and the
# verdict. Crash inputs are kept in OUT/<target>/ (default /tmp/clinfm-fuzz-campaign).
# usage: bench/fuzz_campaign.sh [SECONDS] [TARGET...]   (after: cmake --preset fuzz && cmake --build --preset fuzz)
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(config csv time import suite shard)
out=${OUT:-/tmp/clinfm-fuzz-campaign}
mkdir -p "$out"
run() {
  local target=$1
  CLINFM_FUZZ_ARTIFACTS="$out/$target" bash "$root/tests/fuzz/run_fuzz.sh" "$root/build/fuzz/tests/fuzz/fuzz_$target" \
    "$root/tests/fuzz" "$target" "$seconds" -runs=1000000 >"$out/$target.log" 2>&1
  echo $? >"$out/$target.rc"
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" &
  [ $((i + 1)) -lt ${#targets[@]} ] && run "${targets[i + 1]}" &
  wait
done
printf '| %-7s | %10s | %6s | %8s | %6s | %9s | %-8s |\n' target executions "time s" "exec/s" cov corpus verdict
printf '| %-7s | %10s | %6s | %8s | %6s | %9s | %-8s |\n' ------- ---------- ------ -------- ------ --------- --------
for target in "${targets[@]}"; do
  log=$out/$target.log
  execs=$(grep -o 'number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  done_line=$(grep -E '#[0-9]+.*DONE' "$log" | tail -1)
  cov=$(echo "$done_line" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
  corp=$(echo "$done_line" | grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' | cut -d' ' -f2)
  rate=$(echo "$done_line" | grep -o 'exec/s: [0-9]*' | grep -o '[0-9]*')
  secs=$(( ${execs:-0} / (${rate:-1} > 0 ? ${rate:-1} : 1) ))
  verdict=$([ "$(cat "$out/$target.rc")" = 0 ] && echo clean || echo FINDING)
  printf '| %-7s | %10s | %6s | %8s | %6s | %9s | %-8s |\n' "$target" "${execs:-?}" "$secs" "${rate:-?}" "${cov:-?}" \
    "${corp:-?}" "$verdict"
done
