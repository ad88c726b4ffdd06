#!/usr/bin/env bash
# The one prepared GPU check of clinfm, for a session that has the device tool. From this repo's root:
#   scripts/gpu/fetch_debs.sh                      (here, once: fills .gpu-debs/, ~20 MiB, gitignored)
#   device run: command "bash scripts/gpu/device_check.sh", carry [".gpu-debs"], timeout_s 600
# On the GPU machine (cwd = repo root, $OUT comes back) it runs, each phase timed and bounded so the
# whole stays under CLINFM_CHECK_BUDGET seconds (default 540, inside the tool's 600):
#   1. machine facts (OS, glibc, GPU, torch, nvcc, cmake, ninja);
#   2. unpack .gpu-debs into /tmp/prefix, verify the prefix (mpirun, a CMake project);
#   3. bench/gpu/train_eager.py: eager PyTorch base and large at seq 1024, vocabulary 16,000, bf16, with the measured
#      bf16 matmul peak (first: it needs no build, and is the number most worth having);
#   4. configure + build (Release, -j16) only the targets needed: clinfm, train_throughput and the
#      GPU/CUDA/NCCL test targets;
#   5. ctest -L gpu (the compile-check tests included);
#   6. clinfm's own throughput bench on CUDA, if bench/train_throughput.cpp has --device, and the
#      clinfm / PyTorch ratio.
# Files under $OUT (8 at most come back): summary.txt, setup.log, eager.log, eager.json, build.log,
# ctest.log, clinfm_bench.log.
# Dry run on a machine without a GPU (no build): OUT=/tmp/o CLINFM_CHECK_NO_BUILD=1
#   CLINFM_CHECK_EAGER_ARGS="--presets tiny --seq 64 --batch 2 --steps 2 --warmup 1" scripts/gpu/device_check.sh
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 1
OUT=${OUT:-/tmp/clinfm-device-out}
mkdir -p "$OUT"
budget=${CLINFM_CHECK_BUDGET:-540}
prefix=${CLINFM_GPU_PREFIX_DIR:-/tmp/prefix}
build=${CLINFM_GPU_BUILD_DIR:-/tmp/clinfm-build-gpu}
debs=${CLINFM_GPU_DEBS:-$root/.gpu-debs}
t0=$(date +%s)
summary=$OUT/summary.txt
: >"$summary"
say() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a "$summary"; }
left() { echo $(( budget - ($(date +%s) - t0) )); }
# bounded LIMIT CMD...: runs CMD with at most LIMIT seconds, never past the budget.
bounded() {
  local limit=$1; shift
  local l; l=$(left)
  [ "$l" -lt "$limit" ] && limit=$l
  if [ "$limit" -le 5 ]; then say "SKIPPED (budget spent): $*"; return 124; fi
  timeout --kill-after=5 "$limit" "$@"
}
status=0
note() { local rc=$1; shift; if [ "$rc" -eq 0 ]; then say "ok: $*"; else say "FAILED (rc $rc): $*"; status=1; fi; }

say "== 1. machine"
{
  (. /etc/os-release && echo "os: $PRETTY_NAME")
  echo "glibc: $(getconf GNU_LIBC_VERSION)  kernel: $(uname -r)  cores: $(nproc)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  "${PYTHON:-python3}" -c 'import torch,sys; print("python", sys.version.split()[0], sys.executable, "torch", torch.__version__, "cuda", torch.version.cuda, "cxx11abi", torch._C._GLIBCXX_USE_CXX11_ABI, "cuda available", torch.cuda.is_available())' 2>&1
  echo "nvcc: $(/usr/local/cuda/bin/nvcc --version 2>&1 | tail -2 | head -1)"
  echo "cmake: $(cmake --version 2>&1 | head -1)  ninja: $(ninja --version 2>&1)  g++: $(g++ --version 2>&1 | head -1)"
  echo "dpkg-deb: $(command -v dpkg-deb || echo none)  ar: $(command -v ar || echo none)"
} 2>&1 | tee -a "$summary"

say "== 2. prefix"
{
  bounded 120 scripts/gpu/unpack.sh "$debs" "$prefix" &&
  bounded 150 scripts/gpu/verify_prefix.sh "$prefix"
} >"$OUT/setup.log" 2>&1
note $? "unpack + verify_prefix (setup.log)"
tail -4 "$OUT/setup.log" | sed 's/^/    /' | tee -a "$summary"

