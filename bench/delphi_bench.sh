#!/usr/bin/env bash
# Training speed at Delphi-2M's shape (12 layers, 12 heads, d_model 120, batch 128, sequence 48,
# vocabulary 1270, dropout 0.1), one thread each as the issue measured it: clinfm
# (bench/train_throughput, SwiGLU width 320 = Delphi's parameters; and 480 as first measured)
# against bench/delphi_reference.py, Delphi's model and step re-written in Python PyTorch (the
# project's .venv torch 2.11). Adjacent pairs, order alternating, ratio per pair (the machines drift
# by up to 2x within minutes); the table shows the median ratio and its range.
#   bench/delphi_bench.sh [BUILD_DIR=build/release] [ROUNDS=3]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLINFM_PYTHON=${CLINFM_PYTHON:-$root/.venv/bin/python}
build=${1:-$root/build/release}
rounds=${2:-3}
export OMP_NUM_THREADS=1
py="$CLINFM_PYTHON"
field() { $py -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
common=(--batch 128 --seq 48 --steps 5 --warmup 1 --threads 1 --vocab 1270)
reference=("$py" "$root/bench/delphi_reference.py" "${common[@]}")
echo "Delphi-2M shape, 1 thread each, $(lscpu | sed -n 's/^Model name: *//p'), $rounds rounds"
printf '| %-22s | %9s | %9s | %12s | %12s | %7s | %13s |\n' clinfm "params" "Delphi" "clinfm tok/s" "Delphi tok/s" ratio "ratio range"
printf '| %-22s | %9s | %9s | %12s | %12s | %7s | %13s |\n' ---------------------- --------- --------- ------------ ------------ ------- -------------
for d_ff in 320 480; do
  clinfm=("$build/bin/train_throughput" "${common[@]}" --layers 12 --heads 12 --d-model 120 --d-ff "$d_ff" --dropout 0.1)
  cs=() ds=() ratios=()
  for ((round = 0; round < rounds; ++round)); do
    if ((round % 2 == 0)); then c=$("${clinfm[@]}"); d=$("${reference[@]}"); else d=$("${reference[@]}"); c=$("${clinfm[@]}"); fi
    ct=$(field "$c" tokens_per_s_median) dt=$(field "$d" tokens_per_s_median)
    cs+=("$ct") ds+=("$dt") ratios+=("$(awk -v a="$ct" -v b="$dt" 'BEGIN{printf "%.3f", a/b}')")
  done
  sorted=($(printf '%s\n' "${ratios[@]}" | sort -g))
  printf '| %-22s | %8.2fM | %8.2fM | %12.0f | %12.0f | %6.2fx | %5.2f-%5.2fx |\n' "SwiGLU d_ff $d_ff" \
    "$(awk -v n="$(field "$c" parameters)" 'BEGIN{print n/1e6}')" "$(awk -v n="$(field "$d" parameters)" 'BEGIN{print n/1e6}')" \
    "$(median "${cs[@]}")" "$(median "${ds[@]}")" "$(median "${ratios[@]}")" "${sorted[0]}" "${sorted[-1]}"
done
echo "tok/s: median over rounds of each program's median step (5 steps after 1 warm-up); ratio: median of per-round ratios"
