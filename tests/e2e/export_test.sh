#!/usr/bin/env bash
# `clinfm export`: a checkpoint's weights load in plain Python PyTorch. A tiny model is trained
# for 4 steps; its step-4 checkpoint is exported; /usr/bin/python3 torch.load()s the state dict,
# loads it strictly into the independent reference model (tests/models/reference_model.py, same
# parameter names), checks every tensor equals the checkpoint's own model.pt, and runs a forward
# pass. Exporting a damaged checkpoint exits 2 naming the file.
# usage: export_test.sh CLINFM SOURCE_DIR
set -u
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
  model.n_layers=2 train.max_steps=4 train.global_batch_size=4 train.micro_batch_size=4 train.eval_every=0 \
  run.threads=1 train.peak_tflops=1 checkpoint.every=2 >"$work/train.log" 2>&1 || { cat "$work/train.log"; fail "train"; }
ck="$work/run/checkpoints/step-00000004"
"$clinfm" export "$ck" --out "$work/state.pt" >"$work/export.log" 2>&1 || { cat "$work/export.log"; fail "export"; }
/usr/bin/python3 - "$src" "$work/state.pt" "$ck/model.pt" <<'PY' || fail "Python could not use the exported weights"
import json, sys, torch
sys.path.insert(0, sys.argv[1] + "/tests/models")
from reference_model import ReferenceTransformer
state = torch.load(sys.argv[2])
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
/usr/bin/python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(100); b = f.read(1)[0]; f.seek(100)
f.write(bytes([b ^ 0xFF]))' "$ck/model.pt"
"$clinfm" export "$ck" --out "$work/bad.pt" >"$work/bad.log" 2>&1
rc=$?
[ $rc -eq 2 ] || { cat "$work/bad.log"; fail "damaged checkpoint: exit $rc, expected 2"; }
grep -q "model.pt: checksum mismatch" "$work/bad.log" || { cat "$work/bad.log"; fail "damaged checkpoint: message"; }
[ ! -e "$work/bad.pt" ] || fail "a damaged checkpoint was exported"
echo PASS
