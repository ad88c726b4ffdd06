#!/usr/bin/env bash
# Clean-build time of clinfm on this machine: configure + build from scratch into a temporary
# folder, with and without the tests, and prints a table. Usage: bench/build_time.sh [JOBS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${1:-$(nproc --all)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
measure() {  # measure LABEL CMAKE_ARGS...
  local label=$1; shift
  local dir="$tmp/$label" start end
  start=$(date +%s%N)
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  end=$(date +%s%N)
  printf '| %-28s | %8s |\n' "$label" "$(awk -v ns=$((end - start)) 'BEGIN{printf "%.1f", ns/1e9}')"
}
echo "clean build of clinfm, $jobs jobs, $(nproc --all) cores, $(lscpu | sed -n 's/^Model name: *//p')"
echo "| build                        | wall (s) |"
echo "| ---------------------------- | -------: |"
measure "libraries+clinfm (no tests)" -DCLINFM_BUILD_TESTS=OFF
measure "everything (with tests)" -DCLINFM_BUILD_TESTS=ON
