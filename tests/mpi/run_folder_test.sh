#!/usr/bin/env bash
# Run-folder safety with whole jobs on 2 ranks (issue #19's first two failures, each of which
# passed silently before):
#   fresh run into a finished run's folder (another model shape) -> exit 2, the old run's files
#       byte-identical; with --overwrite the old run is moved into RUN/previous-*/ intact, the new
#       one trains, retention keeps its own checkpoints and `latest` names one that exists
#   two jobs on one folder -> the second waits run.lock_stale_s, then exits 2 naming the first; the first's metrics.jsonl
#       has every step once, in order; run.lock is gone after the first ends
#   a job killed with -9 leaves its lock -> the requeued job takes it over and resumes
#   ranks that do not see the same run folder (relative run.out_dir, different working
#       folders) -> exit 2 naming the ranks
# usage: run_folder_test.sh CLINFM SOURCE_DIR MPIEXEC [MPIEXEC_FLAGS...]
clinfm=$1 src=$2 mpiexec=$3
shift 3
mpiflags=("$@")
source "$(dirname "${BASH_SOURCE[0]}")/resume_lib.sh"
setup_resume_fixture
fingerprint() { (cd "$work/$1" && find config.yaml metrics.jsonl model.pt checkpoints -type f | sort | xargs sha256sum); }

# --- a fresh run into a finished run's folder
train old 2 model.n_layers=3
before=$(fingerprint old)
timeout 300 "$mpiexec" -np 2 "${mpiflags[@]}" "$clinfm" train "${common[@]}" run.out_dir="$work/old" model.n_layers=2 \
  >"$work/fresh.log" 2>&1
rc=$?
[ "$rc" -eq 2 ] || { tail -20 "$work/fresh.log"; fail "fresh run into a finished run: exit $rc, expected 2"; }
grep -q "holds another run (model.pt and [0-9]* checkpoint folder(s)" "$work/fresh.log" || { cat "$work/fresh.log"; fail "no message naming the old run"; }
grep -q -- "--overwrite" "$work/fresh.log" || fail "the message does not name --overwrite"
[ "$(fingerprint old)" = "$before" ] || fail "the refused run changed the old run's files"
[ ! -e "$work/old/run.lock" ] || fail "the refused run left its lock"
ok "fresh run into a finished run's folder: exit 2, old run byte-identical"

train old 2 model.n_layers=2 --overwrite
previous=$(ls -d "$work"/old/previous-*)
[ "$(fingerprint "old/${previous##*/}")" = "$before" ] || fail "--overwrite: the moved old run differs"
latest=$(cat "$work/old/checkpoints/latest")
[ -f "$work/old/checkpoints/$latest/checksums.sha256" ] || fail "latest names $latest, which does not exist"
kept=$(cd "$work/old/checkpoints" && ls -d step-* | tr '\n' ' ')
[ "$kept" = "step-00000008 step-00000016 step-00000020 step-00000024 " ] || fail "checkpoints after --overwrite: $kept"
grep -q "was moved into $previous" "$work/old.log" || fail "--overwrite did not say where the old run went"
ok "--overwrite: old run intact in ${previous##*/}, new run's checkpoints $kept, latest $latest"

# --- two jobs on one folder
train_bg twice 2 train.max_steps=2000 checkpoint.every=50
wait_for_step twice 3 || { tail -20 "$work/twice.log"; fail "the first job did not start"; }
timeout 300 "$mpiexec" -np 2 "${mpiflags[@]}" "$clinfm" train "${common[@]}" run.out_dir="$work/twice" \
  train.max_steps=2000 checkpoint.every=50 run.lock_stale_s=3 --resume auto >"$work/second.log" 2>&1
rc=$?
kill -0 "$bg_pid" 2>/dev/null || fail "the first job ended before the second was refused: raise its train.max_steps"
wait "$bg_pid"
first_rc=$?
[ "$rc" -eq 2 ] || { tail -20 "$work/second.log"; fail "second job on a busy folder: exit $rc, expected 2"; }
grep -q "is in use by another job (PID [0-9]* on host" "$work/second.log" || { cat "$work/second.log"; fail "no message naming the first job"; }
[ "$first_rc" -eq 0 ] || { tail -20 "$work/twice.log"; fail "the first job failed ($first_rc)"; }
$CLINFM_PYTHON - "$work/twice/metrics.jsonl" <<'PY' || fail "metrics.jsonl of the first job is not one clean run"
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1]) if '"loss"' in l]
assert steps == list(range(1, 2001)), f"{len(steps)} step lines, first {steps[:5]}"
PY
[ ! -e "$work/twice/run.lock" ] || fail "run.lock left after the job ended"
ok "two jobs on one folder: the second exits 2 naming the first; the first's 2000 steps each once"

