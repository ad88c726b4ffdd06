#!/usr/bin/env bash
# `clinfm eval` end to end as an evaluator runs it: synth -> prep -> a tiny train -> eval of
# configs/eval/synth.yaml with the truth file; the metrics it prints and writes are recomputed
# with scikit-learn from its own predictions.csv; then the error paths, each with a real bad input.
# usage: eval_test.sh CLINFM SOURCE_DIR
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
  [ "$rc" -eq "$expected" ] || { echo "  clinfm $* exited $rc, expected $expected"; sed 's/^/  | /' "$work/out" "$work/err" | tail -20; return 1; }
}
has() { grep -q -- "$1" "$2" || { echo "  '$1' not in $2:"; sed 's/^/  | /' "$2" | tail -20; return 1; }; }

"$clinfm" synth --patients 500 --seed 2 --out "$work/cohort.csv.gz" >/dev/null 2>&1
"$clinfm" prep --format meds --input "$work/cohort.csv.gz" --output "$work/ds" data.salt_file="$work/salt" \
  data.min_patients_per_code=5 >/dev/null 2>&1
check "tiny train" run 0 train "$src/configs/quickstart.yaml" data.dataset="$work/ds" run.out_dir="$work/run" \
  train.max_steps=40 train.validation_every=0 model.n_layers=2 model.d_model=64 model.n_heads=2 model.d_ff=128 \
  data.seq_len=64 optim.warmup_steps=5 optim.lr=1e-3 checkpoint.every=1000
check "weights written" test -s "$work/run/model.pt"

sed 's/^k_shot: false/k_shot: true/' "$src/configs/eval/synth.yaml" >"$work/synth.yaml"
check "eval runs" run 0 eval "$work/synth.yaml" --checkpoint "$work/run" --dataset "$work/ds" \
  --out "$work/eval" --truth "$work/cohort.truth.csv" --salt "$work/salt" eval.bootstrap_samples=200
check "weights verified against the checkpoint" has "SHA-256 matches .*checksums.sha256" "$work/err"
check "prints the table" has "death_365d_visit .*zero_shot" "$work/out"
check "prints the truth comparison" has "zero-shot vs truth: pearson" "$work/out"
for f in results.json predictions.csv report.md report.html; do check "$f written" test -s "$work/eval/$f"; done
check "predictions header" has "^task,method,subject_key,prediction_time,y_true,y_score$" "$work/eval/predictions.csv"
check "html has inline svg plots" has "<svg" "$work/eval/report.html"
check "html is self-contained" bash -c "! grep -q -e '<script' -e 'src=\"http' '$work/eval/report.html'"
check "markdown names intervals" has "AUROC" "$work/eval/report.md"
check "results.json metrics equal scikit-learn on predictions.csv" $CLINFM_PYTHON - "$work/eval" <<'PY'
import csv, json, sys
from collections import defaultdict
from sklearn.metrics import roc_auc_score, average_precision_score, brier_score_loss
d = sys.argv[1]
res = json.load(open(f"{d}/results.json"))
rows = defaultdict(lambda: ([], []))
for r in csv.DictReader(open(f"{d}/predictions.csv")):
    y, s = rows[(r["task"], r["method"])]
    y.append(int(r["y_true"])); s.append(float(r["y_score"]))
checked = 0
for task in res["tasks"]:
    for method, m in task["methods"].items():
        h = m["held_out"]
        y, s = rows[(task["name"], method)]
        assert h["n"] == len(y), (task["name"], method)
        if not h["reported"]:
            continue
        lo, hi = h["auroc"]["ci95"]
        assert lo <= h["auroc"]["value"] <= hi, (task["name"], method, h["auroc"])
        for key, f in (("auroc", roc_auc_score), ("auprc", average_precision_score), ("brier", brier_score_loss)):
            assert abs(h[key]["value"] - f(y, s)) < 1e-6, (task["name"], method, key, h[key]["value"], f(y, s))
        checked += 1
assert checked >= 6, checked
curve = res["tasks"][0]["methods"]["probe"]["details"]["k_shot"]
assert curve and curve[-1]["k"] == "all" and curve[0]["train_rows"] <= 2, curve
PY
check "a run folder means its latest checkpoint" $CLINFM_PYTHON -c '
import json, sys
assert json.load(open(sys.argv[1]))["checkpoint"] == sys.argv[2] + "/checkpoints/step-00000040/model.pt"' \
  "$work/eval/results.json" "$work/run"
check "no raw subject ids in outputs" bash -c "! grep -q 'subject_id' '$work/eval/predictions.csv' '$work/eval/results.json'"

