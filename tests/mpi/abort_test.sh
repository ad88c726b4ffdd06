#!/usr/bin/env bash
# One rank of a 2-rank job throws while the other waits in MPI_Barrier: the whole job must end
# non-zero within 30 seconds and say which rank failed and why. Also: a bad config under mpirun
# ends every rank with exit 2 before MPI starts.
# usage: abort_test.sh PROBE CLINFM MPIEXEC [MPIEXEC_FLAGS...]
set -u
probe=$1 clinfm=$2 mpiexec=$3
shift 3
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$(date +%s%N)
timeout 120 "$mpiexec" -np 2 "$@" "$probe" 1 >"$work/out" 2>&1
rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
cat "$work/out"
echo "exit code $rc after ${elapsed_ms} ms"
[ "$rc" -ne 0 ] || fail "the job exited 0"
[ "$rc" -ne 124 ] || fail "the job hung until timeout"
[ "$elapsed_ms" -lt 30000 ] || fail "the job took ${elapsed_ms} ms (limit 30 s)"
grep -q "\[rank 1/2\].*error: injected failure on rank 1 of 2" "$work/out" || fail "no error line from rank 1"
grep -q "ending all 2 ranks" "$work/out" || fail "the boundary did not say it ends the job"
grep -q "barrier passed" "$work/out" && fail "rank 0 passed the barrier"

cat >"$work/bad.yaml" <<'YAML'
data:
  dataset: /tmp/none
model:
  n_layer: 2
YAML
timeout 120 "$mpiexec" -np 2 "$@" "$clinfm" train "$work/bad.yaml" >"$work/out2" 2>&1
rc=$?
cat "$work/out2"
[ "$rc" -ne 0 ] || fail "a bad config under mpirun exited 0"
[ "$rc" -ne 124 ] || fail "a bad config under mpirun hung"
grep -q "\[rank 0/2\].*error: invalid configuration" "$work/out2" || fail "rank 0 did not report the config error"
grep -q "\[rank 1/2\].*error: invalid configuration" "$work/out2" || fail "rank 1 did not report the config error"
grep -q "bad.yaml:4:3: error: model.n_layer: unknown key" "$work/out2" || fail "the error does not name file, line and key"
echo "PASS"
