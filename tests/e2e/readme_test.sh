#!/usr/bin/env bash
# The README's commands really run. Every ```bash block of these README.md sections is run, line
# by line, in the order of the README, in one temporary folder (so data/, runs/ and the cohort
# flow from one section to the next as a reader would type them):
#   Preparing data, Training, Cluster runs, Cluster launch and clinfm doctor,
#   Running benchmark suites, Resuming checkpoints
# A section that is missing or has no bash block fails the test, as does any command that exits
# non-zero (the README line is shown with its output).
#
# What is changed on the way, and nothing else:
#   - `clinfm` is the built binary (first on PATH); `mpirun` is the real one with --oversubscribe
#     (and --allow-run-as-root as root), also for scripts/launch.sh; HOME is a fresh folder (so
#     ~/.clinfm/salt is created there); configs/ and scripts/ are links to the source tree's.
#   - a line continued with a trailing backslash is joined with the next; a trailing comment
#     (whitespace, then `#`) is dropped.
#   - a line containing `# not run in CI` is skipped (it says why, e.g. needs Slurm).
#   - `/path/to/mimic-iv-2.2` becomes ../shared/data/mimic-iv-demo-2.2 (the 100-patient demo)
#     when it exists; otherwise every line naming /path/to/mimic-iv-2.2, data/mimic or
#     runs/mimic is skipped. The demo is prepped with data.min_patients_per_code=3.
#   - `../shared/data/delphi-sim` becomes the source tree's ../shared/data/delphi-sim when it
#     exists; otherwise every line naming delphi-sim, runs/delphi or configs/delphi-2m is skipped.
#   - `/path/to/meds_dataset` becomes the hand-made MEDS Parquet data set folder that
#     tests/data/meds_parquet.py writes (40 patients, data/ and metadata/).
#   - `--patients N` becomes `--patients 400`.
#   - in a line that trains (`clinfm train` or `scripts/launch.sh`), `configs/quickstart.yaml` is
#     followed by the tiny-run overrides $tiny below (the README's own overrides come after, so
#     they still win), and a README `train.max_steps=V` becomes train.max_steps=16 (an
#     extension of the tiny runs' 8); `configs/delphi-2m*.yaml` by $tiny_delphi. A training line
#     with neither fails.
#   - `clinfm eval` lines get eval.bootstrap_samples=100 appended.
#   - `KEY` in `--patient KEY` becomes the first key (/patients/key) of the data set's first shard.
# usage: readme_test.sh CLINFM SOURCE_DIR MPIEXEC
set -u
# The project's Python (scripts/setup.sh: .venv with torch, numpy, h5py, scikit-learn); ctest sets it.
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
clinfm=$1 src=$2 mpiexec=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sections=("Preparing data" "Training" "Cluster runs" "Cluster launch and clinfm doctor"
          "Running benchmark suites" "Resuming checkpoints")
tiny="data.seq_len=32 model.n_layers=2 model.d_model=64 model.n_heads=4 model.d_ff=128 train.max_steps=8"
tiny+=" train.global_batch_size=8 train.micro_batch_size=2 train.validation_every=0 run.threads=1 train.peak_tflops=1"
tiny+=" checkpoint.every=4 optim.warmup_steps=2 data.prefetch_batches=2"
tiny_delphi="model.n_layers=2 model.d_model=32 model.n_heads=2 model.d_ff=64 train.max_steps=8"
tiny_delphi+=" train.global_batch_size=16 train.micro_batch_size=16 train.validation_every=0 checkpoint.keep_best=false"
tiny_delphi+=" run.threads=1"
tiny_delphi+=" train.peak_tflops=1 checkpoint.every=4 optim.warmup_steps=2"
demo=$src/../shared/data/mimic-iv-demo-2.2
delphi=$src/../shared/data/delphi-sim

mkdir -p "$work/bin" "$work/home" "$work/cwd"
ln -s "$clinfm" "$work/bin/clinfm"
root_flag=""
[ "$(id -u)" = 0 ] && root_flag=--allow-run-as-root
printf '#!/usr/bin/env bash\nexec %q --oversubscribe %s "$@"\n' "$mpiexec" "$root_flag" >"$work/bin/mpirun"
chmod +x "$work/bin/mpirun"
ln -s "$src/configs" "$work/cwd/configs"
ln -s "$src/scripts" "$work/cwd/scripts"
export PATH=$work/bin:$PATH HOME=$work/home OMP_NUM_THREADS=1 MPIRUN=$work/bin/mpirun
cd "$work/cwd" || exit 1

