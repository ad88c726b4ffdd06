#!/usr/bin/env bash
# A MEDS label file as an eval task, on the MIMIC-IV demo (exit 77, skipped, without ../shared):
# the test writes, from the demo's own MEDS events and with its own Python, the label file of
# "death within 30 days of admission + 24 h" by the rules docs/eval.md states for the YAML task
# of configs/eval/mimic-iv-demo.yaml; `clinfm eval` scores both in one suite. The label-file task
# must match every row (counted), label the same held-out rows, and give the same AUROC for the
# probe and the count baseline. The second label file leaves boolean_value null and labels with
# integer_value, as writers that type every value column do. Its MEDS-DEV prediction files must follow meds-evaluation's
# schema and join back to the label file. Bad label files and missing --salt exit 2.
# usage: meds_labels_test.sh CLINFM SOURCE_DIR
set -u
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
clinfm=$1 src=$2
demo="$src/../shared/data/mimic-iv-demo-meds/events.csv.gz"
[ -f "$demo" ] || { echo "SKIP: $demo not found (../shared/data is not part of a clone)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
set -e
"$clinfm" prep --format meds --input "$demo" --output "$work/ds" data.salt_file="$work/salt" \
  data.min_patients_per_code=3 data.split_held_out=0.5 >/dev/null 2>&1
"$clinfm" train "$src/configs/quickstart.yaml" data.dataset="$work/ds" run.out_dir="$work/run" train.max_steps=20 \
  train.validation_every=0 model.n_layers=2 model.d_model=64 model.n_heads=2 model.d_ff=128 data.seq_len=128 \
  optim.warmup_steps=5 checkpoint.every=1000 >/dev/null 2>&1

"$CLINFM_PYTHON" - "$demo" "$work" <<'PY'
import os, sys
from collections import defaultdict
import pyarrow as pa, pyarrow.csv as pacsv, pyarrow.parquet as pq

demo, work = sys.argv[1], sys.argv[2]
t = pacsv.read_csv(demo, convert_options=pacsv.ConvertOptions(
    column_types={"subject_id": pa.int64(), "time": pa.timestamp("s"), "code": pa.string()},
    include_columns=["subject_id", "time", "code"]))
events = defaultdict(list)  # subject -> [(seconds or None, code)]
for s, tm, c in zip(t["subject_id"].to_pylist(), t["time"].cast(pa.int64()).to_pylist(), t["code"].to_pylist()):
    events[s].append((tm, c))
DAY, HORIZON, TOP = 86400, 30 * 86400, 89 * 365.25 * 86400
rows = []
for s, evs in events.items():
    birth = min(tm for tm, c in evs if c == "MEDS_BIRTH")
    timed = [tm for tm, c in evs if tm is not None]
    last = max(max(timed), birth)
    deaths = sorted(tm for tm, c in evs if c == "MEDS_DEATH" and tm is not None)
    anchors = sorted({tm for tm, c in evs if c.startswith("HOSPITAL_ADMISSION") and tm is not None})
    for a in anchors:
        p = a + DAY  # offset 24 hours
        if p + HORIZON - birth > TOP:   # past the top-coding age
            continue
        if any(d < p for d in deaths):  # died before the prediction time
            continue
        if any(p <= d <= p + HORIZON for d in deaths):
            rows.append((s, p, True))
        elif last >= p + HORIZON:       # followed up through the horizon
            rows.append((s, p, False))
        # else censored: excluded
labels = pa.table({"subject_id": pa.array([r[0] for r in rows], pa.int64()),
                   "prediction_time": pa.array([r[1] * 1_000_000 for r in rows], pa.int64()).cast(pa.timestamp("us")),
                   "boolean_value": pa.array([r[2] for r in rows], pa.bool_())})
try:
    import meds
    meds.LabelSchema.validate(labels)
except ImportError:
    pass
os.makedirs(f"{work}/labels", exist_ok=True)
half = len(rows) // 2  # a folder of two files, as ACES and MEDS-DEV write them
pq.write_table(labels.slice(0, half), f"{work}/labels/part-0.parquet")
# The second file as writers that type every value column give it: boolean_value all null (bool),
# the label in integer_value (0/1).
second = labels.slice(half)
pq.write_table(pa.table({"subject_id": second["subject_id"], "prediction_time": second["prediction_time"],
                         "boolean_value": pa.array([None] * len(second), pa.bool_()),
                         "integer_value": pa.array([int(v) for v in second["boolean_value"].to_pylist()], pa.int64())}),
               f"{work}/labels/part-1.parquet")
pq.write_table(labels.drop(["boolean_value"]).append_column("float_value", pa.array([1.0] * len(rows), pa.float32())),
               f"{work}/float_labels.parquet")
print(f"label file: {len(rows)} rows, {sum(r[2] for r in rows)} positive")
PY

cat >"$work/suite.yaml" <<EOF
name: meds-labels
tasks:
  - name: mortality_rules
    predict_at: {codes: HOSPITAL_ADMISSION, offset_hours: 24}
    label: {kind: event_within, codes: MEDS_DEATH, horizon_days: 30}
  - name: mortality_label_file
    labels: $work/labels
EOF
"$clinfm" eval "$work/suite.yaml" --checkpoint "$work/run/model.pt" --dataset "$work/ds" --out "$work/eval" \
  --salt "$work/salt" --cohort "$demo" eval.bootstrap_samples=50 >"$work/eval.log" 2>&1 || { tail -20 "$work/eval.log"; exit 1; }

"$CLINFM_PYTHON" - "$work" <<'PY'
import json, sys
import pyarrow as pa, pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score

work = sys.argv[1]
res = {t["name"]: t for t in json.load(open(f"{work}/eval/results.json"))["tasks"]}
rules, labels = res["mortality_rules"], res["mortality_label_file"]
matching = labels["definition"]["matching"]
assert matching["matched"] == matching["rows"] > 0, matching
assert sorted(labels["methods"]) == ["count_baseline", "probe"], labels["methods"].keys()
for method in ("probe", "count_baseline"):
    a, b = rules["methods"][method]["held_out"], labels["methods"][method]["held_out"]
    assert a["n"] == b["n"] and a["n_positive"] == b["n_positive"], (method, a, b)
    if a["reported"]:
        assert abs(a["auroc"]["value"] - b["auroc"]["value"]) < 1e-9, (method, a["auroc"], b["auroc"])
import csv
scores = {}
for r in csv.DictReader(open(f"{work}/eval/predictions.csv")):
    scores.setdefault((r["task"], r["method"]), []).append(
        (r["subject_key"], float(r["prediction_time"]), int(r["y_true"]), float(r["y_score"])))
for method in ("probe", "count_baseline"):
    a, b = scores[("mortality_rules", method)], scores[("mortality_label_file", method)]
    assert len(a) == len(b) > 0, (method, len(a), len(b))
    for x, y in zip(a, b):  # the same rows, labels and scores, row by row
        assert x[0] == y[0] and abs(x[1] - y[1]) < 1e-6 and x[2] == y[2] and abs(x[3] - y[3]) < 1e-9, (method, x, y)
print(f"label file task = rule task: {len(a)} held-out rows, the same labels and scores row by row "
      f"(AUROC reported: {labels['methods']['probe']['held_out']['reported']})")

files = [r for part in ("part-0", "part-1") for r in pq.read_table(f"{work}/labels/{part}.parquet").to_pylist()]
truth = {(r["subject_id"], r["prediction_time"]):
         r["boolean_value"] if r["boolean_value"] is not None else bool(r["integer_value"]) for r in files}
for method in ("probe", "count_baseline"):
    pred = pq.read_table(f"{work}/eval/meds_dev/mortality_label_file/{method}.parquet")
    assert pred.schema.field("subject_id").type == pa.int64()
    assert pred.schema.field("prediction_time").type == pa.timestamp("us")
    assert pred.schema.field("boolean_value").type == pa.bool_()
    assert pred.schema.field("predicted_boolean_value").type == pa.bool_()
    assert pred.schema.field("predicted_boolean_probability").type == pa.float64()
    rows = pred.to_pylist()
    assert len(rows) == labels["methods"][method]["held_out"]["n"]
    for r in rows:
        assert truth[(r["subject_id"], r["prediction_time"])] == r["boolean_value"], r
        assert r["predicted_boolean_value"] == (r["predicted_boolean_probability"] >= 0.5)
    y = [r["boolean_value"] for r in rows]
    if 0 < sum(y) < len(y) and labels["methods"][method]["held_out"]["reported"]:
        auroc = roc_auc_score(y, [r["predicted_boolean_probability"] for r in rows])
        assert abs(auroc - labels["methods"][method]["held_out"]["auroc"]["value"]) < 1e-6, (method, auroc)
print("meds_dev prediction files: schema, join to the label file, AUROC")
PY

# Bad input: exit 2 with the file or key named.
expect_error() {  # expect_error NAME MESSAGE SUITE_LABELS [EVAL ARGS...]
  local name=$1 message=$2 labels=$3
  shift 3
  printf 'name: bad\ntasks:\n  - name: t\n    labels: %s\n' "$labels" >"$work/$name.yaml"
  set +e
  "$clinfm" eval "$work/$name.yaml" --checkpoint "$work/run/model.pt" --dataset "$work/ds" --out "$work/$name" \
    "$@" >"$work/$name.log" 2>&1
  local status=$?
  set -e
  [ "$status" -eq 2 ] || { echo "FAIL: $name: exit $status"; tail -3 "$work/$name.log"; exit 1; }
  grep -q -- "$message" "$work/$name.log" || { echo "FAIL: $name: no '$message'"; grep error "$work/$name.log"; exit 1; }
}
expect_error no-salt "tasks\[0\].labels names a MEDS label file" "$work/labels"
expect_error float-labels "float_labels.parquet has no boolean_value or integer_value column" \
  "$work/float_labels.parquet" --salt "$work/salt" --cohort "$demo"
expect_error missing "does not exist" "$work/nothing.parquet" --salt "$work/salt" --cohort "$demo"
echo "meds_labels: all checks passed"
