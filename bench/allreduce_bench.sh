#!/usr/bin/env bash
# All-reduce speed of clinfm's MPI communicator against raw MPI_Allreduce at 2 ranks on this
# machine, 4 KB ... 64 MB; prints the table of bench/allreduce_bench.cpp.
#   bench/allreduce_bench.sh [BINARY=build/release/bin/allreduce_bench] [allreduce_bench flags...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${1:-$root/build/release/bin/allreduce_bench}
shift || true
[ -x "$bin" ] || { echo "no $bin: build first (cmake --preset release && cmake --build build/release)"; exit 1; }
flags=(--oversubscribe)
# OpenMPI refuses to run as root (containers, CI) unless told it is intended.
[ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
echo "$(nproc --all) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(mpirun --version | head -1)"
mpirun "${flags[@]}" -np 2 "$bin" "$@"
