#!/usr/bin/env bash
# The README's first command: from a clone to a trained model on the built-in synthetic cohort.
# Re-running reuses the build, the cohort and the data set, and resumes training from its last
# checkpoint (a finished run is not trained again), then evaluates the model with the built-in
# suite (configs/eval/synth.yaml) against the cohort's true risks.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${CLINFM_BUILD_DIR:-$root/build/release}
patients=${CLINFM_QUICKSTART_PATIENTS:-5000}
cd "$root"
start=$(date +%s)

echo "== 1/5 install and build (the clinfm executable only; scripts/test.sh builds the rest)"
CLINFM_BUILD_TARGETS=clinfm "$root/scripts/setup.sh"
clinfm="$build_dir/bin/clinfm"
work=runs/quickstart
mkdir -p "$work"

echo "== 2/5 synthetic cohort ($patients patients)"
if [ -s "$work/cohort.csv.gz" ]; then
  echo "reusing $work/cohort.csv.gz"
else
  "$clinfm" synth --patients "$patients" --seed 1 --out "$work/cohort.csv.gz"
fi

echo "== 3/5 prep: de-identified HDF5 data set"
if [ -s "$work/data/manifest.json" ]; then
  echo "reusing $work/data"
else
  "$clinfm" prep --format meds --input "$work/cohort.csv.gz" --output "$work/data" \
    --config configs/quickstart.yaml data.salt_file="$work/salt"
fi
"$clinfm" inspect "$work/data" | head -8

echo "== 4/5 train (configs/quickstart.yaml, 2 MPI ranks, 1 thread each, checkpoints every 100 steps)"
mpi_flags=(--oversubscribe)
[ "$(id -u)" = 0 ] && mpi_flags+=(--allow-run-as-root)
mpirun "${mpi_flags[@]}" -np 2 "$clinfm" train configs/quickstart.yaml run.threads=1 --resume auto

echo "== 5/5 evaluate (configs/eval/synth.yaml: probe, zero-shot and count baseline on held_out; privacy audit)"
canaries=()  # the data set's secret canary file (configs/quickstart.yaml: data.canaries), when prep wrote one
[ -f "$work/data.canaries.json" ] && canaries=(--canaries "$work/data.canaries.json")
"$clinfm" eval configs/eval/synth.yaml --checkpoint "$work" --dataset "$work/data" --out "$work/eval" \
  --truth "$work/cohort.truth.csv" --salt "$work/salt" "${canaries[@]}"

echo
echo "quickstart: done in $(( $(date +%s) - start )) s."
echo "  weights $work/model.pt, checkpoints $work/checkpoints/, metrics $work/metrics.jsonl"
echo "  evaluation report $work/eval/report.html (and report.md, results.json, predictions.csv)"
