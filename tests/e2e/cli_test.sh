#!/usr/bin/env bash
# The clinfm command line as a user meets it: help texts, config show/doc, config errors,
# and commands that are not built yet saying so instead of pretending.
# usage: cli_test.sh CLINFM SOURCE_DIR
set -u
clinfm=$1 src=$2
cd "$src" || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 checks=0
check() {  # check NAME CONDITION-COMMAND...
  local name=$1; shift
  checks=$((checks + 1))
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
run() {  # run EXPECTED_RC ARGS... ; output in $work/out, stderr in $work/err
  local expected=$1; shift
  "$clinfm" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ "$rc" -ne "$expected" ]; then
    echo "  clinfm $* exited $rc, expected $expected"; sed 's/^/  | /' "$work/out" "$work/err" | head -30
    return 1
  fi
}
has() { grep -q -- "$1" "$2" || { echo "  '$1' not found in $2:"; sed 's/^/  | /' "$2" | head -30; return 1; }; }

# Help lists every command and every option with its default.
check "help exits 0" run 0 --help
for cmd in prep synth inspect train eval config; do check "help lists $cmd" has "^  $cmd" "$work/out"; done
check "train help" run 0 train --help
check "train help shows --resume default" has "--resume TEXT=none" "$work/out"
check "synth help" run 0 synth --help
check "synth help shows --patients default" has "--patients INT:INT in \[1 - 100000000\]=1000" "$work/out"
check "prep help" run 0 prep --help
check "prep help shows --on-bad-row default" has "--on-bad-row TEXT:{error,skip}=error" "$work/out"
check "version" run 0 --version
check "version text" has "^clinfm [0-9]" "$work/out"
check "unknown command is an error" run 2 frobnicate

# config show: the acceptance example, hash stability and change.
check "config show with override" run 0 config show configs/quickstart.yaml model.n_layers=2
check "override reaches the output" has "^  n_layers: 2$" "$work/out"
check "base value reaches the output" has "^  weight_decay: 0.1$" "$work/out"
hash1=$(grep '^# hash:' "$work/out")
run 0 config show configs/quickstart.yaml model.n_layers=2
hash2=$(grep '^# hash:' "$work/out")
run 0 config show configs/quickstart.yaml model.n_layers=3
hash3=$(grep '^# hash:' "$work/out")
check "hash is 64 hex digits" bash -c "[[ '$hash1' =~ ^#\ hash:\ sha256:[0-9a-f]{64}$ ]]"
check "hash is stable" test "$hash1" = "$hash2"
check "hash changes with a value" test "$hash1" != "$hash3"
check "config show --explain" run 0 config show configs/quickstart.yaml model.n_layers=2 --explain
check "explain names the override" has "n_layers: 2 .*# command line 'model.n_layers=2'" "$work/out"
check "explain names the base file" has "weight_decay: 0.1 .*# configs/base.yaml:" "$work/out"
check "explain names defaults" has "dropout: 0.0 .*# default" "$work/out"

# The resolved config written out is itself a valid config with the same hash.
run 0 config show configs/quickstart.yaml model.n_layers=2
grep -v '^#' "$work/out" >"$work/resolved.yaml"
check "resolved config reloads" run 0 config show "$work/resolved.yaml"
check "reloaded hash is the same" test "$(grep '^# hash:' "$work/out")" = "$hash1"

# Config errors: file, line, column, key and suggestion; exit 2; nothing started.
check "misspelled key fails with 2" run 2 config show tests/e2e/fixtures/misspelled.yaml
check "error names file:line:col and key" has "tests/e2e/fixtures/misspelled.yaml:6:3: error: model.n_layer: unknown key" "$work/err"
check "error suggests the key" has "did you mean 'model.n_layers'?" "$work/err"
check "bad override fails with 2" run 2 config show configs/quickstart.yaml model.n_layerz=2
check "bad override suggestion" has "did you mean 'model.n_layers'?" "$work/err"
check "missing config file" run 2 config show configs/does-not-exist.yaml
check "missing config file message" has "does-not-exist.yaml" "$work/err"
check "train with bad config fails with 2" run 2 train tests/e2e/fixtures/misspelled.yaml run.out_dir="$work/run"
check "train with bad config started nothing" test ! -e "$work/run"

# config doc is generated from the schema and the committed reference is up to date.
check "config doc" run 0 config doc
check "docs/config.md is up to date (regenerate: clinfm config doc --out docs/config.md)" cmp -s "$work/out" docs/config.md
check "config doc --out writes the file" run 0 config doc --out "$work/config.md"
check "written doc equals printed doc" cmp -s "$work/config.md" docs/config.md

# Bad input to the commands exits 2 and says what is wrong.
check "train without a data set fails with 2" run 2 train configs/quickstart.yaml data.dataset="$work/no-data" run.out_dir="$work/run2"
check "train names the missing data set" has "is not a clinfm data set" "$work/err"
check "prep of a missing input fails with 2" run 2 prep --format meds --input "$work/none.csv" --output "$work/ds" data.salt_file="$work/salt"
check "prep names the missing input" has "input '$work/none.csv' does not exist" "$work/err"
check "prep wrote nothing" test ! -e "$work/ds"
check "inspect of a folder that is no data set fails with 2" run 2 inspect "$work"
check "inspect says what is missing" has "is not a clinfm data set: .*manifest.json is missing" "$work/err"
check "prep rejects an unknown format" run 2 prep --format csv --input x --output y
check "synth into a missing folder fails with 2" run 2 synth --patients 5 --out "$work/no/such/folder/c.csv.gz"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
