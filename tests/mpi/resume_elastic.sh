#!/usr/bin/env bash
# Resuming on another number of ranks: a run checkpointed at step 16 on N ranks and resumed on M
# continues the same global sample order; every step's loss stays within 1e-5 relative of the
# uninterrupted run on N ranks (summation order across ranks changes the last bits, hence not
# bitwise). Cases: 2->1, 1->2, 4->2, and ZeRO-1 on 2 -> plain on 1 (the optimizer shards are
# re-cut). Also: the resumed run logs that the random streams were reseeded. And ZeRO-1 on 2
# ranks resumed on 2 (each rank's optimizer shard restored) is bitwise the uninterrupted run.
# usage: resume_elastic.sh CLINFM SOURCE_DIR MPIEXEC [MPIEXEC_FLAGS...]
clinfm=$1 src=$2 mpiexec=$3
shift 3
mpiflags=("$@")
source "$(dirname "${BASH_SOURCE[0]}")/resume_lib.sh"
setup_resume_fixture
passed=0 failed=0
elastic() {  # elastic NAME FROM TO [extra args for the first part...]
  local name=$1 from=$2 to=$3
  shift 3
  train "${name}_ref" "$from" "$@"
  mkdir -p "$work/$name/checkpoints"
  cp -r "$work/${name}_ref/checkpoints/step-00000016" "$work/$name/checkpoints/"
  cp "$work/${name}_ref/metrics.jsonl" "$work/$name/metrics.jsonl"
  train "$name" "$to" --resume auto "${resume_args[@]}"
  if [ "$from" = "$to" ]; then
    if same_weights "${name}_ref" "$name"; then
      echo "ok   $from -> $to ($name): bitwise identical"
      passed=$((passed + 1))
    else
      echo "FAIL $from -> $to ($name): not bitwise identical"
      failed=$((failed + 1))
    fi
    return
  fi
  grep -q "random streams reseeded" "$work/$name.log" || fail "$name: no reseeding message"
  grep -q "resumed from .*step-00000016 at step 16 (128 samples consumed, $from ranks then, $to now)" "$work/$name.log" ||
    fail "$name: resume line"
  if losses_close "${name}_ref" "$name" 1e-5; then
    echo "ok   $from -> $to ($name)"
    passed=$((passed + 1))
  else
    echo "FAIL $from -> $to ($name)"
    failed=$((failed + 1))
  fi
}
resume_args=()
elastic np2_to_np1 2 1
elastic np1_to_np2 1 2
elastic np4_to_np2 4 2
elastic zero1_np2_to_np1 2 1 dist.zero1=true
resume_args=(dist.zero1=true)
elastic zero1_np2_to_np2 2 2 dist.zero1=true
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || fail "elastic resume"
echo PASS
