#!/usr/bin/env bash
# Checkpoint save bandwidth and the training stall of asynchronous saving, on one rank:
# trains PRESET (default small, ~25M parameters: ~0.3 GB of checkpoint) for 12 steps with a
# checkpoint every 4 steps (far enough apart that an asynchronous write ends before the next), once synchronous and once asynchronous, and reads the stall of each
# save (checkpoint_stall_ms in metrics.jsonl: the whole write when synchronous, the state copy
# when asynchronous) and the bytes written. The peer: `dd` of the same number of bytes with
# fsync into the same folder, so both are measured on the same disk in the same run.
#   bench/checkpoint_bench.sh [CLINFM=build/release/bin/clinfm] [PRESET=small] [DIR=a folder on the disk to test]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLINFM_PYTHON=${CLINFM_PYTHON:-$root/.venv/bin/python}  # the project's Python (scripts/setup.sh)
clinfm=${1:-$root/build/release/bin/clinfm}
preset=${2:-small}
work=$(mktemp -d "${3:-${TMPDIR:-/tmp}}/clinfm-ckbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1
printf 'clinfm checkpoint bench salt' >"$work/salt"
"$clinfm" synth --patients 1000 --seed 3 --out "$work/cohort.csv.gz" >/dev/null 2>&1
"$clinfm" prep --format meds --input "$work/cohort.csv.gz" --output "$work/ds" data.salt_file="$work/salt" >/dev/null 2>&1
cd "$root"
echo "checkpoint save, preset $preset, 1 rank, $(nproc --all) cores, $(lscpu | sed -n 's/^Model name: *//p')"
echo "disk: $(df -h "$work" | awk 'NR==2 {print $1, $2, "total,", $4, "free, mounted on", $6}')"
bytes=0
dd_times=()
# dd of the checkpoint's bytes with fsync, timed right after each run and once more (these
# machines drift in speed within minutes: the ratio uses the median of the three).
dd_once() {
  local start
  start=$(date +%s%N)
  dd if=/dev/zero of="$work/dd.bin" bs=1M count=$((bytes / 1048576 + 1)) conv=fsync status=none
  dd_times+=("$(( $(date +%s%N) - start ))")
  rm -f "$work/dd.bin"
}
for mode in sync async; do
  async=false
  [ $mode = async ] && async=true
  "$clinfm" train configs/quickstart.yaml data.dataset="$work/ds" run.out_dir="$work/run-$mode" model.preset="$preset" \
    data.seq_len=64 train.max_steps=12 train.global_batch_size=4 train.micro_batch_size=4 train.validation_every=0 \
    run.threads=2 train.peak_tflops=1 log.every=100 checkpoint.every=4 checkpoint.keep_last=5 \
    checkpoint.async=$async >"$work/log-$mode" 2>&1 || { cat "$work/log-$mode"; exit 1; }
  [ $mode = sync ] && bytes=$(du -sb "$work/run-sync/checkpoints/step-00000004" | cut -f1)
  dd_once
done
dd_once
dd_s=$(printf '%s\n' "${dd_times[@]}" | sort -n | sed -n 2p)e-9  # the median of three
echo "dd times (ms): $(printf '%s\n' "${dd_times[@]}" | awk '{printf "%.0f ", $1 / 1e6}')"
"$CLINFM_PYTHON" - "$work" "$bytes" "$dd_s" <<'PY'
import json, statistics, sys
work, size, dd_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def stalls(mode):
    return [json.loads(l)["checkpoint_stall_ms"] for l in open(f"{work}/run-{mode}/metrics.jsonl")
            if "checkpoint_stall_ms" in l]
def steps(mode):
    return statistics.median(json.loads(l)["step_ms"] for l in open(f"{work}/run-{mode}/metrics.jsonl")
                             if '"step_ms"' in l)
sync, asyn = stalls("sync"), stalls("async")
mb = size / 1e6
sync_ms = statistics.median(sync)
print(f"checkpoint size {mb:.1f} MB; {len(sync)} saves per mode (median shown)")
print(f"| {'what':<34} | {'time (ms)':>10} | {'MB/s':>8} |")
print(f"| {'-' * 34} | {'-' * 10} | {'-' * 8} |")
print(f"| {'clinfm save, synchronous':<34} | {sync_ms:10.1f} | {mb / (sync_ms / 1e3):8.1f} |")
print(f"| {'dd of the same bytes, conv=fsync':<34} | {dd_s * 1e3:10.1f} | {mb / dd_s:8.1f} |")
print(f"| {'clinfm stall, asynchronous':<34} | {statistics.median(asyn):10.1f} | {'':>8} |")
print(f"| {'training step (median)':<34} | {steps('async'):10.1f} | {'':>8} |")
print(f"clinfm synchronous save at {100 * (mb / (sync_ms / 1e3)) / (mb / dd_s):.0f}% of dd's bandwidth; "
      f"asynchronous stall {100 * statistics.median(asyn) / sync_ms:.1f}% of a synchronous save")
PY
