#!/usr/bin/env bash
# Delphi-2M end to end on ../shared/data/delphi-sim (exit 77, skipped, when it is absent): prep of
# Delphi's data folder, a small model trained a few steps, `clinfm eval` with Delphi's protocol.
# Python re-derives from the raw val.bin and labels.csv, without clinfm's code, which diseases are
# scored and every disease's number of held-out cases (the importer's token shift, the "No event"
# tokens, the 0.1-day offset and the age brackets all enter that count), and checks each disease's
# AUC is the mean over its strata.
# usage: delphi_test.sh CLINFM SOURCE_DIR
set -u
CLINFM_PYTHON=${CLINFM_PYTHON:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python}
clinfm=$1 src=$2
data=$src/../shared/data/delphi-sim
if [ ! -f "$data/val.bin" ]; then
  echo "SKIP: $data not present (../shared/data is not part of a clone)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
set -e
cd "$src"
"$clinfm" prep --format delphi --input "$data" --output "$work/ds" --config configs/delphi-2m.yaml \
  data.salt_file="$work/salt" >/dev/null 2>&1
"$clinfm" train configs/delphi-2m-short.yaml data.dataset="$work/ds" run.out_dir="$work/run" run.threads=2 \
  model.n_layers=2 model.n_heads=2 model.d_model=32 model.d_ff=64 train.max_steps=30 optim.warmup_steps=5 \
  train.global_batch_size=32 train.micro_batch_size=32 train.validation_every=0 checkpoint.keep_best=false \
  >/dev/null 2>&1
cat >"$work/suite.yaml" <<'EOF'
name: delphi-e2e
context_events: 48
delphi: {min_occurrences: 300, count_baseline_controls: 1000}
EOF
"$clinfm" eval "$work/suite.yaml" --checkpoint "$work/run" --dataset "$work/ds" --out "$work/eval" >"$work/log" 2>&1 ||
  { tail -20 "$work/log"; exit 1; }
grep -q "Delphi-2M protocol" "$work/eval/report.html"
[ "$(grep -o "<svg" "$work/eval/report.html" | wc -l)" -ge 2 ]
"$CLINFM_PYTHON" - "$data" "$work" <<'EOF'
import json, math, sys
import numpy as np

data, work = sys.argv[1], sys.argv[2]
labels = [l.rstrip("\r\n") for l in open(f"{data}/labels.csv")]
def code(label):
    return "DELPHI//" + label.split(" (")[0].replace(" ", "_")

def chapter(c):
    if c == "DELPHI//Death": return "Death"
    icd = c[len("DELPHI//"):]
    if icd.startswith("CXX"): return "II"
    if len(icd) < 3 or not ("A" <= icd[0] <= "Q") or not icd[1:3].isdigit() or (len(icd) > 3 and icd[3] != "_"):
        return None
    n = int(icd[1:3])
    if icd[0] == "D": return "II" if n <= 48 else "III"
    if icd[0] == "H": return "VII" if n <= 59 else "VIII"
    return icd[0]

vocab = json.load(open(f"{work}/ds/vocab.json"))
tokens = vocab["tokens"] if isinstance(vocab, dict) and "tokens" in vocab else vocab
expected = sorted(t["code"] for t in tokens
                  if t.get("origin") == "code" and t.get("train_events", 0) >= 300 and chapter(t["code"]))
result = json.load(open(f"{work}/eval/results.json"))["delphi"]
model = result["methods"]["model"]["diseases"]
got = sorted(d["code"] for d in model)
assert got == expected, (len(got), len(expected), set(got) ^ set(expected))
assert set(result["methods"]) == {"model", "age_sex_baseline", "count_baseline"}, result["methods"].keys()

# Held-out cases from the raw file: model token = raw + 1; "No event" at 1 + 5k * 365.25 days up to the
# last event; a case is the first event of a disease predicted from the last event more than 0.1 day
# earlier, whose age is in [40, 80) years; patients without a sex token are skipped.
val = np.fromfile(f"{data}/val.bin", dtype=np.uint32).reshape(-1, 3).astype(np.int64)
scored = set(expected)
cases = {c: 0 for c in scored}
bounds = np.flatnonzero(np.diff(val[:, 0])) + 1
for rows in np.split(val, bounds):
    names = [labels[t + 1] for t in rows[:, 2]]
    if not any(n in ("Female", "Male") for n in names):
        continue
    events = [(0.0, "MEDS_BIRTH")] + [(0.0, "sex")]
    real = [(float(a), code(n)) for a, n in zip(rows[:, 1], names) if n not in ("Female", "Male")]
    last = max([a for a, _ in real], default=0.0)
    age = 1.0
    while age <= last:
        events.append((age, "DELPHI//No_event"))
        age += 5 * 365.25
    events = sorted(events + real, key=lambda e: e[0])
    seen = set()
    for i, (a, c) in enumerate(events):
        if i == 0 or c not in scored or c in seen:
            continue
        seen.add(c)
        before = [e for e in events[:i] if e[0] < a - 0.1]
        if before and 40 <= before[-1][0] / 365.25 < 80:
            cases[c] += 1
bad = [(d["code"], d["cases"], cases[d["code"]]) for d in model if d["cases"] != cases[d["code"]]]
assert not bad, bad[:10]
for d in model:
    if d["strata"]:
        mean = sum(s["auc"] for s in d["strata"]) / len(d["strata"])
        assert abs(mean - d["auc"]) < 1e-9, d["code"]
        assert all(s["cases"] >= 2 and s["controls"] >= 2 for s in d["strata"]), d["code"]
summary = result["methods"]["model"]["summaries"][0]
assert summary["name"] == "all" and 0.3 < summary["mean_auc"] < 1.0, summary
print(f"ok: {len(got)} diseases, {sum(cases.values())} held-out cases as re-derived from val.bin; "
      f"model {summary['mean_auc']:.3f}, age-sex "
      f"{result['methods']['age_sex_baseline']['summaries'][0]['mean_auc']:.3f}, count "
      f"{result['methods']['count_baseline']['summaries'][0]['mean_auc']:.3f}")
EOF