say "== 3. eager PyTorch bench"
# shellcheck disable=SC2086
PYTHONUNBUFFERED=1 bounded 150 "${PYTHON:-python3}" bench/gpu/train_eager.py \
  ${CLINFM_CHECK_EAGER_ARGS:---presets base,large --seq 1024 --batch 16 --steps 20 --warmup 5 --vocab 16000} \
  --json-out "$OUT/eager.json" >"$OUT/eager.log" 2>&1
note $? "train_eager.py base,large seq 1024 (eager.log, eager.json)"
grep -E '^(torch|\|)' "$OUT/eager.log" | tee -a "$summary"

say "== 4. configure + build"
if [ -f "$prefix/env.sh" ]; then
  CLINFM_CONFIGURE_ONLY=1 bounded 120 scripts/gpu/configure.sh "$prefix" "$build" >"$OUT/build.log" 2>&1
  note $? "configure (build.log)"
  grep '^configure.sh' "$OUT/build.log" | tee -a "$summary"
  targets=${CLINFM_TARGETS:-}
  if [ -z "$targets" ] && [ -f "$build/CMakeCache.txt" ]; then
    all=$(cmake --build "$build" --target help 2>/dev/null | sed -n 's/^\([A-Za-z0-9_]*\): .*/\1/p; s/^\.\.\. \([A-Za-z0-9_]*\).*/\1/p')
    targets=$(printf '%s\n' clinfm train_throughput $(printf '%s\n' $all | grep -Ei 'gpu|cuda|nccl') |
              grep -Fx -f <(printf '%s\n' $all) | sort -u | paste -sd' ')
  fi
  say "targets: $targets"
  [ "${CLINFM_CHECK_NO_BUILD:-0}" = 1 ] && { say "CLINFM_CHECK_NO_BUILD=1: stopping before the build"; exit $status; }
  (source "$prefix/env.sh" && bounded 420 cmake --build "$build" -j "$(nproc)" $(for t in $targets; do echo --target "$t"; done)) \
    >>"$OUT/build.log" 2>&1
  note $? "build (build.log)"
  grep -E 'error|FAILED' "$OUT/build.log" | head -5 | tee -a "$summary"
else
  say "FAILED: no prefix, no build"; status=1
fi

say "== 5. ctest -L gpu"
if [ -f "$build/CTestTestfile.cmake" ]; then
  (source "$prefix/env.sh" && bounded 240 ctest --test-dir "$build" -L gpu --output-on-failure --timeout 200) \
    >"$OUT/ctest.log" 2>&1
  note $? "ctest -L gpu (ctest.log)"
  grep -E 'tests passed|Passed|Failed|Not Run|Skipped|\*\*\*' "$OUT/ctest.log" | tail -15 | tee -a "$summary"
fi

say "== 6. clinfm throughput bench"
bin=$build/bin/train_throughput
if [ -x "$bin" ] && grep -q -- '--device' bench/train_throughput.cpp; then
  : >"$OUT/clinfm_bench.log"
  for preset in base large; do
    (source "$prefix/env.sh" && bounded 120 "$bin" --preset "$preset" --batch 16 --seq 1024 --steps 20 --warmup 5 --vocab 16000 \
      --device cuda --precision bf16) >>"$OUT/clinfm_bench.log" 2>&1
    note $? "train_throughput $preset (clinfm_bench.log)"
  done
  python3 - "$OUT/clinfm_bench.log" "$OUT/eager.json" <<'PY' 2>&1 | tee -a "$summary"
import json, sys
c = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        d = json.loads(line); c[d["preset"]] = d
e = {r["preset"]: r for r in json.load(open(sys.argv[2]))["rows"]}
print("| preset | clinfm tok/s | pytorch tok/s | ratio | clinfm MFU | pytorch MFU |")
print("|---|---|---|---|---|---|")
for p in ("base", "large"):
    if p in c and p in e:
        mfu = e[p]["flops_per_token"] * c[p]["tokens_per_s"] / (e[p]["peak_tflops"] * 1e12)
        print(f"| {p} | {c[p]['tokens_per_s']:.0f} | {e[p]['tokens_per_s']:.0f} | "
              f"{c[p]['tokens_per_s'] / e[p]['tokens_per_s']:.2f}x | {100 * mfu:.1f}% | {100 * e[p]['mfu']:.1f}% |")
PY
else
  say "skipped: $bin missing or bench/train_throughput.cpp has no --device flag (CPU-only bench)"
fi

say "== done, status $status, $(( $(date +%s) - t0 ))s of ${budget}s"
exit $status
