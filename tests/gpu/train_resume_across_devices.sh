#!/usr/bin/env bash
# Training on a GPU and resuming across device types (label gpu; exits 77 without an NVIDIA GPU):
#   1. bf16 on cuda: runs, logs the device and autocast, finite losses, checkpoints at 3 and 6
#   2. that run resumed on the CPU (run.device=cpu, fp32) to step 9: weights and AdamW moments move
#   3. resumed again on the GPU to step 12 from the CPU-written checkpoint (CUDA stream reseeded)
#   4. fp32 on cuda (TF32 off) for 6 steps, resumed on the CPU to 9, against 9 steps on the CPU
#      alone: the step-9 losses agree to 1e-3 relative (weights and moments moved intact)
#   5. bf16 with dropout on cuda, preempted (SIGTERM) with an asynchronous checkpoint, resumed on
#      the GPU: its losses follow two uninterrupted runs of the same seed
#   6. dist.backend=nccl in a world of one, with and without ZeRO-1: the local communicator's losses
# usage: train_resume_across_devices.sh CLINFM SOURCE_DIR
set -u
clinfm=$1 src=$2
if ! ls /proc/driver/nvidia/gpus/* >/dev/null 2>&1; then
  echo "no NVIDIA GPU on this machine: skipped"
  exit 77
fi
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok   $*"; }
cd "$src" || exit 1
printf 'gpu test salt' >"$work/salt"
"$clinfm" synth --patients 300 --seed 4 --out "$work/cohort.csv.gz" >/dev/null 2>&1 || fail "synth"
"$clinfm" prep --format meds --input "$work/cohort.csv.gz" --output "$work/ds" data.salt_file="$work/salt" \
  data.min_patients_per_code=5 >/dev/null 2>&1 || fail "prep"
common=(configs/quickstart.yaml data.dataset="$work/ds" data.seq_len=64 model.n_layers=2 model.dropout=0
  train.global_batch_size=8 train.micro_batch_size=4 train.validation_every=0 checkpoint.every=3 run.threads=2)
train() {  # train LOG ARGS...: runs, shows the log on failure
  local log=$1; shift
  "$clinfm" train "${common[@]}" "$@" >"$log" 2>&1 || { tail -30 "$log"; fail "train $*"; }
}
loss_at() {  # loss_at RUN STEP
  "$CLINFM_PYTHON" -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if "\"loss\"" in l]
print([r["loss"] for r in rows if r["step"] == int(sys.argv[2])][-1])' "$1" "$2"
}

train "$work/gpu.log" run.out_dir="$work/a" run.device=cuda train.precision=bf16 train.max_steps=6
grep -q "on cuda:0 (bf16 autocast)" "$work/gpu.log" || { cat "$work/gpu.log"; fail "device and autocast not logged"; }
[ -d "$work/a/checkpoints/step-00000006" ] || fail "no step-6 checkpoint"
"$CLINFM_PYTHON" -c 'import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if "\"loss\"" in l]
assert len(rows) == 6 and all(math.isfinite(r["loss"]) for r in rows), rows' "$work/a/metrics.jsonl" \
  || fail "bf16 losses"
ok "bf16 on cuda: 6 finite steps, checkpoints written"

train "$work/to_cpu.log" run.out_dir="$work/a" run.device=cpu train.max_steps=9 --resume auto
grep -q "resumed from .*step-00000006 at step 6" "$work/to_cpu.log" || { cat "$work/to_cpu.log"; fail "CPU resume"; }
ok "a GPU checkpoint resumes on the CPU"

train "$work/to_gpu.log" run.out_dir="$work/a" run.device=cuda train.max_steps=12 --resume auto
grep -q "resumed from .*step-00000009 at step 9" "$work/to_gpu.log" || { cat "$work/to_gpu.log"; fail "GPU resume"; }
grep -q "no CUDA generator state (written on the CPU)" "$work/to_gpu.log" || fail "CUDA reseed not logged"
ok "a CPU checkpoint resumes on the GPU"

train "$work/b.log" run.out_dir="$work/b" run.device=cuda train.tf32=false train.max_steps=6
train "$work/b_cpu.log" run.out_dir="$work/b" run.device=cpu train.max_steps=9 --resume auto
train "$work/c.log" run.out_dir="$work/c" run.device=cpu train.max_steps=9
moved=$(loss_at "$work/b" 9) cpu=$(loss_at "$work/c" 9)
"$CLINFM_PYTHON" -c 'import sys; a, b = map(float, sys.argv[1:]); assert abs(a - b) <= 1e-3 * abs(b), (a, b)' \
  "$moved" "$cpu" || fail "step-9 loss after a GPU-to-CPU resume $moved, on the CPU alone $cpu"
ok "fp32: step-9 loss $moved after GPU 6 + CPU 3 steps, $cpu on the CPU alone"
# 5. GPU to GPU: bf16 with dropout (the CUDA generator matters), an asynchronous checkpoint at a
#    preemption (SIGTERM after step 20 of 120), resumed: against two uninterrupted runs of the same seed.
#    The first resumed step's loss must match the uninterrupted run's within the noise between those
#    two runs (SDPA's backward on CUDA is not bitwise deterministic) plus 1e-3 relative.
gpu=(run.device=cuda train.precision=bf16 model.dropout=0.1 train.max_steps=120 checkpoint.every=0
  checkpoint.async=true log.every=1)
train "$work/r1.log" run.out_dir="$work/r1" "${gpu[@]}"
train "$work/r2.log" run.out_dir="$work/r2" "${gpu[@]}"
"$clinfm" train "${common[@]}" run.out_dir="$work/p" "${gpu[@]}" >"$work/p.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  [ "$(grep -c '"loss"' "$work/p/metrics.jsonl" 2>/dev/null)" -ge 20 ] && break
  sleep 0.05
done
kill -TERM "$pid"
wait "$pid" || { tail -20 "$work/p.log"; fail "preempted GPU run exited non-zero"; }
grep -q "preemption signal" "$work/p.log" || { tail -5 "$work/p.log"; fail "the GPU run was not preempted (ended first?)"; }
train "$work/p2.log" run.out_dir="$work/p" "${gpu[@]}" --resume auto
"$CLINFM_PYTHON" - "$work/r1" "$work/r2" "$work/p" <<'PY' || fail "GPU resume"
import json, sys
def losses(run):
    out = {}
    for line in open(run + "/metrics.jsonl"):
        r = json.loads(line)
        if "loss" in r and "validation_loss" not in r:
            out[int(r["step"])] = r["loss"]  # a resumed run's later line for a step wins
    return out
r1, r2, p = (losses(r) for r in sys.argv[1:])
rel = lambda a, b, steps: max(abs(a[s] - b[s]) / abs(b[s]) for s in steps)
stops = [int(l.split("stopped at step ")[1].split()[0]) for l in open(sys.argv[3] + "/../p.log") if "stopped at step" in l]
k = stops[0]
after = [s for s in range(k + 1, 121)]
noise = rel(r1, r2, range(1, 121))
first, rest = rel(p, r1, [k + 1]), rel(p, r1, after)
print(f"GPU resume at step {k}: first resumed step differs from the uninterrupted run by {first:.2e} relative, "
      f"the rest by at most {rest:.2e}; two uninterrupted runs differ by at most {noise:.2e}"
      f"{' (bitwise equal)' if noise == 0 and rest == 0 else ''}")
assert sorted(p) == list(range(1, 121)), "steps missing after the resume"
assert first <= noise + 1e-3, "first resumed step"
PY
ok "GPU preempted at a step, asynchronous checkpoint, resumed on the GPU: losses follow the uninterrupted run"

# 6. NCCL in a world of one (dist.backend=nccl is honoured there): the gradient buckets on NCCL's
#    stream, and ZeRO-1's reduce-scatter and all-gather, give the local communicator's losses.
nccl=(run.device=cuda train.max_steps=12 checkpoint.every=0 log.every=1 train.tf32=false)
train "$work/l.log" run.out_dir="$work/l" "${nccl[@]}"
train "$work/n.log" run.out_dir="$work/n" "${nccl[@]}" dist.backend=nccl
train "$work/z.log" run.out_dir="$work/z" "${nccl[@]}" dist.backend=nccl dist.zero1=true
grep -q "on cuda:0, nccl" "$work/n.log" || { grep "communicator" "$work/n.log"; fail "dist.backend=nccl not used"; }
"$CLINFM_PYTHON" - "$work/l" "$work/n" "$work/z" <<'PY' || fail "NCCL in a world of one"
import json, sys
def losses(run):
    return {int(r["step"]): r["loss"] for r in map(json.loads, open(run + "/metrics.jsonl"))
            if "loss" in r and "validation_loss" not in r}
local, buckets, zero1 = (losses(r) for r in sys.argv[1:])
for name, other in (("nccl buckets", buckets), ("nccl zero1", zero1)):
    diff = max(abs(other[s] - local[s]) / abs(local[s]) for s in local)
    print(f"{name}: 12 steps, largest relative loss difference to the local communicator {diff:.2e}")
    assert sorted(other) == sorted(local) and diff <= 1e-5, name
PY
ok "NCCL in a world of one: buckets and ZeRO-1 follow the local communicator"

echo "PASS"
