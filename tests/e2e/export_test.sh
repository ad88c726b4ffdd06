#!/usr/bin/env bash
# `clinfm export`: a checkpoint's weights load in plain Python PyTorch. A tiny model is trained
# for 4 steps; its step-4 checkpoint is exported; the project's Python torch.load()s the state dict,
# loads it strictly into the independent reference model (tests/models/reference_model.py, same
# parameter names), checks every tensor equals the checkpoint's own model.pt, and runs a forward
# pass. Then the rule that `clinfm eval --checkpoint` shares (trainer/checkpoint/weights_path.h):
# a run folder exports its latest checkpoint; a damaged checkpoint folder exits 2 naming the
# file; a run folder whose latest is damaged falls back to the newest valid one with a warning,
# then to RUN/model.pt; a folder with nothing to export exits 2.
# usage: export_test.sh CLINFM SOURCE_DIR
set -u
# The project's Python (scripts/setup.sh: .venv with torch, numpy, h5py, scikit-learn); ctest sets it.
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
clinfm=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OMP_NUM_THREADS=1
cd "$src" || exit 1
printf 'export test salt' >"$work/salt"
"$clinfm" synth --patients 150 --seed 2 --out "$work/cohort.csv.gz" >/dev/null 2>&1 || fail "synth"
"$clinfm" prep --format meds --input "$work/cohort.csv.gz" --output "$work/ds" data.salt_file="$work/salt" \
  data.min_patients_per_code=5 >/dev/null 2>&1 || fail "prep"
"$clinfm" train configs/quickstart.yaml data.dataset="$work/ds" run.out_dir="$work/run" data.seq_len=32 \
  model.n_layers=2 train.max_steps=4 train.global_batch_size=4 train.micro_batch_size=4 train.validation_every=0 \
  run.threads=1 train.peak_tflops=1 checkpoint.every=2 >"$work/train.log" 2>&1 || { cat "$work/train.log"; fail "train"; }
ck="$work/run/checkpoints/step-00000004"
"$clinfm" export "$ck" --out "$work/state.pt" >"$work/export.log" 2>&1 || { cat "$work/export.log"; fail "export"; }
$CLINFM_PYTHON - "$src" "$work/state.pt" "$ck/model.pt" <<'PY' || fail "Python could not use the exported weights"
import json, sys, torch
sys.path.insert(0, sys.argv[1] + "/tests/models")
from reference_model import ReferenceTransformer
state = torch.load(sys.argv[2])  # weights_only=True, the default since PyTorch 2.6
dims = json.load(open(sys.argv[2] + ".json"))
assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
model = ReferenceTransformer(dims["vocab_size"], dims["value_bins"], dims["n_layers"], dims["n_heads"],
                             dims["d_model"], dims["d_ff"])
missing, unexpected = model.load_state_dict(state, strict=True)
archive = torch.jit.load(sys.argv[3]).state_dict()
assert set(archive) == set(state), set(archive) ^ set(state)
assert all(torch.equal(archive[k], state[k]) for k in state), "exported values differ from model.pt"
tokens = torch.randint(1, dims["vocab_size"], (2, 8))
logits, log_rate = model(tokens, torch.zeros_like(tokens), torch.arange(16.0).reshape(2, 8) * 1000)
assert logits.shape == (2, 8, dims["vocab_size"]) and torch.isfinite(logits).all()
print(f"ok: {len(state)} tensors loaded strictly into the reference model; first names {sorted(state)[:3]}")
PY
"$clinfm" export "$work/run" --out "$work/latest.pt" >/dev/null 2>&1 || fail "export of a run folder"
cmp -s "$work/state.pt" "$work/latest.pt" || fail "a run folder did not export its newest checkpoint"
$CLINFM_PYTHON -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(100); b = f.read(1)[0]; f.seek(100)
f.write(bytes([b ^ 0xFF]))' "$ck/model.pt"
"$clinfm" export "$ck" --out "$work/bad.pt" >"$work/bad.log" 2>&1
rc=$?
[ $rc -eq 2 ] || { cat "$work/bad.log"; fail "damaged checkpoint: exit $rc, expected 2"; }
grep -q "model.pt: checksum mismatch" "$work/bad.log" || { cat "$work/bad.log"; fail "damaged checkpoint: message"; }
[ ! -e "$work/bad.pt" ] || fail "a damaged checkpoint was exported"
"$clinfm" export "$work/run/checkpoints/step-00000002" --out "$work/step2.pt" >/dev/null 2>&1 || fail "export step 2"
"$clinfm" export "$work/run" --out "$work/fallback.pt" >"$work/fallback.log" 2>&1 || { cat "$work/fallback.log"; fail "run folder with a damaged latest"; }
cmp -s "$work/step2.pt" "$work/fallback.pt" || fail "a damaged latest did not fall back to the newest valid checkpoint"
grep -q "step-00000004 (named by checkpoints/latest) is damaged" "$work/fallback.log" || { cat "$work/fallback.log"; fail "no warning for the damaged latest"; }
$CLINFM_PYTHON -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(100); b = f.read(1)[0]; f.seek(100)
f.write(bytes([b ^ 0xFF]))' "$work/run/checkpoints/step-00000002/model.pt"
"$clinfm" export "$work/run/model.pt" --out "$work/final.pt" >/dev/null 2>&1 || fail "export of RUN/model.pt"
"$clinfm" export "$work/run" --out "$work/last_resort.pt" >"$work/last_resort.log" 2>&1 || { cat "$work/last_resort.log"; fail "run folder with only damaged checkpoints"; }
cmp -s "$work/final.pt" "$work/last_resort.pt" || fail "a run folder without valid checkpoints did not export RUN/model.pt"
mkdir "$work/empty"
"$clinfm" export "$work/empty" --out "$work/none.pt" >"$work/none.log" 2>&1
rc=$?
[ $rc -eq 2 ] || { cat "$work/none.log"; fail "nothing to export: exit $rc, expected 2"; }
grep -q "neither checkpoints nor model.pt" "$work/none.log" || { cat "$work/none.log"; fail "nothing to export: message"; }
echo PASS
