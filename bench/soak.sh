#!/usr/bin/env bash
# Soak (issue #19): a 2-rank run is interrupted for MINUTES (default 30) by a supervisor that, at
# random intervals, sends SIGTERM (preemption: checkpoint and exit 0) or SIGKILL (lost work) to
# one rank, then restarts the job with --resume auto, until the run reaches its last step. The
# run then must equal an uninterrupted run of the same config: parameters bitwise, every step's
# loss exactly; and leave no stray files (temporary checkpoints, temporary files, the lock) and
# no more checkpoints than keep_last plus the keep_every milestones. Prints a table.
# usage: [SOAK_STEPS=N] bench/soak.sh [MINUTES=30] [CLINFM=build/release/bin/clinfm] [MPIEXEC=mpirun]
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
minutes=${1:-30}
clinfm=${2:-$root/build/release/bin/clinfm}
mpiexec=${3:-mpirun}
src=$root
mpiflags=(--oversubscribe)
[ "$(id -u)" = 0 ] && mpiflags+=(--allow-run-as-root)
source "$root/tests/mpi/resume_lib.sh"
setup_resume_fixture
keep_last=2 every=10
extra=(checkpoint.every=$every checkpoint.keep_last=$keep_last log.every=50 model.dropout=0.1)

# Steps for the run: what an uninterrupted run does in half of the soak (it loses work to every
# SIGKILL and restart: a 30-minute soak measured about half its time lost that way), from the
# time of 200 steps less that of 40 (start-up excluded).
# SOAK_STEPS=N skips the calibration (a calibration under load gives too few steps).
if [ -n "${SOAK_STEPS:-}" ]; then
  per_step_ms=0 steps=$SOAK_STEPS
else
  t0=$(date +%s%N)
  train calibrate40 2 train.max_steps=40 "${extra[@]}"
  t1=$(date +%s%N)
  train calibrate200 2 train.max_steps=200 "${extra[@]}"
  t2=$(date +%s%N)
  per_step_ms=$(( ((t2 - t1) - (t1 - t0)) / 160000000 ))
  per_step_ms=$(( per_step_ms > 1 ? per_step_ms : 1 ))
  steps=$(( minutes * 60 * 1000 / 2 / per_step_ms ))
fi
steps=$(( steps < 200 ? 200 : steps ))
steps=$(( steps / every * every ))
keep_every=$(( steps / 4 / every * every ))  # four milestones kept besides the newest keep_last
extra+=(checkpoint.keep_every=$keep_every)
echo "soak: $minutes min, 2 ranks, $steps steps (~${per_step_ms} ms/step), checkpoint every $every"

soak_start=$(date +%s)
deadline=$(( soak_start + minutes * 60 ))
terms=0 kills=0 restarts=0
name=soak
while :; do
  train_bg "$name" 2 train.max_steps="$steps" "${extra[@]}" --resume auto
  restarts=$((restarts + 1))
  now=$(date +%s)
  if [ "$now" -lt "$deadline" ]; then
    # 3 s to 2 min into this job (shorter for short soaks), one rank gets a signal.
    span=$(( minutes * 60 / 10 ))
    span=$(( span < 20 ? 20 : (span > 120 ? 120 : span) ))
    sleep_s=$(( 3 + RANDOM % span ))
    for _ in $(seq "$sleep_s"); do kill -0 "$bg_pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$bg_pid" 2>/dev/null; then
      rank=$((RANDOM % 2))
      if [ $((RANDOM % 2)) = 0 ]; then sig=TERM; terms=$((terms + 1)); else sig=KILL; kills=$((kills + 1)); fi
      pid=$(rank_pid "$rank") && kill -"$sig" "$pid" 2>/dev/null
      echo "  $(date +%H:%M:%S) SIG$sig to rank $rank after ${sleep_s} s (latest: $(cat "$work/$name/checkpoints/latest" 2>/dev/null || echo none))"
    fi
  fi
  wait "$bg_pid"
  [ -f "$work/$name/model.pt" ] && [ "$(cat "$work/$name/checkpoints/latest" 2>/dev/null)" = "$(printf 'step-%08d' "$steps")" ] && break
  [ "$restarts" -gt 500 ] && fail "no end after 500 restarts"
done
soak_minutes=$(( ($(date +%s) - soak_start + 30) / 60 ))
echo "soak: done after $restarts job(s) in $soak_minutes min: $terms SIGTERM, $kills SIGKILL; now the uninterrupted reference"
# Not the library's train(): its 5-minute timeout is for tests, the reference may take longer.
train_bg reference 2 train.max_steps="$steps" "${extra[@]}"
wait "$bg_pid" || { tail -30 "$work/reference.log"; fail "training reference (np 2)"; }

same=$(same_weights reference "$name" >/dev/null && echo yes || echo NO)
losses=$(losses_close reference "$name" 0 >/dev/null && echo yes || echo NO)
stray=$(cd "$work/$name" && find . \( -name '.tmp-*' -o -name '*.tmp-*' -o -name run.lock \) | tr '\n' ' ')
kept=$(cd "$work/$name/checkpoints" && ls -d step-* | wc -l)
milestones=$(( steps / keep_every ))
allowed=$(( keep_last + milestones ))
printf '| %-42s | %-24s |\n' "what" "result"
printf '| %-42s | %-24s |\n' "------------------------------------------" "------------------------"
printf '| %-42s | %-24s |\n' "interrupted run: minutes, steps" "$soak_minutes min, $steps steps"
printf '| %-42s | %-24s |\n' "jobs (SIGTERM, SIGKILL)" "$restarts ($terms, $kills)"
printf '| %-42s | %-24s |\n' "parameters bitwise equal to uninterrupted" "$same"
printf '| %-42s | %-24s |\n' "every step's loss equal" "$losses"
printf '| %-42s | %-24s |\n' "stray files" "${stray:-none}"
printf '| %-42s | %-24s |\n' "checkpoints kept (allowed)" "$kept ($allowed)"
[ "$same" = yes ] && [ "$losses" = yes ] && [ -z "$stray" ] && [ "$kept" -le "$allowed" ] || fail "soak failed"
echo "soak: PASS"
