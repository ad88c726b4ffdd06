#!/usr/bin/env bash
# Training throughput on CPU: clinfm (bench/train_throughput.cpp) against an equivalent eager
# Python PyTorch script (bench/train_reference.py, Debian's python3-torch) with the same model,
# batch, sequence length, optimizer and threads, run alternately. Prints a table with tokens/s,
# MFU (clinfm's FLOP count over the measured sgemm peak) and the ratio; goal >= 1.25x for tiny,
# >= 1.0x for small. Writes bench/results/train.json.
#   bench/train_bench.sh [BUILD_DIR=build/release] [THREADS=2]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/release}
threads=${2:-2}
export OMP_NUM_THREADS=$threads
rows=()
echo "training throughput, $threads threads, $(nproc --all) cores, $(lscpu | sed -n 's/^Model name: *//p')"
printf '| %-6s | %6s | %5s | %4s | %12s | %12s | %7s | %6s |\n' preset params batch seq "clinfm tok/s" "torch tok/s" ratio "MFU"
printf '| %-6s | %6s | %5s | %4s | %12s | %12s | %7s | %6s |\n' ------ ------ ----- ---- ------------ ------------ ------- ------
for config in "tiny 16 128 20" "small 8 128 6"; do
  read -r preset batch seq steps <<<"$config"
  args=(--preset "$preset" --batch "$batch" --seq "$seq" --steps "$steps" --warmup 2 --threads "$threads")
  best_c=0 best_p=0 c_json="" 
  for round in 1 2; do  # alternate the two, keep each one's best
    c=$("$build/bin/train_throughput" "${args[@]}")
    p=$(/usr/bin/python3 "$root/bench/train_reference.py" "${args[@]}")
    ct=$(echo "$c" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])')
    pt=$(echo "$p" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])')
    best_c=$(awk -v a="$best_c" -v b="$ct" 'BEGIN{print (b > a) ? b : a}')
    best_p=$(awk -v a="$best_p" -v b="$pt" 'BEGIN{print (b > a) ? b : a}')
    c_json=$c
  done
  params=$(echo "$c_json" | /usr/bin/python3 -c 'import json,sys; print(round(json.load(sys.stdin)["parameters"]/1e6, 1))')M
  mfu=$(echo "$c_json" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(f'{100*d[\"mfu\"]*$best_c/d[\"tokens_per_s\"]:.1f}%')")
  ratio=$(awk -v a="$best_c" -v b="$best_p" 'BEGIN{printf "%.2fx", a/b}')
  printf '| %-6s | %6s | %5s | %4s | %12.0f | %12.0f | %7s | %6s |\n' "$preset" "$params" "$batch" "$seq" "$best_c" "$best_p" "$ratio" "$mfu"
  rows+=("{\"preset\": \"$preset\", \"clinfm_tokens_per_s\": $best_c, \"pytorch_tokens_per_s\": $best_p}")
done
mkdir -p "$root/bench/results"
(IFS=,; echo "[${rows[*]}]") >"$root/bench/results/train.json"
