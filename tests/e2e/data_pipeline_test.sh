#!/usr/bin/env bash
# The data pipeline as a data engineer runs it: prep a MEDS export, inspect it, decode one
# patient by pseudonymous key, read the shards with h5py (the project's Python), and the
# command-line error paths.
# usage: data_pipeline_test.sh CLINFM SOURCE_DIR
set -u
# The project's Python (scripts/setup.sh: .venv with torch, numpy, h5py, scikit-learn); ctest sets it.
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
clinfm=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 checks=0
check() {
  local name=$1; shift
  checks=$((checks + 1))
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
run() {
  local expected=$1; shift
  "$clinfm" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  [ "$rc" -eq "$expected" ] || { echo "  clinfm $* exited $rc, expected $expected"; sed 's/^/  | /' "$work/out" "$work/err" | head -20; return 1; }
}
has() { grep -q -- "$1" "$2" || { echo "  '$1' not in $2:"; sed 's/^/  | /' "$2" | head -20; return 1; }; }

{
  echo "subject_id,time,code,numeric_value,text_value"
  for i in $(seq 1 60); do
    echo "S$i,19$((40 + i % 50))-02-03 00:00:00,MEDS_BIRTH,,"
    echo "S$i,,GENDER//$([ $((i % 2)) = 0 ] && echo F || echo M),,"
    echo "S$i,2010-01-0$((1 + i % 9)) 09:00:00,LAB//HBA1C//%,$((50 + i % 30))e-1,"
    echo "S$i,2011-06-01 12:00:00,ICD10CM//E11,,free text about S$i"
  done
} >"$work/events.csv"

check "prep" run 0 prep --format meds --input "$work/events.csv" --output "$work/ds" data.salt_file="$work/salt" data.min_patients_per_code=5
check "prep reports splits" has "train .* patients" "$work/err"
check "salt created 0600" test "$(stat -c %a "$work/salt")" = 600
check "audit written" test -s "$work/ds/audit.md"
check "prep again is refused" run 2 prep --format meds --input "$work/events.csv" --output "$work/ds" data.salt_file="$work/salt"
check "refusal names --overwrite" has "pass --overwrite" "$work/err"
check "prep --overwrite" run 0 prep --format meds --input "$work/events.csv" --output "$work/ds" --overwrite data.salt_file="$work/salt" data.min_patients_per_code=5
check "bad config key" run 2 prep --format meds --input "$work/events.csv" --output "$work/ds2" data.value_binz=3
check "bad config key suggestion" has "did you mean 'data.value_bins'" "$work/err"
check "nothing written on a bad key" test ! -e "$work/ds2"

check "inspect" run 0 inspect "$work/ds"
check "inspect shows splits" has "^train " "$work/out"
check "inspect shows top codes" has "ICD10CM//E11" "$work/out"
check "inspect --json" run 0 inspect "$work/ds" --json
patients=$($CLINFM_PYTHON -c "import json,sys; d=json.load(open('$work/out')); print(sum(v['patients'] for v in d['splits'].values()))")
check "60 patients" test "$patients" = 60

key=$($CLINFM_PYTHON -c "
import h5py, json
m = json.load(open('$work/ds/manifest.json'))
with h5py.File('$work/ds/' + m['shards'][0]['file'], 'r') as f: print(f['patients/key'][0].decode())")
check "decode one patient" run 0 inspect "$work/ds" --patient "$key"
check "decoded timeline names the key" has "patient $key" "$work/out"
check "decoded timeline has the lab" has "LAB//HBA1C//%" "$work/out"
check "no raw id, no free text anywhere" bash -c "! grep -rqa -e 'S17,' -e 'free text about' '$work/ds'"
check "unknown key" run 2 inspect "$work/ds" --patient 0000000000000000

check "h5py reads every shard" $CLINFM_PYTHON "$src/tests/data/read_dataset.py" "$work/ds"

# The built-in cohort, prepped from its folder (the truth file beside it is not data).
mkdir -p "$work/synth"
check "synth" run 0 synth --patients 300 --seed 2 --out "$work/synth/cohort.csv.gz"
check "synth wrote the truth file" test -s "$work/synth/cohort.truth.csv"
check "prep the synth folder" run 0 prep --format meds --input "$work/synth" --output "$work/synth-ds" data.salt_file="$work/salt"
check "all 300 patients" bash -c "$clinfm inspect $work/synth-ds --json | $CLINFM_PYTHON -c 'import json,sys; d=json.load(sys.stdin); assert sum(v[\"patients\"] for v in d[\"splits\"].values()) == 300'"
check "h5py reads the synth data set" $CLINFM_PYTHON "$src/tests/data/read_dataset.py" "$work/synth-ds"
# Ctrl-C during prep: exit non-zero, no data set, no temporary folder left behind. The signal
# is sent as soon as prep's temporary folder exists (3M events take seconds to import).
"$clinfm" synth --patients 30000 --seed 3 --out "$work/big.csv.gz" >/dev/null 2>&1
"$clinfm" prep --format meds --input "$work/big.csv.gz" --output "$work/big-ds" data.salt_file="$work/salt" \
  >"$work/int.out" 2>&1 &
prep_pid=$!
for _ in $(seq 1 400); do compgen -G "$work/big-ds.tmp-*" >/dev/null && break; sleep 0.01; done
kill -INT "$prep_pid"
wait "$prep_pid"
rc=$?
check "interrupted prep exits non-zero" test "$rc" -ne 0
check "interrupted prep says so" has "prep was interrupted" "$work/int.out"
check "interrupted prep left no data set" test ! -e "$work/big-ds"
check "interrupted prep left no temporary folder" bash -c "! compgen -G '$work/big-ds.tmp-*' >/dev/null"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
