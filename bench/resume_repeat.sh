#!/usr/bin/env bash
# The kill -9 resume test repeated: ROUNDS (default 20) 2-rank runs, each with rank 1 killed by
# SIGKILL at a random step and resumed with --resume auto, and how many ended bitwise identical
# to the uninterrupted run (the CI test, tests/mpi/resume_kill9.sh, does 3).
#   bench/resume_repeat.sh [ROUNDS=20] [CLINFM=build/release/bin/clinfm]
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
flags=(--oversubscribe)
[ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
ROUNDS=${1:-20} bash "$root/tests/mpi/resume_kill9.sh" "${2:-$root/build/release/bin/clinfm}" "$root" mpirun "${flags[@]}" \
  | grep -E "kill points|killed at|identical|passed|FAIL"
