#!/usr/bin/env bash
# The MIMIC-IV demo suite end to end from ../shared/data (skipped, exit 77, when it is absent):
# prep the 100-patient MEDS demo, a tiny train, eval of configs/eval/mimic-iv-demo.yaml. With
# about 10 held-out patients the test checks honesty, not quality: it finishes, every task is
# reported with n, and subgroups below eval.min_subgroup_size say "too few patients".
# usage: eval_mimic_demo_test.sh CLINFM SOURCE_DIR
set -u
# The project's Python (scripts/setup.sh: .venv with torch, numpy, h5py, scikit-learn); ctest sets it.
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
clinfm=$1 src=$2
demo="$src/../shared/data/mimic-iv-demo-meds/events.csv.gz"
[ -f "$demo" ] || { echo "SKIP: $demo not found"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
set -e
"$clinfm" prep --format meds --input "$demo" --output "$work/ds" data.salt_file="$work/salt" \
  data.min_patients_per_code=3 >/dev/null 2>&1
"$clinfm" train "$src/configs/quickstart.yaml" data.dataset="$work/ds" run.out_dir="$work/run" train.max_steps=20 \
  train.validation_every=0 model.n_layers=2 model.d_model=64 model.n_heads=2 model.d_ff=128 data.seq_len=128 \
  optim.warmup_steps=5 checkpoint.every=1000 >/dev/null 2>&1
"$clinfm" eval "$src/configs/eval/mimic-iv-demo.yaml" --checkpoint "$work/run/model.pt" --dataset "$work/ds" \
  --out "$work/eval" eval.bootstrap_samples=200 | tee "$work/out"
$CLINFM_PYTHON - "$work/eval/results.json" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
assert len(res["tasks"]) == 4
too_few = 0
for task in res["tasks"]:
    for method, m in task["methods"].items():
        h = m["held_out"]
        assert h["n"] >= 0 and (h["reported"] or h["reason"] in ("too few patients", "one class only", "a class in fewer than 2 patients"))
        for name, g in m["subgroups"].items():
            too_few += (not g["reported"]) and g["reason"] == "too few patients"
            assert g["reported"] is False or g["n_patients"] >= res["settings"]["min_subgroup_size"]
assert too_few > 0, "10 held-out patients and no subgroup is 'too few'?"
print("ok: mimic demo suite reported honestly")
PY
