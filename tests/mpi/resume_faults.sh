#!/usr/bin/env bash
# Faults around checkpoints, each with a real bad input, on 2 ranks:
#   preemption: SIGTERM to rank 1 only -> all ranks save a checkpoint and exit 0; resuming
#               gives the uninterrupted run bitwise
#   damage:     a flipped byte in the newest checkpoint's weights, or a truncated optimizer file
#               -> --resume auto warns, skips it and resumes from the previous one (still bitwise
#               identical at the end); the damaged checkpoint named explicitly -> exit 2
#   write:      an injected ENOSPC while saving step 12 -> non-zero exit naming the failure; step 8
#               intact and still `latest`, no temporary folder left
#   NaN:        NaN losses at steps 5 and 6 -> skipped and counted, the run finishes; 3 NaN steps
#               in a row with max_consecutive_bad_steps=3 -> non-zero exit, checkpoint of step 4 intact
#   config:     resuming with a changed model key and sequence length -> exit 2 listing both;
#               a changed train.max_steps is allowed
# usage: resume_faults.sh CLINFM SOURCE_DIR MPIEXEC [MPIEXEC_FLAGS...]
clinfm=$1 src=$2 mpiexec=$3
shift 3
mpiflags=("$@")
source "$(dirname "${BASH_SOURCE[0]}")/resume_lib.sh"
setup_resume_fixture

train reference 2

# --- preemption: SIGTERM to one rank. Each micro-batch sleeps 50 ms (numbers unchanged), so the
# 15 steps after step 9 take over a second: the signal lands mid-run even on a loaded machine.
CLINFM_FAULT_STEP_DELAY_MS=50 train_bg preempt 2
wait_for_step preempt 9 || fail "preempt did not reach step 9"
kill -TERM "$(rank_pid 1)"
wait "$bg_pid"
rc=$?
[ "$rc" -eq 0 ] || { tail -20 "$work/preempt.log"; fail "SIGTERM: exit $rc, expected 0"; }
grep -q "preemption signal" "$work/preempt.log" || fail "SIGTERM: no preemption message"
stopped=$(cat "$work/preempt/checkpoints/latest")
[ "$stopped" != "step-$(printf %08d "$steps")" ] || fail "SIGTERM came too late to test anything"
train preempt 2 --resume auto
same_weights reference preempt || fail "preempted and resumed run differs"
ok "SIGTERM to rank 1: checkpoint $stopped, exit 0, resumed bitwise identical"

# --- damage: flip one byte of the newest checkpoint's weights; then truncate the next newest
for damage in flip truncate; do
  name=damage_$damage
  train "$name" 2  # keeps steps 20 and 24 (keep_last 2) and 8, 16 (keep_every 8)
  newest="$work/$name/checkpoints/step-00000024"
  [ -d "$newest" ] || fail "$name: no step-00000024"
  if [ $damage = flip ]; then
    $CLINFM_PYTHON -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(0, 2); n = f.tell() // 2; f.seek(n)
b = f.read(1)[0]; f.seek(n); f.write(bytes([b ^ 0xFF]))' "$newest/model.pt"
  else
    truncate -s 100 "$newest/optimizer-rank-00000.pt"
  fi
  "$mpiexec" -np 2 "${mpiflags[@]}" "$clinfm" train "${common[@]}" run.out_dir="$work/$name" --resume "$newest" \
    >"$work/$name.explicit.log" 2>&1
  rc=$?
  [ "$rc" -eq 2 ] || { cat "$work/$name.explicit.log"; fail "$name: explicit damaged checkpoint exit $rc, expected 2"; }
  grep -q "checksum mismatch" "$work/$name.explicit.log" || { cat "$work/$name.explicit.log"; fail "$name: message"; }
  train "$name" 2 --resume auto
  grep -q "step-00000024 is damaged" "$work/$name.log" || fail "$name: no warning about the damaged checkpoint"
  grep -q "resumed from .*step-00000020 at step 20" "$work/$name.log" || fail "$name: did not resume from step 20"
  same_weights reference "$name" || fail "$name: resumed run differs"
  ok "$damage: explicit path exit 2 (checksum mismatch); auto skipped it, resumed from step 20, bitwise identical"
