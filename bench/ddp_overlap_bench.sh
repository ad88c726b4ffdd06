#!/usr/bin/env bash
# Exposed (non-overlapped) gradient communication at 2 ranks, with bucket overlap on and off:
# trains the `small` preset for a few steps on a synthetic cohort and reads comm_wait_ms (time
# spent waiting for gradient all-reduces after backward) and step_ms from metrics.jsonl.
# Goal: exposed communication <= 5% of step time with overlap on.
#   bench/ddp_overlap_bench.sh [CLINFM=build/release/bin/clinfm] [PRESET=small] [STEPS=12]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLINFM_PYTHON=${CLINFM_PYTHON:-$root/.venv/bin/python}  # the project's Python (scripts/setup.sh)
clinfm=${1:-$root/build/release/bin/clinfm}
preset=${2:-small}
steps=${3:-12}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--oversubscribe)
[ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
export OMP_NUM_THREADS=1
printf 'clinfm overlap bench salt' >"$work/salt"
"$clinfm" synth --patients 2000 --seed 3 --out "$work/cohort.csv.gz" >/dev/null 2>&1
"$clinfm" prep --format meds --input "$work/cohort.csv.gz" --output "$work/ds" data.salt_file="$work/salt" >/dev/null 2>&1
cd "$root"
echo "2 ranks x 1 thread, preset $preset, $(nproc --all) cores, $(lscpu | sed -n 's/^Model name: *//p')"
printf '| %-8s | %10s | %15s | %9s | %10s |\n' overlap "step (ms)" "exposed comm (ms)" "exposed %" "buckets MB"
printf '| %-8s | %10s | %15s | %9s | %10s |\n' -------- ---------- --------------- --------- ----------
for overlap in true false; do
  mpirun "${flags[@]}" -np 2 "$clinfm" train configs/quickstart.yaml data.dataset="$work/ds" run.out_dir="$work/run-$overlap" \
    model.preset="$preset" data.seq_len=128 train.max_steps="$steps" train.global_batch_size=8 train.micro_batch_size=4 \
    train.validation_every=0 run.threads=1 dist.overlap="$overlap" train.peak_tflops=1 log.every=100 >"$work/log-$overlap" 2>&1 \
    || { cat "$work/log-$overlap"; exit 1; }
  "$CLINFM_PYTHON" - "$work/run-$overlap/metrics.jsonl" "$overlap" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"step_ms"' in l][2:]  # skip warm-up steps
step = statistics.median(r["step_ms"] for r in rows)
comm = statistics.median(r["comm_wait_ms"] for r in rows)
print(f"| {sys.argv[2]:<8} | {step:10.1f} | {comm:15.2f} | {100 * comm / step:8.2f}% | {25:>10} |")
PY
done
