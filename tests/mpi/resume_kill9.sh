#!/usr/bin/env bash
# kill -9 and resume: a 2-rank run whose rank 1 is killed with SIGKILL at a random step, then
# restarted with --resume auto, ends with parameters bitwise identical to the uninterrupted run,
# and its per-step losses are the same. Also: after the kill, mpirun (and so every other rank)
# exits non-zero within 60 s. ROUNDS kill points (default 3), printed so a failure can be rerun
# with KILL_STEPS="k1 k2 k3".
# usage: resume_kill9.sh CLINFM SOURCE_DIR MPIEXEC [MPIEXEC_FLAGS...]
clinfm=$1 src=$2 mpiexec=$3
shift 3
mpiflags=("$@")
source "$(dirname "${BASH_SOURCE[0]}")/resume_lib.sh"
setup_resume_fixture

train reference 2
rounds=${ROUNDS:-3}
kill_steps=${KILL_STEPS:-$(for i in $(seq "$rounds"); do echo $((RANDOM % (steps - 4) + 2)); done)}
echo "kill points (step reached when rank 1 is killed): $kill_steps"
identical=0 total=0
for k in $kill_steps; do
  total=$((total + 1))
  name=kill$total
  train_bg "$name" 2
  wait_for_step "$name" "$k" || { tail -20 "$work/$name.log"; fail "$name did not reach step $k"; }
  victim=$(rank_pid 1) || fail "no rank 1 under mpirun $bg_pid"
  kill -9 "$victim"
  killed_at=$(date +%s)
  wait "$bg_pid"
  rc=$? waited=$(($(date +%s) - killed_at))
  [ "$rc" -ne 0 ] || fail "$name: mpirun exited 0 after rank 1 was killed"
  [ "$waited" -le 60 ] || fail "$name: the job took $waited s to end after rank 1 was killed"
  resumed_from=$(cat "$work/$name/checkpoints/latest" 2>/dev/null || echo none)
  echo "$name: killed at step >= $k, job ended in ${waited} s (exit $rc); latest checkpoint: $resumed_from"
  train "$name" 2 --resume auto
  if same_weights reference "$name" && losses_close reference "$name" 0; then
    identical=$((identical + 1))
  else
    echo "  $name: NOT identical"
  fi
done
echo "$identical of $total killed-and-resumed runs are bitwise identical to the uninterrupted run"
echo "$identical passed, $((total - identical)) failed"
[ "$identical" -eq "$total" ] || fail "resumed runs differ"
echo PASS
