# Shared by the checkpoint/resume tests (sourced): a small fixed data set, a training command
# line and comparisons of finished runs.
# The caller sets: clinfm src mpiexec mpiflags (array) and calls setup_resume_fixture.
set -u
# The project's Python (scripts/setup.sh: .venv with torch, numpy, h5py, scikit-learn); ctest sets it.
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
passed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }

setup_resume_fixture() {
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  printf 'clinfm resume test salt' >"$work/salt"
  "$clinfm" synth --patients 300 --seed 5 --out "$work/cohort.csv.gz" >/dev/null 2>&1 || fail "synth"
  "$clinfm" prep --format meds --input "$work/cohort.csv.gz" --output "$work/ds" data.salt_file="$work/salt" \
    data.min_patients_per_code=5 >/dev/null 2>&1 || fail "prep"
  steps=${steps:-24}
  common=(configs/quickstart.yaml data.dataset="$work/ds" data.seq_len=32 model.n_layers=2 model.d_model=64
          model.n_heads=4 model.d_ff=128 train.max_steps=$steps train.global_batch_size=8 train.micro_batch_size=2
          train.validation_every=0 run.threads=1 log.every=100 optim.lr=3e-3 optim.warmup_steps=4 train.peak_tflops=1
          checkpoint.every=4 checkpoint.keep_last=2 checkpoint.keep_every=8 dist.checksum_every=4
          data.prefetch_batches=2)
  cd "$src" || exit 1
}

# train NAME NP [extra args...]: runs to completion; fails the test when it does not.
train() {
  local name=$1 np=$2
  shift 2
  timeout 300 "$mpiexec" -np "$np" "${mpiflags[@]}" "$clinfm" train "${common[@]}" run.out_dir="$work/$name" "$@" \
    >>"$work/$name.log" 2>&1 || { tail -30 "$work/$name.log"; fail "training $name (np $np)"; }
}

# train_bg NAME NP [extra args...]: starts in the background; sets $bg_pid (mpirun's pid).
train_bg() {
  local name=$1 np=$2
  shift 2
  "$mpiexec" -np "$np" "${mpiflags[@]}" "$clinfm" train "${common[@]}" run.out_dir="$work/$name" "$@" \
    >>"$work/$name.log" 2>&1 &
  bg_pid=$!
}

# wait_for_step NAME STEP: until the run's metrics.jsonl has a line of that step (60 s at most).
wait_for_step() {
  local file=$work/$1/metrics.jsonl i
  for i in $(seq 600); do
    grep -q "\"step\": $2," "$file" 2>/dev/null && return 0
    kill -0 "$bg_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# rank_pid N: the pid of rank N of the background run (a child of mpirun with OMPI_COMM_WORLD_RANK=N).
rank_pid() {
  local pid
  for pid in $(pgrep -P "$bg_pid"); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

# same_weights A B: bitwise-identical parameters (the weights files of two runs).
same_weights() {
  $CLINFM_PYTHON - "$work/$1/model.pt" "$work/$2/model.pt" <<'PY'
import sys, torch
a, b = (torch.jit.load(p).state_dict() for p in sys.argv[1:3])
assert a.keys() == b.keys(), "different parameter names"
diff = [k for k in a if not torch.equal(a[k], b[k])]
worst = max(((a[k] - b[k]).abs().max().item() for k in a), default=0.0)
print(f"{len(a)} tensors, {len(diff)} differ, worst element difference {worst:.3e}")
sys.exit(1 if diff else 0)
PY
}

# losses_close REF OTHER TOL: every step's loss of OTHER within TOL relative of REF's.
losses_close() {
  $CLINFM_PYTHON - "$work/$1/metrics.jsonl" "$work/$2/metrics.jsonl" "$3" "$steps" <<'PY'
import json, sys
def losses(p):
    out = {}
    for line in open(p):
        j = json.loads(line)
        if "loss" in j: out[j["step"]] = j["loss"]
    return out
a, b, tol, steps = losses(sys.argv[1]), losses(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
assert sorted(a) == list(range(1, steps + 1)), f"reference has steps {sorted(a)[:3]}..."
assert sorted(b) == list(range(1, steps + 1)), f"resumed run has steps {sorted(b)}"
worst = max(abs(a[s] - b[s]) / abs(a[s]) for s in a)
print(f"{steps} steps, worst loss difference {worst:.2e} relative (tolerance {tol:g})")
sys.exit(0 if worst <= tol else 1)
PY
}
