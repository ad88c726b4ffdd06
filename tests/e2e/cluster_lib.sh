# Shared by the cluster launch tests (sourced): a tiny synthetic data set and the overrides of a
# tiny, quick training run, plus check helpers in the style of the other e2e tests.
# The caller sets: clinfm src mpiexec mpiflags (array), then calls setup_cluster_fixture.
set -u
# The project's Python (scripts/setup.sh: .venv with torch, numpy, h5py, scikit-learn); ctest sets it.
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
export OMP_NUM_THREADS=1
failures=0 checks=0
check() {
  local name=$1
  shift
  checks=$((checks + 1))
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
has() { grep -q -- "$1" "$2" || { echo "  '$1' not in $2:"; sed 's/^/  | /' "$2" | tail -20; return 1; }; }
lacks() { ! grep -q -- "$1" "$2" || { echo "  '$1' unexpectedly in $2"; return 1; }; }
finish() {
  echo "$((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}

# Sets $work (removed at exit), $work/ds and the array $tiny of training overrides.
setup_cluster_fixture() {
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  printf 'clinfm cluster test salt' >"$work/salt"
  "$clinfm" synth --patients 200 --seed 7 --out "$work/cohort.csv.gz" >/dev/null 2>&1 || { echo "FAIL synth"; exit 1; }
  "$clinfm" prep --format meds --input "$work/cohort.csv.gz" --output "$work/ds" data.salt_file="$work/salt" \
    data.min_patients_per_code=5 >/dev/null 2>&1 || { echo "FAIL prep"; exit 1; }
  tiny=(data.dataset="$work/ds" data.seq_len=32 model.n_layers=2 model.d_model=64 model.n_heads=4 model.d_ff=128
        train.global_batch_size=8 train.micro_batch_size=2 train.validation_every=0 log.every=100 optim.warmup_steps=4
        train.peak_tflops=1 checkpoint.every=4 checkpoint.keep_last=2 data.prefetch_batches=2)
  cd "$src" || exit 1
}

# last_step RUN_DIR: the highest training step in the run's metrics.jsonl.
last_step() {
  $CLINFM_PYTHON -c 'import json, sys
steps = [json.loads(l).get("step", 0) for l in open(sys.argv[1]) if "\"loss\"" in l]
print(max(steps) if steps else 0)' "$1/metrics.jsonl" 2>/dev/null || echo 0
}

# wait_for_step RUN_DIR STEP PID: until metrics.jsonl has that step (60 s at most) while PID lives.
wait_for_step() {
  local i
  for i in $(seq 600); do
    grep -q "\"step\": $2," "$1/metrics.jsonl" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
