#!/usr/bin/env bash
# `mpirun -np N clinfm prep`: one data set over N processes, identical to one process's.
#  - a MEDS Parquet folder of 5 data files of unequal sizes (`clinfm synth`'s cohort written by
#    tests/data/meds_parquet.py shard), with codes.parquet parents, subject_splits.parquet for a
#    third of the subjects, canaries, and shards of 170 patients so that shards straddle ranks: at
#    1, 2 and 4 ranks the data sets are the same bytes (manifest but its command line, vocab.json,
#    audit.json and audit.md, every shard file), and so are the secret canary files;
#  - one MEDS CSV file (nothing to split: rank 0 imports it, all ranks share the later passes) at 1
#    and 3 ranks: the same bytes;
#  - a truncated Parquet file in the last rank's part: every rank exits 2, the failing rank's
#    error names the file, and neither the output folder nor a temporary folder is left;
#  - --overwrite over 2 ranks replaces the old data set.
# usage: prep_ranks_test.sh CLINFM MPIEXEC [MPIEXEC_FLAGS...]
set -u
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
clinfm=$1
shift
mpiexec=("$@")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

prep() {  # prep NP NAME INPUT [ARGS...]: data set $work/NAME, log $work/NAME.log
  local np=$1 name=$2 input=$3
  shift 3
  local launcher=()
  ((np > 1)) && launcher=("${mpiexec[@]}" -np "$np")
  "${launcher[@]}" "$clinfm" prep --format meds --input "$input" --output "$work/$name" \
    data.salt_file="$work/salt" "$@" >"$work/$name.log" 2>&1
}
same_bytes() {  # same_bytes A B: every file of data set A equals B's (the manifest but its command)
  local a=$work/$1 b=$work/$2 diffs=0
  "$CLINFM_PYTHON" - "$a/manifest.json" "$b/manifest.json" <<'EOF' || diffs=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for m in (a, b):
    m.pop("command")
if a != b:
    print("  manifests differ in:", [k for k in a if a[k] != b.get(k)])
    sys.exit(1)
EOF
  (cd "$a" && find . -type f ! -name manifest.json | sort) >"$work/files-a"
  (cd "$b" && find . -type f ! -name manifest.json | sort) >"$work/files-b"
  cmp -s "$work/files-a" "$work/files-b" || { echo "  file lists differ"; diffs=1; }
  while read -r f; do
    cmp -s "$a/$f" "$b/$f" || { echo "  $f differs"; diffs=1; }
  done <"$work/files-a"
  return $diffs
}

"$clinfm" synth --patients 3000 --out "$work/cohort.csv" >"$work/synth.log" 2>&1 || { cat "$work/synth.log"; exit 1; }
"$CLINFM_PYTHON" "$here/meds_parquet.py" shard "$work/cohort.csv" "$work/meds" 5 || { echo "FAIL: fixture"; exit 1; }

settings=(data.shard_patients=170 data.canaries=20 data.canary_copies=2)
for np in 1 2 4; do
  prep $np "np$np" "$work/meds" "${settings[@]}" data.canary_file="$work/canaries-$np.json" ||
    fail "prep over $np ranks: $(tail -3 "$work/np$np.log")"
done
grep -Eq "events imported by rank 0..3: [1-9][0-9]*, [1-9][0-9]*, [1-9][0-9]*, [1-9][0-9]*$" "$work/np4.log" ||
  fail "each of 4 ranks did not import a part: $(grep "events imported" "$work/np4.log")"
shards=$("$CLINFM_PYTHON" -c "import json,sys; print(len(json.load(open(sys.argv[1]))['shards']))" "$work/np1/manifest.json")
((shards >= 16)) || fail "only $shards shards: none would straddle ranks"
for np in 2 4; do
  same_bytes np1 "np$np" || fail "$np ranks and 1 rank wrote different data sets"
  cmp -s "$work/canaries-1.json" "$work/canaries-$np.json" || fail "$np ranks drew other canaries"
done
ls "$work"/np4/train | grep -q piece && fail "pieces of straddling shards left in the data set"
"$CLINFM_PYTHON" "$here/read_dataset.py" "$work/np4" >"$work/read.log" 2>&1 ||
  fail "the 4-rank data set does not read back with h5py: $(tail -3 "$work/read.log")"

# One CSV file: rank 0 imports, the later passes are shared.
prep 1 csv1 "$work/cohort.csv" data.shard_patients=300 || fail "prep of the CSV: $(tail -3 "$work/csv1.log")"
prep 3 csv3 "$work/cohort.csv" data.shard_patients=300 || fail "prep of the CSV over 3 ranks: $(tail -3 "$work/csv3.log")"
same_bytes csv1 csv3 || fail "the CSV over 3 ranks differs from 1 rank"

# A truncated file in the last rank's part.
cp -r "$work/meds" "$work/bad"
head -c 1000 "$work/meds/data/part-004.parquet" >"$work/bad/data/part-004.parquet"
prep 2 bad-out "$work/bad"
rc=$?
[ $rc -eq 2 ] || fail "a truncated Parquet file on rank 1 exited $rc, not 2"
grep -q "rank 1/2.*part-004.parquet: not a readable Parquet file" "$work/bad-out.log" ||
  fail "rank 1's error does not name the file: $(grep error "$work/bad-out.log" | head -3)"
grep -q "rank 0/2.*prep failed on rank 1" "$work/bad-out.log" || fail "rank 0 does not say which rank failed"
ls -d "$work"/bad-out* 2>/dev/null | grep -v '\.log$' && fail "a failed prep left a folder behind"

# --overwrite over 2 ranks.
prep 2 np1 "$work/meds" --overwrite data.shard_patients=500 ||
  fail "--overwrite over 2 ranks: $(tail -3 "$work/np1.log")"
[ "$("$CLINFM_PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['shards'][0]['patients'])" "$work/np1/manifest.json")" = 500 ] ||
  fail "--overwrite did not replace the data set"
ls -d "$work"/np1.* 2>/dev/null | grep -v '\.log$' && fail "--overwrite left the old data set or a temporary folder"

if ((failures > 0)); then
  echo "$failures failures"
  exit 1
fi
echo "all passed"
