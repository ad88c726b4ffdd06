#!/usr/bin/env bash
# Runs every CPU benchmark of bench/ one after the other and writes bench/RESULTS.md: the
# machine, then one table per area with clinfm, the peer measured in the same run, the ratio and
# the target. It measures nothing itself: the numbers are those the scripts print or write to
# bench/results/*.json (their logs go to bench/results/logs/). Run it on a quiet machine.
#
#   bench/run_all.sh [--quick] [--build DIR] [--out FILE]
#
#   --build DIR  the build with bin/clinfm, bin/train_throughput, bin/allreduce_bench
#                (default build/release; `cmake --build DIR --target clinfm train_throughput allreduce_bench`)
#   --quick      small sizes, only to check this script (skips train_bench.sh, whose sizes are
#                fixed): runs in a scratch copy of bench/ so
#                bench/results/ is untouched, and writes a file marked QUICK (default
#                ${TMPDIR:-/tmp}/clinfm-RESULTS-quick.md, never bench/RESULTS.md)
#   --out FILE   where to write the Markdown (default bench/RESULTS.md, or the quick path)
# Exit 1 when a benchmark failed (its row says so and names its log); the file is still written.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLINFM_PYTHON=${CLINFM_PYTHON:-$root/.venv/bin/python}  # the project's Python (scripts/setup.sh)
build=$root/build/release quick=0 out=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; shift ;;
    --build) build=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_all.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for bin in clinfm train_throughput allreduce_bench; do
  [ -x "$build/bin/$bin" ] || { echo "run_all.sh: no $build/bin/$bin: cmake --build $build --target $bin" >&2; exit 2; }
done

bench_root=$root
if [ $quick = 1 ]; then
  # A scratch tree whose bench/ is a copy: the scripts write bench/results/ under their own root.
  bench_root=$(mktemp -d)
  trap 'rm -rf "$bench_root"' EXIT
  mkdir -p "$bench_root/bench"
  cp "$root"/bench/*.sh "$root"/bench/*.py "$bench_root/bench/"
  for dir in configs tests scripts; do ln -s "$root/$dir" "$bench_root/$dir"; done
  out=${out:-${TMPDIR:-/tmp}/clinfm-RESULTS-quick.md}
else
  out=${out:-$root/bench/RESULTS.md}
fi
results=$bench_root/bench/results
logs=$results/logs
mkdir -p "$logs"
clinfm=$build/bin/clinfm

if [ $quick = 1 ]; then
  prep_patients=3000 allreduce_args=(--max-bytes 1048576 --trials 2 --budget-ms 20)
  overlap_args=(tiny 4) checkpoint_args=(tiny) resume_rounds=1
else
  prep_patients=100000 allreduce_args=() overlap_args=(small 12) checkpoint_args=(small) resume_rounds=20
fi

failed=()
# step NAME CMD...: runs one benchmark, its output to $logs/NAME.log.
step() {
  local name=$1
  shift
  echo "== $name: $*"
  local start=$(date +%s)
  if "$@" >"$logs/$name.log" 2>&1; then
    echo "   done in $(($(date +%s) - start)) s"
  else
    echo "   FAILED after $(($(date +%s) - start)) s: see $logs/$name.log"
    tail -5 "$logs/$name.log" | sed 's/^/   | /'
    failed+=("$name")
  fi
}
b=$bench_root/bench
step prep bash "$b/prep_bench.sh" "$prep_patients" "$clinfm"
if [ $quick = 1 ]; then
  echo "== train: skipped with --quick (train_bench.sh has fixed sizes: ~15 min on 2 busy cores)"
else
  step train bash "$b/train_bench.sh" "$build"
fi
step allreduce bash "$b/allreduce_bench.sh" "$build/bin/allreduce_bench" "${allreduce_args[@]}"
step overlap bash "$b/ddp_overlap_bench.sh" "$clinfm" "${overlap_args[@]}"
step checkpoint bash "$b/checkpoint_bench.sh" "$clinfm" "${checkpoint_args[@]}"
step resume bash "$b/resume_repeat.sh" "$resume_rounds" "$clinfm"

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$root" status --porcelain 2>/dev/null)" ] && commit="$commit (with uncommitted changes)"
export RUN_ALL_QUICK=$quick RUN_ALL_COMMIT=$commit RUN_ALL_FAILED="${failed[*]:-}"
export RUN_ALL_CPU=$(lscpu | sed -n 's/^Model name: *//p')
export RUN_ALL_CORES=$(nproc --all)
export RUN_ALL_MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
export RUN_ALL_OS=$( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || uname -sr)
export RUN_ALL_KERNEL=$(uname -r)
export RUN_ALL_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
"$CLINFM_PYTHON" "$root/bench/results_md.py" "$results" "$root/bench/results/gpu" >"$out.tmp" && mv "$out.tmp" "$out" \
  || { echo "run_all.sh: could not write $out" >&2; exit 1; }
echo "wrote $out"
[ ${#failed[@]} -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