# Error paths: exit 2 and a message that names the file, line and key (or the path).
cp "$src/configs/eval/synth.yaml" "$work/typo.yaml"
sed -i 's/horizon_days: 30}/horizon_dayz: 30}/' "$work/typo.yaml"
check "unknown key in the suite" run 2 eval "$work/typo.yaml" --checkpoint "$work/run" --dataset "$work/ds" --out "$work/e1"
check "unknown key names file, line and key" has "typo.yaml:[0-9]*:[0-9]*: error: tasks\[3\].label.horizon_dayz: unknown key" "$work/err"
check "unknown key suggests" has "did you mean 'horizon_days'" "$work/err"
check "nothing written on a bad suite" test ! -e "$work/e1"
printf 'name: x\ntasks:\n  - name: t\n    predict_at: {codes: ENCOUNTER//OUTPATIENT}\n    label: {kind: event_within, codes: ICD10//Z99, horizon_days: 30}\n' >"$work/code.yaml"
check "unknown code prefix" run 2 eval "$work/code.yaml" --checkpoint "$work/run" --dataset "$work/ds" --out "$work/e2"
check "unknown code prefix names line and key" has "code.yaml:5:[0-9]*: error: tasks\[0\].label.codes: code prefix 'ICD10//Z99'" "$work/err"
printf 'name: x\ncontext_events: lots\ntasks:\n  - name: t\n    predict_at: {codes: ENCOUNTER//OUTPATIENT}\n    label: {kind: event_within, codes: MEDS_DEATH, horizon_days: 30}\n' >"$work/type.yaml"
check "wrong type" run 2 eval "$work/type.yaml" --checkpoint "$work/run" --dataset "$work/ds" --out "$work/e3"
check "wrong type names line and key" has "type.yaml:2:[0-9]*: error: context_events: expected an integer" "$work/err"
check "missing suite file" run 2 eval "$work/none.yaml" --checkpoint "$work/run" --dataset "$work/ds" --out "$work/e4"
check "missing suite names the path" has "$work/none.yaml" "$work/err"
check "bad checkpoint" run 2 eval "$src/configs/eval/synth.yaml" --checkpoint "$work/nowhere" --dataset "$work/ds" --out "$work/e5"
check "bad checkpoint names the path" has "$work/nowhere: no such file or folder" "$work/err"
echo "not weights" >"$work/fake.pt"
check "not a weights file" run 2 eval "$src/configs/eval/synth.yaml" --checkpoint "$work/fake.pt" --dataset "$work/ds" --out "$work/e6"
check "not a weights file names it" has "fake.pt" "$work/err"
# A checkpoint folder whose model.pt no longer matches its checksums.sha256 (one byte flipped).
mkdir -p "$work/ck/step-00000001" && cp "$work/run/model.pt" "$work/ck/step-00000001/"
(cd "$work/ck/step-00000001" && sha256sum model.pt >checksums.sha256)
$CLINFM_PYTHON -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(300); b = f.read(1); f.seek(300); f.write(bytes([b[0] ^ 1]))' \
  "$work/ck/step-00000001/model.pt"
check "damaged checkpoint refused" run 2 eval "$src/configs/eval/synth.yaml" --checkpoint "$work/ck/step-00000001" --dataset "$work/ds" --out "$work/e10"
check "damaged checkpoint names the mismatch" has "the checkpoint is damaged: model.pt: checksum mismatch" "$work/err"
check "nothing written for a damaged checkpoint" test ! -e "$work/e10"
check "damaged weights file refused" run 2 eval "$src/configs/eval/synth.yaml" --checkpoint "$work/ck/step-00000001/model.pt" --dataset "$work/ds" --out "$work/e11"
check "damaged weights file names the mismatch" has "model.pt: checksum mismatch against .*checksums.sha256" "$work/err"
# A run folder whose only checkpoint is damaged and that has no model.pt: the shared rule of
# trainer/checkpoint/weights_path.h (the same as `clinfm export`) finds nothing to score.
mkdir -p "$work/broken/checkpoints" && cp -r "$work/ck/step-00000001" "$work/broken/checkpoints/"
echo step-00000001 >"$work/broken/checkpoints/latest"
check "run folder without valid weights refused" run 2 eval "$src/configs/eval/synth.yaml" --checkpoint "$work/broken" --dataset "$work/ds" --out "$work/e12"
check "run folder without valid weights says why" has "every checkpoint under .*broken/checkpoints is damaged" "$work/err"
check "non-eval override refused" run 2 eval "$src/configs/eval/synth.yaml" --checkpoint "$work/run" --dataset "$work/ds" --out "$work/e7" model.n_layers=3
check "--truth needs --salt" run 2 eval "$src/configs/eval/synth.yaml" --checkpoint "$work/run" --dataset "$work/ds" --out "$work/e8" --truth "$work/cohort.truth.csv"
check "missing salt file" run 2 eval "$src/configs/eval/synth.yaml" --checkpoint "$work/run" --dataset "$work/ds" --out "$work/e9" --truth "$work/cohort.truth.csv" --salt "$work/nosalt"
check "missing salt is not created" test ! -e "$work/nosalt"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
