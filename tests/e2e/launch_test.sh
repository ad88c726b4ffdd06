#!/usr/bin/env bash
# scripts/launch.sh (plain mpirun across hosts):
#   - a real 2-rank training from a hostfile `localhost slots=2`, to the last step, then
#     `--resume auto` of the finished run;
#   - what each rank receives, through the real mpirun with a stand-in for clinfm that prints
#     its environment: OMP_NUM_THREADS = the computed threads, run.threads=T with --threads,
#     NCCL_*/CLINFM_* forwarded, the arguments after -- unchanged;
#   - the computed mpirun line (--dry-run): ranks on the busiest host, threads per rank,
#     --bind-to none, --allow-run-as-root only as root, --oversubscribe only when asked;
#   - the errors, each with a real bad input: missing hostfile, empty hostfile, bad --np, more
#     ranks than slots, missing config, no config after --.
# usage: launch_test.sh CLINFM SOURCE_DIR MPIEXEC [MPIEXEC_FLAGS...]
clinfm=$1 src=$2 mpiexec=$3
shift 3
mpiflags=("$@")
source "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
setup_cluster_fixture
launch=$src/scripts/launch.sh
export CLINFM=$clinfm MPIRUN=$mpiexec
printf 'localhost slots=2\n' >"$work/hosts"

# expect_error PATTERN ARGS...: launch.sh exits 2 and says PATTERN.
expect_error() {
  local pattern=$1
  shift
  bash "$launch" "$@" >"$work/err.out" 2>&1
  local rc=$?
  [ $rc -eq 2 ] || { echo "  exit $rc, expected 2"; sed 's/^/  | /' "$work/err.out"; return 1; }
  has "$pattern" "$work/err.out"
}

# --- a real training run on 2 ranks
timeout 300 bash "$launch" --hostfile "$work/hosts" --np 2 -- configs/quickstart.yaml "${tiny[@]}" \
  train.max_steps=8 run.out_dir="$work/run" --resume auto >"$work/train.log" 2>&1
rc=$?
check "2-rank training through launch.sh exits 0" test $rc -eq 0
check "training ran on 2 ranks" has "2 rank(s)" "$work/train.log"
check "launch.sh names its plan" has "2 rank(s) on 1 host(s), at most 2 per host" "$work/train.log"
check "all 8 steps trained" test "$(last_step "$work/run")" -eq 8
check "final weights written" test -s "$work/run/model.pt"
check "final checkpoint published" test "$(cat "$work/run/checkpoints/latest" 2>/dev/null)" = step-00000008
timeout 300 bash "$launch" --hostfile "$work/hosts" --np 2 -- configs/quickstart.yaml "${tiny[@]}" \
  train.max_steps=8 run.out_dir="$work/run" --resume auto >"$work/again.log" 2>&1
check "--resume auto of the finished run exits 0" test $? -eq 0
check "--resume auto reached the launched ranks" has "resumed from .*step-00000008 at step 8" "$work/again.log"

# --- what each rank receives (a stand-in for clinfm, through the real mpirun)
cat >"$work/fake_clinfm" <<'EOF'
#!/usr/bin/env bash
echo "rank=${OMPI_COMM_WORLD_RANK:-?} OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset} NCCL_DEBUG=${NCCL_DEBUG:-unset} CLINFM_MPI_COMM_THREAD=${CLINFM_MPI_COMM_THREAD:-unset} args=$*"
EOF
chmod +x "$work/fake_clinfm"
NCCL_DEBUG=INFO CLINFM_MPI_COMM_THREAD=0 CLINFM=$work/fake_clinfm timeout 60 bash "$launch" --hostfile "$work/hosts" \
  --np 2 --threads 3 --oversubscribe -- configs/quickstart.yaml a.b=1 --resume auto >"$work/env.out" 2>&1
check "stand-in ran on both ranks" test "$(grep -c '^rank=[01] ' "$work/env.out")" -eq 2
check "OMP_NUM_THREADS=--threads on every rank" test "$(grep -c '^rank=[01] OMP_NUM_THREADS=3 ' "$work/env.out")" -eq 2
check "NCCL_* forwarded" test "$(grep -c 'NCCL_DEBUG=INFO ' "$work/env.out")" -eq 2
check "CLINFM_* forwarded" test "$(grep -c 'CLINFM_MPI_COMM_THREAD=0 ' "$work/env.out")" -eq 2
check "arguments: train CONFIG run.threads=T, then the user's" \
  has "args=train configs/quickstart.yaml run.threads=3 a.b=1 --resume auto$" "$work/env.out"
CLINFM=$work/fake_clinfm timeout 60 bash "$launch" --hostfile "$work/hosts" --np 2 --cores-per-host 6 \
  -- configs/quickstart.yaml >"$work/env2.out" 2>&1
check "threads default to cores per host / ranks per host" \
  test "$(grep -c '^rank=[01] OMP_NUM_THREADS=3 .*args=train configs/quickstart.yaml$' "$work/env2.out")" -eq 2

# --- the computed mpirun line
printf '# two hosts\nnode-a slots=2\n\nnode-b slots=2\n' >"$work/two_hosts"
bash "$launch" --hostfile "$work/two_hosts" --np 3 --cores-per-host 8 --dry-run -- configs/quickstart.yaml \
  >"$work/dry.out" 2>&1
check "np 3 on 2x2 slots: 2 on the busiest host, 8/2 threads" has "3 rank(s) on 2 host(s), at most 2 per host, 4 thread(s)" "$work/dry.out"
check "ranks are not bound to one core" has " -np 3 --bind-to none " "$work/dry.out"
check "no --oversubscribe unless asked" lacks "--oversubscribe" "$work/dry.out"
if [ "$(id -u)" = 0 ]; then
  check "--allow-run-as-root as root" has "--allow-run-as-root" "$work/dry.out"
else
  check "no --allow-run-as-root as a user" lacks "--allow-run-as-root" "$work/dry.out"
fi
bash "$launch" --hostfile "$work/two_hosts" --np 6 --cores-per-host 8 --oversubscribe --dry-run \
  -- configs/quickstart.yaml >"$work/over.out" 2>&1
check "np 6 on 4 slots with --oversubscribe: 3 per host, 2 threads" has "at most 3 per host, 2 thread(s)" "$work/over.out"
check "--oversubscribe passed when asked" has " -np 6 .*--oversubscribe .*clinfm train" "$work/over.out"

# --- errors, each with a real bad input
check "missing hostfile" expect_error "hostfile '$work/none' does not exist" --hostfile "$work/none" --np 2 -- configs/quickstart.yaml
: >"$work/empty_hosts"
check "empty hostfile" expect_error "lists no host" --hostfile "$work/empty_hosts" --np 2 -- configs/quickstart.yaml
check "--np 0" expect_error "--np '0' is not a positive integer" --hostfile "$work/hosts" --np 0 -- configs/quickstart.yaml
check "--np two" expect_error "--np 'two' is not a positive integer" --hostfile "$work/hosts" --np two -- configs/quickstart.yaml
check "more ranks than slots" expect_error "--np 3 is more than the 2 slot(s)" --hostfile "$work/hosts" --np 3 -- configs/quickstart.yaml
check "missing config" expect_error "config '$work/none.yaml' does not exist" --hostfile "$work/hosts" --np 2 -- "$work/none.yaml"
check "no config after --" expect_error "no config after --" --hostfile "$work/hosts" --np 2
check "a clinfm option before --" expect_error "unknown option '--resume'" --hostfile "$work/hosts" --np 2 --resume auto
finish
