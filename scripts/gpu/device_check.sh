#!/usr/bin/env bash
# The one prepared GPU check of clinfm, for a session that has the device tool. From this repo's root:
#   scripts/gpu/fetch_debs.sh        (here, once: fills .gpu-debs/, ~22 MiB, gitignored)
#   scripts/gpu/pack_binaries.sh     (here, optional: .gpu-bin/clinfm-bin.tar.xz; no build there then)
#   clinfm prep --format delphi ... --output runs/delphi/data   (optional: the Delphi-2M phase)
#   device run: command "bash scripts/gpu/device_check.sh", carry [".gpu-debs", ".gpu-bin",
#               "runs/delphi/data"], timeout_s <= 600
# On the GPU machine (cwd = repo root, $OUT comes back) it runs, each phase timed and bounded so the
# whole stays under CLINFM_CHECK_BUDGET seconds (default 540):
#   1. machine facts (OS, glibc, GPU, torch, nvcc, cmake, ninja);
#   2. unpack .gpu-debs into /tmp/prefix (verified with a CMake project when building there);
#   3. the binaries: the carried ones (checked with ldd and --version), else configure + build
#      (Release, -j16) of clinfm, train_throughput and the GPU/CUDA/NCCL test targets;
#   4. the gpu-labelled tests (ctest -L gpu with a build tree; the same four programs without);
#   5. Delphi-2M's full schedule (configs/delphi-2m.yaml, 5000 steps) on cuda when runs/delphi/data
#      was carried; its best-validation and last checkpoints come back (delphi.tar.part-*) for
#      `clinfm eval` there;
#   6. bench/gpu/train_eager.py and clinfm's train_throughput, base and large at seq 1024, vocabulary
#      16,000, bf16, with the measured bf16 matmul peak, and the clinfm / PyTorch ratio;
#   7. a bf16 run of the base preset on a synthetic cohort that must learn.
# Files under $OUT (8 at most come back): summary.txt, logs.tar.gz (every phase's log, eager.json),
# delphi.tar.part-aa... (at most 5 parts of 15 MiB).
# CLINFM_CHECK_PHASES="tests learn bench delphi" chooses phases 4-7 and their order (the last gets
# what is left of the budget); CLINFM_CHECK_DEVICE=cpu with
# CLINFM_CHECK_SMALL=1 is the dry run of the plumbing on a machine without a GPU.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1
OUT=${OUT:-/tmp/clinfm-device-out}
mkdir -p "$OUT"
budget=${CLINFM_CHECK_BUDGET:-540}
prefix=${CLINFM_GPU_PREFIX_DIR:-/tmp/prefix}
build=${CLINFM_GPU_BUILD_DIR:-/tmp/clinfm-build-gpu}
debs=${CLINFM_GPU_DEBS:-$root/.gpu-debs}
prebuilt=${CLINFM_GPU_PREBUILT:-$root/.gpu-bin/clinfm-bin.tar.xz}
phases=${CLINFM_CHECK_PHASES:-tests learn bench delphi}
device=${CLINFM_CHECK_DEVICE:-cuda}
small=${CLINFM_CHECK_SMALL:-0}
python=${PYTHON:-python3}
logs=$OUT/logs
mkdir -p "$logs"
t0=$(date +%s)
summary=$OUT/summary.txt
: >"$summary"
say() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a "$summary"; }
left() { echo $(( budget - ($(date +%s) - t0) )); }
# bounded LIMIT CMD...: runs CMD with at most LIMIT seconds (SIGTERM, then SIGKILL 20 s later), never
# past the budget.
bounded() {
  local limit=$1; shift
  local l; l=$(left)
  [ "$l" -lt "$limit" ] && limit=$l
  if [ "$limit" -le 5 ]; then say "SKIPPED (budget spent): $*"; return 124; fi
  timeout --kill-after=20 "$limit" "$@"
}
status=0
note() { local rc=$1; shift; if [ "$rc" -eq 0 ]; then say "ok: $*"; else say "FAILED (rc $rc): $*"; status=1; fi; }
finish() {
  tar -czf "$OUT/logs.tar.gz" -C "$OUT" logs 2>/dev/null && rm -rf "$logs"
  say "== done, status $status, $(( $(date +%s) - t0 ))s of ${budget}s"
  exit $status
}

