#!/usr/bin/env bash
# Does each of clinfm's own CPU kernels (models/cpu/) still pay against LibTorch's op? The same
# train_throughput binary twice at once, one thread each, pinned to cores 0 and 1 (swapped every
# round): all kernels on, against one kernel replaced by LibTorch's op (CLINFM_CPU_KERNELS_OFF, or
# --attention sdpa for the attention kernel). Ratio > 1: the kernel is faster than LibTorch's op
# on the whole training step. Prints a table; writes bench/results/cpu_kernels.json.
#   bench/cpu_kernels_bench.sh [BUILD_DIR=build/release] [ROUNDS=4]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/release}
rounds=${2:-4}
bin=$build/bin/train_throughput
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
echo "clinfm CPU kernels against LibTorch's ops, 1 thread each, both at once, $rounds rounds"
printf '| %-9s | %-6s | %6s | %14s | %14s | %7s | %13s |\n' kernel preset vocab "kernel tok/s" "LibTorch tok/s" ratio "ratio range"
printf '| %-9s | %-6s | %6s | %14s | %14s | %7s | %13s |\n' --------- ------ ------ -------------- -------------- ------- -------------
rows=()
for kernel in attention rms_norm token_nll; do  # linear and swiglu: removed (measured 0.98-1.02x)
  for config in "tiny 16 12 36" "tiny 16 12 16000" "small 8 4 36"; do
    read -r preset batch steps vocab <<<"$config"
    args=(--preset "$preset" --batch "$batch" --seq 128 --steps "$steps" --warmup 2 --threads 1 --vocab "$vocab")
    off_args=() off_env=""
    if [ "$kernel" = attention ]; then off_args=(--attention sdpa); else off_env=$kernel; fi
    ons=() offs=() ratios=()
    for ((round = 0; round < rounds; ++round)); do
      a=$((round % 2)) b=$((1 - round % 2))
      OMP_NUM_THREADS=1 taskset -c "$a" "$bin" "${args[@]}" >"$tmp/on.json" &
      pid=$!
      OMP_NUM_THREADS=1 CLINFM_CPU_KERNELS_OFF=$off_env taskset -c "$b" "$bin" "${args[@]}" "${off_args[@]}" >"$tmp/off.json"
      wait "$pid"
      on=$(field "$tmp/on.json" tokens_per_s_median) off=$(field "$tmp/off.json" tokens_per_s_median)
      ons+=("$on") offs+=("$off") ratios+=("$(awk -v a="$on" -v b="$off" 'BEGIN{printf "%.3f", a/b}')")
    done
    r_med=$(median "${ratios[@]}")
    r_min=$(printf '%s\n' "${ratios[@]}" | sort -g | head -1) r_max=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)
    printf '| %-9s | %-6s | %6s | %14.0f | %14.0f | %6.2fx | %5.2f–%5.2fx |\n' "$kernel" "$preset" "$vocab" \
      "$(median "${ons[@]}")" "$(median "${offs[@]}")" "$r_med" "$r_min" "$r_max"
    rows+=("{\"kernel\": \"$kernel\", \"preset\": \"$preset\", \"vocab\": $vocab, \"ratio_median\": $r_med, \"ratio_min\": $r_min, \"ratio_max\": $r_max}")
  done
done
mkdir -p "$root/bench/results"
(IFS=,; echo "[${rows[*]}]") >"$root/bench/results/cpu_kernels.json"