# --- a job killed with -9 leaves its lock; the requeued job takes it over
train_bg killed 2
wait_for_step killed 6 || fail "the job to kill did not reach step 6"
for rank in 0 1; do kill -9 "$(rank_pid $rank)" 2>/dev/null; done
wait "$bg_pid" 2>/dev/null
[ -e "$work/killed/run.lock" ] || fail "kill -9 left no lock (nothing tested)"
train killed 2 --resume auto
grep -q "taking over the lock of a job that is gone (PID" "$work/killed.log" || fail "no warning about the stale lock"
ok "kill -9 leaves run.lock; the requeued job takes it over with a warning and finishes"

# --- ranks that do not share the run folder
mkdir -p "$work/node-a" "$work/node-b"
args=("$src/${common[0]}" "${common[@]:1}" run.out_dir=relative-run)
timeout 300 "$mpiexec" "${mpiflags[@]}" -np 1 -wdir "$work/node-a" "$clinfm" train "${args[@]}" : \
  -np 1 -wdir "$work/node-b" "$clinfm" train "${args[@]}" >"$work/unshared.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "ranks with different run folders: exit 0"
grep -q "rank(s) 1 do not see the run folder relative-run" "$work/unshared.log" || { cat "$work/unshared.log"; fail "no message naming rank 1"; }
[ ! -e "$work/node-a/relative-run/checkpoints" ] || fail "a checkpoint was written"
ok "ranks without a shared run folder: exit $rc naming rank 1, nothing trained"

# --- damaged shards: training used to run to the end on a shard with 4 KB overwritten, and
# `clinfm inspect` reported nothing for a damaged held_out shard
grep -q "verified earlier in this run" "$work/killed.log" || fail "the resumed run hashed its shards again"
cp -r "$work/ds" "$work/ds-damaged"
shard=$(cd "$work/ds-damaged" && ls train/*.h5 | head -1)
size=$(stat -c %s "$work/ds-damaged/$shard")
dd if=/dev/urandom of="$work/ds-damaged/$shard" bs=4096 count=1 seek=$((size / 8192)) conv=notrunc 2>/dev/null
timeout 300 "$mpiexec" -np 2 "${mpiflags[@]}" "$clinfm" train "${common[@]}" run.out_dir="$work/damaged" \
  data.dataset="$work/ds-damaged" >"$work/damaged.log" 2>&1
rc=$?
[ "$rc" -eq 2 ] || { tail -20 "$work/damaged.log"; fail "training on a damaged shard: exit $rc, expected 2"; }
grep -q "ds-damaged/$shard: SHA-256 differs from the manifest" "$work/damaged.log" || { cat "$work/damaged.log"; fail "the damaged shard is not named"; }
[ ! -e "$work/damaged/checkpoints" ] || fail "a run on a damaged shard wrote checkpoints"
held=$(cd "$work/ds-damaged" && ls held_out/*.h5 | head -1)
cp "$work/ds/$shard" "$work/ds-damaged/$shard"
printf 'X' | dd of="$work/ds-damaged/$held" bs=1 seek=2000 conv=notrunc 2>/dev/null
"$clinfm" inspect "$work/ds-damaged" >"$work/inspect.log" 2>&1
rc=$?
[ "$rc" -eq 2 ] || { cat "$work/inspect.log"; fail "inspect of a damaged held_out shard: exit $rc, expected 2"; }
grep -q "$held: SHA-256 differs" "$work/inspect.log" || { cat "$work/inspect.log"; fail "inspect does not name the shard"; }
"$clinfm" inspect "$work/ds" | grep -q "every one matches the manifest's SHA-256" || fail "inspect of the intact data set"
ok "damaged shards: training exits 2 naming $shard before a step; inspect exits 2 naming $held; a resume does not re-hash"

echo "run folder tests: $passed passed"
