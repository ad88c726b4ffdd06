#!/usr/bin/env bash
# scripts/slurm/train.sbatch without Slurm: a fake `srun` (runs `mpirun -np $SLURM_NTASKS` with the
# command it is given, options dropped) and a fake `scontrol` (records its arguments) come first
# on PATH, and the batch script runs with the variables Slurm would set (SLURM_JOB_ID=4242,
# SLURM_NTASKS=2, SLURM_CPUS_PER_TASK=1, SLURM_SUBMIT_DIR):
#   normal:   trains to the last step on 2 ranks, exit 0, `--resume auto` and run.threads from
#             SLURM_CPUS_PER_TASK reach clinfm, OMP_NUM_THREADS is set, no requeue;
#   USR1:     the preemption signal to the batch script mid-run -> every rank saves a checkpoint
#             of an earlier step than the last and exits 0, the script exits 0 and calls
#             `scontrol requeue 4242`; the requeued job (the script run again, same arguments)
#             resumes from that checkpoint and finishes;
#   TERM:     (scancel) -> checkpoint saved and exit 0, but no requeue;
#   errors:   no config, a missing config, a missing clinfm binary -> exit 2 naming it.
# usage: sbatch_test.sh CLINFM SOURCE_DIR MPIEXEC [MPIEXEC_FLAGS...]
clinfm=$1 src=$2 mpiexec=$3
shift 3
mpiflags=("$@")
source "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
setup_cluster_fixture
sbatch_script=$src/scripts/slurm/train.sbatch

mkdir -p "$work/bin"
cat >"$work/bin/srun" <<EOF
#!/usr/bin/env bash
echo "srun \$*" >>"$work/srun.calls"
while [ \$# -gt 0 ] && [ "\${1#-}" != "\$1" ]; do shift; done
exec "$mpiexec" -np "\$SLURM_NTASKS" ${mpiflags[*]} -x OMP_NUM_THREADS "\$@"
EOF
cat >"$work/bin/scontrol" <<EOF
#!/usr/bin/env bash
echo "\$*" >>"$work/scontrol.calls"
EOF
chmod +x "$work/bin/srun" "$work/bin/scontrol"
export PATH=$work/bin:$PATH CLINFM=$clinfm SLURM_JOB_ID=4242 SLURM_NTASKS=2 SLURM_CPUS_PER_TASK=1 SLURM_SUBMIT_DIR=$src
unset OMP_NUM_THREADS

# --- a normal run
timeout 300 bash "$sbatch_script" configs/quickstart.yaml "${tiny[@]}" train.max_steps=8 run.out_dir="$work/normal" \
  >"$work/normal.log" 2>&1
check "normal run exits 0" test $? -eq 0
check "all 8 steps on 2 ranks" test "$(last_step "$work/normal")" -eq 8
check "2 ranks" has "2 rank(s)" "$work/normal.log"
check "srun got --resume auto and run.threads from SLURM_CPUS_PER_TASK" \
  has "clinfm train configs/quickstart.yaml run.threads=1 .* --resume auto$" "$work/srun.calls"
check "srun asked to end the job when a rank fails" has "^srun --kill-on-bad-exit=1 " "$work/srun.calls"
check "no requeue after a normal end" test ! -e "$work/scontrol.calls"

# --- USR1 (time limit / preemption): checkpoint, exit 0, requeue; the requeued job resumes
steps=120
bash "$sbatch_script" configs/quickstart.yaml "${tiny[@]}" train.max_steps=$steps run.out_dir="$work/pre" \
  >"$work/pre.log" 2>&1 &
job=$!
wait_for_step "$work/pre" 3 $job || { tail -20 "$work/pre.log"; echo "FAIL preempted run did not reach step 3"; exit 1; }
kill -USR1 $job
timeout 120 tail --pid=$job -f /dev/null
wait $job
rc=$?
check "USR1: the batch script exits 0" test $rc -eq 0
check "USR1: the script forwarded it" has "SIGUSR1 received" "$work/pre.log"
check "USR1: the ranks saved a checkpoint and stopped" has "preemption signal .* received: stopped at step" "$work/pre.log"
stopped=$(cat "$work/pre/checkpoints/latest" 2>/dev/null)
stopped_step=$((10#${stopped#step-}))
check "USR1: checkpoint $stopped is before the last step" test -n "$stopped" -a "$stopped_step" -lt $steps
check "USR1: scontrol requeue 4242" has "^requeue 4242$" "$work/scontrol.calls"
check "USR1: no final weights yet" test ! -e "$work/pre/model.pt"
timeout 300 bash "$sbatch_script" configs/quickstart.yaml "${tiny[@]}" train.max_steps=$steps run.out_dir="$work/pre" \
  >"$work/requeued.log" 2>&1
check "requeued job exits 0" test $? -eq 0
check "requeued job resumed from $stopped" has "resumed from .*$stopped at step $stopped_step" "$work/requeued.log"
check "requeued job finished all $steps steps" test "$(last_step "$work/pre")" -eq $steps
check "metrics.jsonl holds each step once" test "$(grep -c '"loss"' "$work/pre/metrics.jsonl")" -eq $steps
check "requeued job did not requeue again" test "$(grep -c requeue "$work/scontrol.calls")" -eq 1

# --- TERM (scancel): checkpoint and exit 0, no requeue
bash "$sbatch_script" configs/quickstart.yaml "${tiny[@]}" train.max_steps=$steps run.out_dir="$work/term" \
  >"$work/term.log" 2>&1 &
job=$!
wait_for_step "$work/term" 3 $job || { tail -20 "$work/term.log"; echo "FAIL TERM run did not reach step 3"; exit 1; }
kill -TERM $job
timeout 120 tail --pid=$job -f /dev/null
wait $job
check "TERM: exit 0" test $? -eq 0
check "TERM: checkpoint saved" has "preemption signal .* received: stopped at step" "$work/term.log"
check "TERM: not requeued" test "$(grep -c requeue "$work/scontrol.calls")" -eq 1

# --- errors
bash "$sbatch_script" >"$work/e1.log" 2>&1
check "no config: exit 2" test $? -eq 2
check "no config: says so" has "no config" "$work/e1.log"
bash "$sbatch_script" "$work/none.yaml" >"$work/e2.log" 2>&1
check "missing config: exit 2" test $? -eq 2
check "missing config: named" has "config '$work/none.yaml' not found" "$work/e2.log"
CLINFM=$work/no-clinfm bash "$sbatch_script" configs/quickstart.yaml >"$work/e3.log" 2>&1
check "missing clinfm: exit 2" test $? -eq 2
check "missing clinfm: named" has "clinfm binary '$work/no-clinfm' not found" "$work/e3.log"
finish
