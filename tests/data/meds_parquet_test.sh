#!/usr/bin/env bash
# MEDS Parquet input end to end (fixtures written by tests/data/meds_parquet.py with pyarrow):
#  - a hand-made MEDS data set folder: dataset.json lands in the manifest, subject_splits.parquet
#    decides every split (and --resplit ignores it), extra columns are never read;
#  - the Parquet and the CSV form of the same events, same salt, give identical data sets (every
#    shard dataset and attribute, vocab.json, the audit): the hand-made cohort here, the MIMIC-IV
#    demo's 916k events when ../shared/data is present (skipped, not failed, without it);
#  - every defect of tests/data/meds_parquet.py's bad-* folders exits 2 with an error naming the
#    file and the column or row.
# usage: meds_parquet_test.sh CLINFM SOURCE_DIR
set -u
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
clinfm=$1 src=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
demo=$src/../shared/data/mimic-iv-demo-meds/events.csv.gz
[ -f "$demo" ] || demo=""
"$CLINFM_PYTHON" "$here/meds_parquet.py" fixtures "$work/fx" $demo || { echo "FAIL: fixtures"; exit 1; }
prep() {  # prep NAME INPUT [ARGS...]: data set $work/NAME, log $work/NAME.log, salt shared by all
  local name=$1 input=$2
  shift 2
  "$clinfm" prep --format meds --input "$input" --output "$work/$name" data.salt_file="$work/salt" "$@" \
    >"$work/$name.log" 2>&1
}
json() { "$CLINFM_PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# The hand-made MEDS folder, its own splits: subjects 1-20 train, 21-30 tuning, 31-40 held_out.
if prep hand "$work/fx/hand"; then
  [ "$(json "$work/hand/manifest.json" 'd["splits"]["patients"]')" = "{'held_out': 10, 'train': 20, 'tuning': 10}" ] ||
    fail "subject_splits not honoured: $(json "$work/hand/manifest.json" 'd["splits"]["patients"]')"
  [ "$(json "$work/hand/manifest.json" 'd["source"]["metadata"]["dataset_name"]')" = "hand-made" ] ||
    fail "dataset.json not in the manifest"
  json "$work/hand/manifest.json" 'd["splits"]["assignment"]' | grep -q "export's own split for 40 patients" ||
    fail "manifest does not say the splits came from the export"
  grep -q "subjects in the export's split list without any event (ignored) | 1 |" "$work/hand/audit.md" ||
    fail "subject 99 (listed, no events) not counted"
  grep -q "| events | source_table | dropped | extra column: never read |" "$work/hand/audit.md" ||
    fail "extra column not listed as never read"
  json "$work/hand/vocab.json" '[t["origin"] for t in d["tokens"] if t["code"] == "LOINC/1-1"]' | grep -q "parent" ||
    fail "codes.parquet's parent LOINC/1-1 of the two rare codes is not a token"
  grep -q "codes given a parent by metadata/codes.parquet (its first parent_codes entry) | 3 |" "$work/hand/audit.md" ||
    fail "codes.parquet's parents not counted"
else
  fail "prep of the hand-made MEDS folder: $(tail -3 "$work/hand.log")"
fi

# Parquet and CSV forms of the same events (the data files alone; --resplit does nothing there).
prep hand-plain "$work/fx/hand-plain" || fail "prep of hand-plain: $(tail -3 "$work/hand-plain.log")"
prep hand-csv "$work/fx/hand.csv" || fail "prep of hand.csv: $(tail -3 "$work/hand-csv.log")"
"$CLINFM_PYTHON" "$here/meds_parquet.py" compare "$work/hand-plain" "$work/hand-csv" >"$work/compare.log" ||
  fail "Parquet and CSV forms differ: $(cat "$work/compare.log")"
prep variant "$work/fx/variant" || fail "prep of the variant types: $(tail -3 "$work/variant.log")"
"$CLINFM_PYTHON" "$here/meds_parquet.py" compare "$work/variant" "$work/hand-csv" >"$work/compare-variant.log" ||
  fail "variant types and CSV forms differ: $(cat "$work/compare-variant.log")"
prep hand-ignored "$work/fx/hand" --resplit || fail "prep --resplit: $(tail -3 "$work/hand-ignored.log")"
grep -q "not imported: --resplit" "$work/hand-ignored/audit.md" || fail "--resplit not in the audit"
[ "$(json "$work/hand-ignored/manifest.json" 'd["splits"]["assignment"]')" = "uniform number drawn from the subject key" ] ||
  fail "--resplit: the manifest still names the export's splits"
if [ -n "$demo" ]; then
  prep demo "$work/fx/demo" && prep demo-csv "$demo" || fail "prep of the MIMIC-IV demo: $(tail -3 "$work/demo.log")"
  "$CLINFM_PYTHON" "$here/meds_parquet.py" compare "$work/demo" "$work/demo-csv" >"$work/compare-demo.log" ||
    fail "MIMIC-IV demo: Parquet and CSV forms differ: $(cat "$work/compare-demo.log")"
  echo "MIMIC-IV demo: $(tail -1 "$work/compare-demo.log")"
else
  echo "SKIP (part): ../shared/data/mimic-iv-demo-meds absent: the demo's Parquet/CSV identity not checked"
fi

# Each defect: exit 2, and the message names the file and what is wrong.
expect_error() {  # expect_error FIXTURE FILE_PART MESSAGE_PART [ARGS...]
  local name=$1 file=$2 message=$3
  shift 3
  prep "$name" "$work/fx/$name" "$@"
  local status=$?
  if [ "$status" -ne 2 ]; then
    fail "$name: exit $status, expected 2: $(tail -2 "$work/$name.log")"
  elif ! grep -q -- "$file" "$work/$name.log" || ! grep -q -- "$message" "$work/$name.log"; then
    fail "$name: message lacks '$file' or '$message': $(grep -i error "$work/$name.log")"
  elif [ -e "$work/$name" ]; then
    fail "$name: a data set was left at the output after the error"
  fi
}
expect_error bad-missing-code "shard0/0.parquet" "no column 'code'"
expect_error bad-subject-string "shard0/0.parquet" "column 'subject_id' is string; MEDS needs int64"
expect_error bad-time-string "shard0/0.parquet" "column 'time' is string; MEDS needs timestamp\[us\]"
expect_error bad-time-zone "shard0/0.parquet" "time zone 'America/New_York'"
expect_error bad-unsorted-subjects "shard0/0.parquet" "out of MEDS order: its subject_id is smaller"
expect_error bad-unsorted-times "shard0/0.parquet: row 3" "its time is earlier"
expect_error bad-null-subject "shard0/0.parquet: row 1" "null subject_id"
expect_error bad-subject-uint64 "shard0/0.parquet: row 1" "subject_id is above 9223372036854775807"
expect_error bad-truncated "shard0/0.parquet" "not a readable Parquet file (Invalid: Parquet magic bytes"
expect_error bad-corrupt-pages "shard0/0.parquet: row group 1 of 1 cannot be read" "corrupt"
expect_error bad-not-parquet "data/0.parquet" "not a readable Parquet file"
expect_error bad-split-name "subject_splits.parquet: row 1" "split 'validation' is not one of train, tuning, held_out"
expect_error bad-code-cycle "metadata/codes.parquet" "code 'B//2' has parent 'A//1', which leads back to 'B//2' (a cycle)"
expect_error bad-dataset-json "metadata/dataset.json" "not valid JSON"
# A bad row skipped with --on-bad-row=skip is counted, not fatal.
if prep bad-null-skip "$work/fx/bad-null-subject" --on-bad-row=skip; then
  grep -q "empty subject_id: 1" "$work/bad-null-skip/audit.md" || fail "skipped null subject_id not counted"
else
  fail "--on-bad-row=skip: $(tail -2 "$work/bad-null-skip.log")"
fi

[ "$failures" -eq 0 ] && echo "meds_parquet: all checks passed" || { echo "meds_parquet: $failures failed"; exit 1; }