done

# --- write failure while saving step 12 (rank 1 hits ENOSPC)
CLINFM_FAULT_CHECKPOINT_WRITE=12:1 timeout 120 "$mpiexec" -np 2 -x CLINFM_FAULT_CHECKPOINT_WRITE "${mpiflags[@]}" \
  "$clinfm" train "${common[@]}" run.out_dir="$work/enospc" >"$work/enospc.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "write failure: exit 0"
grep -q "checkpoint of step 12 could not be written" "$work/enospc.log" || { cat "$work/enospc.log"; fail "write failure: message"; }
grep -q "No space left on device" "$work/enospc.log" || fail "write failure: the OS error is not named"
[ "$(cat "$work/enospc/checkpoints/latest")" = step-00000008 ] || fail "write failure: latest is not step 8"
[ ! -e "$work/enospc/checkpoints/step-00000012" ] || fail "write failure: a step-12 checkpoint was published"
ls -a "$work/enospc/checkpoints" | grep -q '^\.tmp' && fail "write failure: a temporary folder was left behind"
$CLINFM_PYTHON - "$work/enospc/checkpoints/step-00000008" <<'PY' || fail "write failure: step 8 damaged"
import hashlib, os, sys
d = sys.argv[1]
for line in open(os.path.join(d, "checksums.sha256")):
    h, name = line.split("  ", 1)
    assert hashlib.sha256(open(os.path.join(d, name.strip()), "rb").read()).hexdigest() == h, name
PY
ok "ENOSPC while saving step 12 on rank 1: exit $rc, named; step 8 intact and latest, nothing half-written"

# --- NaN: two bad steps are skipped; three in a row stop the run
CLINFM_FAULT_NAN_STEPS=5,6 train nan 2
skips=$(grep -c '"skipped": 1' "$work/nan/metrics.jsonl")
[ "$skips" -eq 2 ] || fail "NaN: $skips skipped steps in metrics.jsonl, expected 2"
grep -q '"skipped_steps": 2' "$work/nan/metrics.jsonl" || fail "NaN: skipped_steps not counted"
[ -f "$work/nan/model.pt" ] || fail "NaN: run did not finish"
CLINFM_FAULT_NAN_STEPS=5,6,7 timeout 120 "$mpiexec" -np 2 -x CLINFM_FAULT_NAN_STEPS "${mpiflags[@]}" "$clinfm" train \
  "${common[@]}" run.out_dir="$work/nan_stop" train.max_consecutive_bad_steps=3 >"$work/nan_stop.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "NaN stop: exit 0"
grep -q "3 consecutive steps had a NaN/Inf loss" "$work/nan_stop.log" || { cat "$work/nan_stop.log"; fail "NaN stop: message"; }
grep -q "last good checkpoint (step 4) is intact" "$work/nan_stop.log" || fail "NaN stop: hint"
[ "$(cat "$work/nan_stop/checkpoints/latest")" = step-00000004 ] || fail "NaN stop: latest is not step 4"
ok "NaN at steps 5,6: both skipped and counted, run finished; 3 in a row: exit $rc, step 4 intact"

# --- config changes on resume
"$mpiexec" -np 2 "${mpiflags[@]}" "$clinfm" train "${common[@]}" run.out_dir="$work/reference" model.n_layers=3 \
  data.seq_len=48 --resume auto >"$work/refused.log" 2>&1
rc=$?
[ "$rc" -eq 2 ] || { cat "$work/refused.log"; fail "changed model: exit $rc, expected 2"; }
grep -q "model.n_layers: 2 in the checkpoint, 3 now" "$work/refused.log" || { cat "$work/refused.log"; fail "refusal does not list model.n_layers"; }
grep -q "data.seq_len: 32 in the checkpoint, 48 now" "$work/refused.log" || fail "refusal does not list data.seq_len"
train reference 2 train.max_steps=$((steps + 4)) --resume auto
grep -q "resume: train.max_steps changed from $steps to $((steps + 4))" "$work/reference.log" || fail "max_steps change"
ok "changed model.n_layers and data.seq_len refused with exit 2 naming both; train.max_steps extended"

echo "$passed passed, 0 failed"
echo PASS