say "== 1. machine"
{
  (. /etc/os-release && echo "os: $PRETTY_NAME")
  echo "glibc: $(getconf GNU_LIBC_VERSION)  kernel: $(uname -r)  cores: $(nproc)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  "$python" -c 'import torch,sys; print("python", sys.version.split()[0], sys.executable, "torch", torch.__version__, "cuda", torch.version.cuda, "cxx11abi", torch._C._GLIBCXX_USE_CXX11_ABI, "cuda available", torch.cuda.is_available())' 2>&1
  echo "nvcc: $(/usr/local/cuda/bin/nvcc --version 2>&1 | tail -2 | head -1)"
  echo "cmake: $(cmake --version 2>&1 | head -1)  ninja: $(ninja --version 2>&1)  g++: $(g++ --version 2>&1 | head -1)"
} 2>&1 | tee -a "$summary"
# LibTorch, cuDNN, cuBLAS and NCCL of the machine's torch package (CUDA 13 wheels keep the NVIDIA
# libraries under nvidia/cu13/lib), before the prefix's: one libnccl.so.2, the one torch loads.
torch_libs=$("$python" - <<'PY' 2>/dev/null
import glob, os, torch
dirs = [os.path.join(os.path.dirname(torch.__file__), "lib")]
try:
    import nvidia
    dirs += sorted(d for p in nvidia.__path__ for d in glob.glob(os.path.join(p, "*", "lib")))
except ImportError:
    pass
print(":".join(dirs))
PY
)
say "torch library path: $torch_libs"

say "== 2. prefix"
bounded 120 scripts/gpu/unpack.sh "$debs" "$prefix" >"$logs/setup.log" 2>&1
note $? "unpack (logs/setup.log)"
tail -2 "$logs/setup.log" | sed 's/^/    /' | tee -a "$summary"
[ -f "$prefix/env.sh" ] || finish
# shellcheck disable=SC1091
source "$prefix/env.sh"
export LD_LIBRARY_PATH=$torch_libs:$LD_LIBRARY_PATH:/usr/local/cuda/lib64

say "== 3. binaries"
bin=$build/bin
carried_ok=0
if [ -f "$prebuilt" ]; then
  mkdir -p "$build"
  if command -v xz >/dev/null; then xz -dc "$prebuilt"; else "$python" -c 'import lzma, shutil, sys
shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$prebuilt"; fi | tar -xf - -C "$build"
  export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$build/lib  # the carried Arrow/Parquet, after the machine's own
  say "carried binaries of commit $(cat "$bin/COMMIT" 2>/dev/null)"
  missing=$(for b in "$bin"/*; do [ -x "$b" ] && ldd "$b" | grep 'not found'; done | sort -u)
  if [ -n "$missing" ]; then
    say "carried binaries miss libraries:"; echo "$missing" | tee -a "$summary"
  elif "$bin/clinfm" --version >"$logs/version.log" 2>&1; then
    carried_ok=1; say "ok: carried binaries load ($(head -1 "$logs/version.log"))"
  else
    say "carried clinfm does not start:"; tail -5 "$logs/version.log" | tee -a "$summary"
  fi
fi
if [ $carried_ok = 0 ]; then
  rm -rf "$build"
  {
    bounded 150 scripts/gpu/verify_prefix.sh "$prefix" &&
    CLINFM_CONFIGURE_ONLY=1 bounded 120 scripts/gpu/configure.sh "$prefix" "$build"
  } >"$logs/build.log" 2>&1
  note $? "verify prefix + configure (logs/build.log)"
  grep '^configure.sh' "$logs/build.log" | tee -a "$summary"
  if [ -f "$build/CMakeCache.txt" ]; then
    all=$(cmake --build "$build" --target help 2>/dev/null | sed -n 's/^\([A-Za-z0-9_]*\): .*/\1/p; s/^\.\.\. \([A-Za-z0-9_]*\).*/\1/p')
    targets=$(printf '%s\n' clinfm train_throughput $(printf '%s\n' $all | grep -Ei 'gpu|cuda|nccl') |
              grep -Fx -f <(printf '%s\n' $all) | sort -u | paste -sd' ')
    say "targets: $targets"
    bounded 420 cmake --build "$build" -j "$(nproc)" $(for t in $targets; do echo --target "$t"; done) \
      >>"$logs/build.log" 2>&1
    note $? "build (logs/build.log)"
    grep -E 'error|FAILED' "$logs/build.log" | head -5 | tee -a "$summary"
  fi
fi
[ -x "$bin/clinfm" ] || { say "FAILED: no clinfm binary"; status=1; finish; }
clinfm=$bin/clinfm
bounded 60 "$clinfm" doctor >"$logs/doctor.log" 2>&1
note $? "clinfm doctor (logs/doctor.log)"
grep -iE 'cuda|gpu|nccl|torch' "$logs/doctor.log" | head -8 | sed 's/^/    /' | tee -a "$summary"

phase_tests() {
  say "== 4. gpu tests"
  if [ -f "$build/CTestTestfile.cmake" ]; then
    bounded 300 ctest --test-dir "$build" -L gpu --output-on-failure --timeout 240 >"$logs/ctest.log" 2>&1
    note $? "ctest -L gpu (logs/ctest.log)"
    grep -E 'tests passed|Passed|Failed|Not Run|Skipped|\*\*\*' "$logs/ctest.log" | tail -15 | tee -a "$summary"
  else
    run_test() {  # run_test NAME LIMIT CMD...
      local name=$1 limit=$2; shift 2
      bounded "$limit" "$@" >"$logs/$name.log" 2>&1
      local rc=$?
      if [ $rc = 77 ]; then say "skipped: $name"; else note $rc "$name (logs/$name.log)"; fi
      grep -E '^\[  (PASSED|FAILED) |^(ok|FAIL|PASS)' "$logs/$name.log" | head -12 | sed 's/^/    /' | tee -a "$summary"
    }
    run_test gpu_cuda_check_macros 60 "$bin/cuda_check_macros"
    run_test gpu_nccl_core 60 mpirun -np 1 "$bin/nccl_core_check"
    run_test gpu_cuda_training 120 "$bin/test_cuda_training"
    CLINFM_PYTHON=$python run_test gpu_train_resume_across_devices 180 \
      bash tests/gpu/train_resume_across_devices.sh "$clinfm" "$root"
  fi
}

phase_delphi() {
  local delphi_data=$root/runs/delphi/data
  [ -f "$delphi_data/manifest.json" ] || { say "skipped Delphi-2M: runs/delphi/data was not carried"; return; }
  say "== 5. Delphi-2M, full schedule on $device"
  local run=/tmp/delphi-2m steps=5000 extra=() resume=() keep
  rm -rf "$run"
  # A run cut short by an earlier call's budget, brought back and carried again: resumed.
  if [ -d "$root/runs/delphi-2m-gpu/checkpoints" ]; then
    cp -r "$root/runs/delphi-2m-gpu" "$run" && resume=(--resume auto)
    say "resuming the carried runs/delphi-2m-gpu ($(ls "$run/checkpoints" | tail -1))"
  fi
  [ "$small" = 1 ] && { steps=20; extra=(train.validation_every=10 checkpoint.every=10 checkpoint.keep_every=10); }
  bounded "${CLINFM_CHECK_DELPHI_S:-300}" "$clinfm" train configs/delphi-2m.yaml data.dataset="$delphi_data" \
    run.out_dir="$run" run.device="$device" run.threads=8 train.max_steps=$steps checkpoint.every=250 \
    checkpoint.keep_every=250 "${extra[@]}" "${resume[@]}" >"$logs/delphi.log" 2>&1
  note $? "clinfm train configs/delphi-2m.yaml (logs/delphi.log)"
  grep -E '^.*(valid |step +(1000|2500|5000)/|preemption)' "$logs/delphi.log" | cut -c1-170 | tail -25 | tee -a "$summary"
  # The best-validation checkpoint (what Delphi's train.py keeps) and the last one, with the run's files.
  keep=$("$python" - "$run" <<'PY'
import json, os, sys
run = sys.argv[1]
have = {int(d.split("-")[1]) for d in os.listdir(os.path.join(run, "checkpoints")) if d.startswith("step-")}
rows = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl")) if "validation_loss" in l]
best = min((r for r in rows if int(r["step"]) in have), key=lambda r: r["validation_loss"], default=None)
keep = {max(have)} | ({int(best["step"])} if best else set())
print(" ".join(f"checkpoints/step-{s:08d}" for s in sorted(keep)))
PY
  )
  if [ -n "$keep" ]; then
    say "delphi checkpoints kept: $keep"
    (cd "$run" && tar -cf - $(find . -path ./checkpoints -prune -o -type f -print) $keep) |
      split -b 15M -a 2 - "$OUT/delphi.tar.part-"
    ls -l "$OUT"/delphi.tar.part-* | awk '{print "    " $5, $9}' | tee -a "$summary"
  else
    say "FAILED: no Delphi checkpoint to bring back"; status=1
  fi
}

phase_bench() {
  say "== 6. throughput: eager PyTorch and clinfm"
  bench=(--presets base,large --seq 1024 --batch 16 --steps 20 --warmup 5 --vocab 16000)
  [ "$small" = 1 ] && bench=(--presets tiny --seq 64 --batch 2 --steps 2 --warmup 1 --vocab 200)
  PYTHONUNBUFFERED=1 bounded 150 "$python" bench/gpu/train_eager.py "${bench[@]}" --device "$device" \
    --json-out "$logs/eager.json" >"$logs/eager.log" 2>&1
  note $? "train_eager.py (logs/eager.log)"
  grep -E '^(torch|\|)' "$logs/eager.log" | tee -a "$summary"
  : >"$logs/clinfm_bench.log"
  presets=(base large) args=(--batch 16 --seq 1024 --steps 20 --warmup 5 --vocab 16000 --precision bf16)
  [ "$small" = 1 ] && { presets=(tiny); args=(--batch 2 --seq 64 --steps 2 --warmup 1 --vocab 200); }
  for preset in "${presets[@]}"; do
    bounded 120 "$bin/train_throughput" --preset "$preset" "${args[@]}" --device "$device" \
      >>"$logs/clinfm_bench.log" 2>&1
    note $? "train_throughput $preset (logs/clinfm_bench.log)"
  done
  "$python" - "$logs/clinfm_bench.log" "$logs/eager.json" <<'PY' 2>&1 | tee -a "$summary"
import json, sys
c = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        d = json.loads(line); c[d["preset"]] = d
e = {r["preset"]: r for r in json.load(open(sys.argv[2]))["rows"]}
print("| preset | clinfm tok/s | pytorch tok/s | ratio | clinfm MFU | pytorch MFU |")
print("|---|---|---|---|---|---|")
for p in sorted(set(c) & set(e)):
    mfu = e[p]["flops_per_token"] * c[p]["tokens_per_s"] / (e[p]["peak_tflops"] * 1e12)
    print(f"| {p} | {c[p]['tokens_per_s']:.0f} | {e[p]['tokens_per_s']:.0f} | "
          f"{c[p]['tokens_per_s'] / e[p]['tokens_per_s']:.2f}x | {100 * mfu:.1f}% | {100 * e[p]['mfu']:.1f}% |")
PY
}

phase_learn() {
  say "== 7. bf16 base preset on a synthetic cohort: must learn"
  work=/tmp/learn
  rm -rf "$work" && mkdir -p "$work" && printf 'device check salt' >"$work/salt"
  patients=4000 train=(model.preset=base data.seq_len=512 train.global_batch_size=32 train.micro_batch_size=32
    train.max_steps=300 train.validation_every=100 optim.warmup_steps=30 train.precision=bf16)
  [ "$small" = 1 ] && { patients=300; train=(model.preset=tiny data.seq_len=64 train.global_batch_size=4
    train.micro_batch_size=4 train.max_steps=20 train.validation_every=10); }
  {
    "$clinfm" synth --patients $patients --seed 3 --out "$work/cohort.csv.gz" &&
    "$clinfm" prep --format meds --input "$work/cohort.csv.gz" --output "$work/ds" data.salt_file="$work/salt" &&
    bounded 150 "$clinfm" train configs/quickstart.yaml data.dataset="$work/ds" run.out_dir="$work/run" \
      data.canaries=0 checkpoint.every=0 run.device="$device" run.threads=8 "${train[@]}"
  } >"$logs/learn.log" 2>&1
  note $? "synth + prep + train (logs/learn.log)"
  grep -E 'valid |on cuda|step +(10|100|200|300)/' "$logs/learn.log" | cut -c1-170 | tee -a "$summary"
  "$python" - "$work/run/metrics.jsonl" <<'PY' 2>&1 | tee -a "$summary"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
train = [r for r in rows if "loss" in r and "validation_loss" not in r]
val = [r for r in rows if "validation_loss" in r]
first, last = train[0]["token_loss"], val[-1]["validation_token_loss"]
unigram = val[-1]["validation_unigram_token_loss"]
ok = last < unigram - 0.1 and last < first - 1.0
print(f"learn: first step token loss {first:.3f}, last tuning token loss {last:.3f}, unigram {unigram:.3f}: "
      f"{'LEARNS' if ok else 'DOES NOT LEARN'}")
sys.exit(0 if ok else 1)
PY
  note $? "the bf16 run learns"
  # More local ranks than GPUs is a clear error (exit 2), not a crash or two ranks on one GPU.
  local gpus
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
  if [ "$device" = cuda ] && [ "$gpus" = 1 ]; then
    bounded 60 mpirun -np 2 "$clinfm" train configs/quickstart.yaml data.dataset="$work/ds"       run.out_dir="$work/two" run.device=cuda >"$logs/two_ranks.log" 2>&1
    local rc=$?
    grep -q "2 ranks on this host but 1 visible GPU" "$logs/two_ranks.log"
    note $(( rc == 2 ? $? : 1 )) "mpirun -np 2 on 1 GPU: exit $rc with the ranks-and-GPUs message (logs/two_ranks.log)"
    grep -m1 "visible GPU" "$logs/two_ranks.log" | cut -c1-200 | tee -a "$summary"
  fi
}

for phase in $phases; do
  case $phase in
    tests|delphi|bench|learn) "phase_$phase" ;;
    *) say "unknown phase '$phase' (CLINFM_CHECK_PHASES: tests delphi bench learn)"; status=1 ;;
  esac
done
finish
