#!/usr/bin/env bash
# Data-parallel training is the same computation on any number of ranks: `tiny` trained for 20
# steps with the same global batch on 1, 2 and 4 ranks (and on 2 ranks without overlap, with
# ZeRO-1 on 2 and 4 ranks, and on 1 rank over MPI with and without ZeRO-1) gives
# the same loss at every step within 1e-5 relative and the same final parameters within 1e-5
# (relative L2 difference of each parameter tensor). The worst single element is printed too:
# summing gradients in another order changes them by an ulp, which AdamW's m/sqrt(v) amplifies
# for elements whose gradients nearly cancel (~1e-5 of the tensor's largest value after 20
# steps); a wrong reduction (a missing bucket, an average instead of a sum) is ~1e-1.
# usage: ddp_equivalence.sh CLINFM SOURCE_DIR MPIEXEC [MPIEXEC_FLAGS...]
set -u
# The project's Python (scripts/setup.sh: .venv with torch, numpy, h5py, scikit-learn); ctest sets it.
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
clinfm=$1 src=$2 mpiexec=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OMP_NUM_THREADS=1

# A fixed salt: the same splits, hence the same data and figures, on every run.
printf 'clinfm ddp equivalence test salt' >"$work/salt"
"$clinfm" synth --patients 400 --seed 11 --out "$work/cohort.csv.gz" >/dev/null 2>&1 || fail "synth"
"$clinfm" prep --format meds --input "$work/cohort.csv.gz" --output "$work/ds" data.salt_file="$work/salt" \
  data.min_patients_per_code=5 >/dev/null 2>&1 || fail "prep"
common=(configs/quickstart.yaml data.dataset="$work/ds" data.seq_len=32 model.n_layers=2 train.max_steps=20
        train.global_batch_size=8 train.micro_batch_size=2 train.validation_every=0 run.threads=1 log.every=10
        optim.lr=3e-3 optim.warmup_steps=5 dist.bucket_mb=0.05 dist.checksum_every=5 train.peak_tflops=1)
cd "$src" || exit 1
run() {  # run NAME NP [overrides...]
  local name=$1 np=$2
  shift 2
  timeout 300 "$mpiexec" -np "$np" "$@" "$clinfm" train "${common[@]}" run.out_dir="$work/$name" "${extra[@]}" \
    >"$work/$name.log" 2>&1 || { cat "$work/$name.log"; fail "training $name"; }
}
extra=(); run np1 1 "$@"
extra=(); run np2 2 "$@"
extra=(); run np4 4 "$@"
extra=(dist.overlap=false); run np2_no_overlap 2 "$@"
extra=(dist.zero1=true); run np2_zero1 2 "$@"
extra=(dist.zero1=true); run np4_zero1 4 "$@"
# dist.backend=mpi is honoured in a world of one (auto would use no communicator there).
extra=(dist.backend=mpi); run np1_mpi 1 "$@"
extra=(dist.backend=mpi dist.zero1=true); run np1_mpi_zero1 1 "$@"
grep -q "on cpu, mpi communicator" "$work/np1_mpi.log" || { grep communicator "$work/np1_mpi.log"; fail "np1_mpi: not over mpi"; }
grep -h "step .*/20" "$work"/np*.log | head -8

$CLINFM_PYTHON - "$work" <<'PY' || fail "runs differ"
import json, sys, torch
work = sys.argv[1]
def losses(name):
    return [json.loads(l)["loss"] for l in open(f"{work}/{name}/metrics.jsonl") if '"loss"' in l]
def params(name):
    return torch.jit.load(f"{work}/{name}/model.pt").state_dict()
ref_losses, ref_params = losses("np1"), params("np1")
assert len(ref_losses) == 20, len(ref_losses)
bad = 0
names = ["np2", "np4", "np2_no_overlap", "np2_zero1", "np4_zero1", "np1_mpi", "np1_mpi_zero1"]
for name in names:
    l = losses(name)
    worst = max(abs(a - b) / abs(a) for a, b in zip(ref_losses, l))
    p = params(name)
    worst_l2 = max(((p[k] - v).norm() / v.norm().clamp_min(1e-12)).item() for k, v in ref_params.items())
    worst_el = max(((p[k] - v).abs().max() / v.abs().max().clamp_min(1e-12)).item() for k, v in ref_params.items())
    ok = len(l) == 20 and worst <= 1e-5 and worst_l2 <= 1e-5
    bad += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}: worst loss difference {worst:.2e} relative; parameters: worst relative "
          f"L2 difference {worst_l2:.2e}, worst element {worst_el:.2e} of its tensor's largest value")
print(f"{len(names) - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
PY
echo PASS