# README.md -> "LINE<TAB>SECTION<TAB>COMMAND" for every command of the sections, in README order.
$CLINFM_PYTHON - "$src/README.md" "${sections[@]}" >"$work/commands.tsv" <<'PY' || exit 1
import sys
readme, wanted = sys.argv[1], sys.argv[2:]
section, in_bash, pending, found = None, False, None, {}
for number, line in enumerate(open(readme), 1):
    line = line.rstrip("\n")
    if line.startswith("## ") and not in_bash:
        section = line[3:].strip().replace("`", "")
        continue
    if line.startswith("```"):
        in_bash = (not in_bash) and line.strip() == "```bash"
        continue
    if not in_bash or section not in wanted or not line.strip():
        continue
    if pending:
        start, text = pending
        text += " " + line.strip()
    else:
        start, text = number, line.strip()
    if text.endswith("\\"):
        pending = (start, text[:-1].rstrip())
        continue
    pending = None
    found[section] = found.get(section, 0) + 1
    print(f"{start}\t{section}\t{text}")
missing = [s for s in wanted if not found.get(s)]
if missing:
    sys.exit(f"FAIL: README.md has no ```bash commands in section(s): {', '.join(missing)}")
PY

ran=0 skipped=0
while IFS=$'\t' read -r number section line; do
  cmd=$line
  if [[ $cmd == *"# not run in CI"* ]]; then
    echo "skip README.md:$number [$section] $line"
    skipped=$((skipped + 1))
    continue
  fi
  if [[ $cmd =~ /path/to/mimic-iv-2.2|data/mimic|runs/mimic ]] && [ ! -d "$demo" ]; then
    echo "skip README.md:$number [$section] (no $demo) $line"
    skipped=$((skipped + 1))
    continue
  fi
  if [[ $cmd =~ delphi-sim|runs/delphi|configs/delphi-2m ]] && [ ! -d "$delphi" ]; then
    echo "skip README.md:$number [$section] (no $delphi) $line"
    skipped=$((skipped + 1))
    continue
  fi
  cmd=$(sed -E 's/[[:space:]]+#.*$//' <<<"$cmd")
  cmd=${cmd//..\/shared\/data\/delphi-sim/$delphi}
  [[ $cmd == *"/path/to/mimic-iv-2.2"* ]] && cmd="${cmd//\/path\/to\/mimic-iv-2.2/$demo} data.min_patients_per_code=3"
  if [[ $cmd == *"/path/to/meds_dataset"* ]]; then
    [ -d "$work/meds/hand" ] || $CLINFM_PYTHON "$src/tests/data/meds_parquet.py" fixtures "$work/meds" >/dev/null ||
      { echo "FAIL README.md:$number: tests/data/meds_parquet.py could not write the MEDS fixture"; exit 1; }
    cmd=${cmd//\/path\/to\/meds_dataset/$work/meds/hand}
  fi
  cmd=$(sed -E 's/--patients [0-9]+/--patients 400/' <<<"$cmd")
  if [[ $cmd =~ clinfm\ train|scripts/launch\.sh ]]; then
    if [[ $cmd =~ configs/delphi-2m[a-z-]*\.yaml ]]; then
      cmd=${cmd/${BASH_REMATCH[0]}/${BASH_REMATCH[0]} $tiny_delphi}
    else
      [[ $cmd == *configs/quickstart.yaml* ]] || { echo "FAIL README.md:$number: a training line without configs/quickstart.yaml or configs/delphi-2m*.yaml: $line"; exit 1; }
      cmd=$(sed -E "s/ train\.max_steps=[0-9]+/ train.max_steps=16/; s#configs/quickstart\.yaml#configs/quickstart.yaml $tiny#" <<<"$cmd")
    fi
  fi
  [[ $cmd =~ clinfm\ eval ]] && cmd+=" eval.bootstrap_samples=100"
  if [[ $cmd =~ --patient\ KEY ]]; then
    dir=$(sed -E 's/.*clinfm inspect ([^ ]+).*/\1/' <<<"$cmd")
    key=$($CLINFM_PYTHON -c 'import h5py, json, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
with h5py.File(sys.argv[1] + "/" + m["shards"][0]["file"], "r") as f: print(f["patients/key"][0].decode())' "$dir")
    [ -n "$key" ] || { echo "FAIL README.md:$number: no pseudonymous key in the first shard of $dir"; exit 1; }
    cmd=${cmd//--patient KEY/--patient $key}
  fi
  echo "run  README.md:$number [$section] $line"
  [ "$cmd" = "$line" ] || echo "       as: $cmd"
  start=$(date +%s)
  if ! bash -o pipefail -c "$cmd" </dev/null >"$work/out" 2>&1; then
    echo "FAIL README.md:$number: this command failed:"
    echo "  $line"
    sed 's/^/  | /' "$work/out" | tail -30
    exit 1
  fi
  echo "       ok ($(($(date +%s) - start)) s)"
  ran=$((ran + 1))
done <"$work/commands.tsv"
echo "$ran README commands ran, $skipped skipped"
[ "$ran" -ge 10 ] || { echo "FAIL: only $ran commands ran"; exit 1; }
echo PASS
