#!/usr/bin/env python3
"""MEDS Parquet fixtures and data set comparison for meds_parquet_test.sh (pyarrow, h5py; no
clinfm code).
  meds_parquet.py fixtures OUT [DEMO_EVENTS_CSV_GZ]
      OUT/hand/        a MEDS data set folder (data/, metadata/) of a hand-made cohort, checked
                       against the `meds` package's schemas; OUT/hand-plain/ its data/ alone;
                       OUT/hand.csv the same events as MEDS CSV
      OUT/variant/     the same events typed as other writers may (dictionary codes, ns times,
                       float64 values, int32 ids, 37-row row groups), one file
      OUT/bad-*/       one defect each (see BAD below)
      OUT/demo/        the MIMIC-IV demo's MEDS CSV written as a MEDS Parquet data set (2 shards)
  meds_parquet.py compare A B      every HDF5 dataset and attribute, vocab.json and audit.json of
                                   two data sets equal (the audit's input paths and the Parquet
                                   form's metadata aside); prints what differs, exit 1
"""
import json
import os
import sys

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

try:
    import meds
except ImportError:  # the schema check is skipped where the package does not install
    meds = None

DATA = pa.schema([("subject_id", pa.int64()), ("time", pa.timestamp("us")), ("code", pa.string()),
                  ("numeric_value", pa.float32()), ("text_value", pa.large_string())])
SPLITS = pa.schema([("subject_id", pa.int64()), ("split", pa.string())])


def split_of(subject):
    return "train" if subject <= 20 else "tuning" if subject <= 30 else "held_out"


def hand_rows():
    """40 subjects: birth, sex (a static row placed after the timed rows, as the MIMIC demo's
    MEDS has it), ten timed events with values on the LAB codes, a death for every 7th."""
    rng = np.random.default_rng(7)
    rows = []
    codes = ["DIAGNOSIS//ICD//10//I10", "DIAGNOSIS//ICD//10//E119", "LAB//glucose//mg/dL", "LAB//hba1c//%",
             "MEDICATION//metformin", "PROCEDURE//CPT//99213"]
    for subject in range(1, 41):
        birth = np.datetime64("1950-01-01T00:00:00") + np.timedelta64(int(rng.integers(0, 30 * 365)), "D")
        rows.append((subject, birth, "MEDS_BIRTH", None))
        t = birth + np.timedelta64(40 * 365, "D")
        for _ in range(10):
            t = t + np.timedelta64(int(rng.integers(0, 400 * 86400)), "s")
            code = codes[int(rng.integers(0, len(codes)))]
            value = float(np.float32(rng.normal(100, 20))) if code.startswith("LAB") else None
            rows.append((subject, t, code, value))
        if subject <= 12:  # rare codes (6 training patients each) that codes.parquet groups under one parent
            rows.append((subject, t + np.timedelta64(1, "D"), "LAB//rare_a//x" if subject % 2 else "LAB//rare_b//y", None))
        if subject % 7 == 0:
            rows.append((subject, t + np.timedelta64(3, "D"), "MEDS_DEATH", None))
        rows.append((subject, None, "GENDER//F" if subject % 2 else "GENDER//M", None))
    return rows


def table(rows, schema=DATA):
    cols = list(zip(*rows))
    arrays = [pa.array(cols[0], pa.int64()), pa.array([None if x is None else int(x.astype("datetime64[us]").astype(np.int64)) for x in cols[1]],
                                             pa.int64()).cast(pa.timestamp("us")), pa.array(cols[2], pa.string()),
              pa.array(cols[3], pa.float32()), pa.array([None] * len(rows), pa.large_string())]
    return pa.Table.from_arrays(arrays, schema=schema)


def write_csv(rows, path):
    with open(path, "w") as f:
        f.write("subject_id,time,code,numeric_value,text_value\n")
        for subject, t, code, value in rows:
            time = "" if t is None else str(t).replace("T", " ")
            f.write(f"{subject},{time},{code},{'' if value is None else repr(value)},\n")


def validate(schema_class, t):
    if meds is not None:
        schema_class.validate(t)


def write_dataset(root, t, splits=None, name="hand-made", shards=2, check=True):
    os.makedirs(os.path.join(root, "data"), exist_ok=True)
    os.makedirs(os.path.join(root, "metadata"), exist_ok=True)
    subjects = t["subject_id"].to_numpy()
    cut = int(np.searchsorted(subjects, subjects[len(subjects) // 2])) if shards == 2 else len(subjects)
    parts = [t.slice(0, cut), t.slice(cut)] if shards == 2 else [t]
    for i, part in enumerate(parts):
        os.makedirs(os.path.join(root, "data", f"shard{i}"), exist_ok=True)
        if check:
            validate(meds.DataSchema if meds else None, part)
        pq.write_table(part, os.path.join(root, "data", f"shard{i}", "0.parquet"), row_group_size=50_000)
    json.dump({"dataset_name": name, "dataset_version": "1.0", "meds_version": "0.4.1"},
              open(os.path.join(root, "metadata", "dataset.json"), "w"))
    if splits is not None:
        if check:
            validate(meds.SubjectSplitSchema if meds else None, splits)
        pq.write_table(splits, os.path.join(root, "metadata", "subject_splits.parquet"))


def fixtures(out, demo_csv=None):
    rows = hand_rows()
    rows.sort(key=lambda r: r[0])  # stable: each subject's rows keep their order (static last)
    t = table(rows)
    split_subjects = list(range(1, 41)) + [99]  # 99: listed, without events
    splits = pa.table({"subject_id": pa.array(split_subjects, pa.int64()),
                       "split": [split_of(s) if s != 99 else "train" for s in split_subjects]}, schema=SPLITS)
    write_dataset(os.path.join(out, "hand"), t.append_column("source_table", pa.array(["x"] * len(t))), splits)
    # The same events as other writers may type them: dictionary-encoded codes (polars'
    # Categorical), nanosecond times, float64 values, int32 ids, row groups of 37 rows.
    variant = pa.table({"subject_id": t["subject_id"].cast(pa.int32()), "time": t["time"].cast(pa.timestamp("ns")),
                        "code": t["code"].dictionary_encode(), "numeric_value": t["numeric_value"].cast(pa.float64()),
                        "text_value": pa.array([None] * len(t), pa.string())})
    os.makedirs(os.path.join(out, "variant"), exist_ok=True)
    pq.write_table(variant, os.path.join(out, "variant", "events.parquet"), row_group_size=37)
    codes = pa.table({"code": ["LAB//glucose//mg/dL", "LAB//rare_a//x", "LAB//rare_b//y"],
                      "description": ["glucose", "rare a", "rare b"],
                      "parent_codes": pa.array([["LOINC/2345-7"], ["LOINC/1-1", "SNOMED/9"], ["LOINC/1-1"]],
                                               pa.list_(pa.string()))})
    validate(meds.CodeMetadataSchema if meds else None, codes)
    pq.write_table(codes, os.path.join(out, "hand", "metadata", "codes.parquet"))
    write_dataset(os.path.join(out, "hand-plain"), t.append_column("source_table", pa.array(["x"] * len(t))))
    write_csv(rows, os.path.join(out, "hand.csv"))

    # One defect each: the test expects exit 2 and the quoted words in the message.
    bad = {
        "bad-missing-code": t.drop(["code"]),
        "bad-subject-string": t.set_column(0, "subject_id", pa.array([str(s) for s in t["subject_id"].to_pylist()])),
        "bad-time-string": t.set_column(1, "time", pa.array([str(x) for x in t["time"].to_pylist()])),
        "bad-time-zone": t.set_column(1, "time", t["time"].cast(pa.timestamp("us", tz="America/New_York"))),
        "bad-unsorted-subjects": pa.concat_tables([t.slice(len(t) // 2), t.slice(0, len(t) // 2)]),
        "bad-unsorted-times": t.take(pa.array([0, 2, 1] + list(range(3, len(t))))),
        "bad-null-subject": t.set_column(0, "subject_id", pa.array([None] + t["subject_id"].to_pylist()[1:], pa.int64())),
        "bad-subject-uint64": t.set_column(0, "subject_id", pa.array([2**63 + 5] + t["subject_id"].to_pylist()[1:], pa.uint64())),
    }
    for name, bad_table in bad.items():
        write_dataset(os.path.join(out, name), bad_table, shards=1, check=False)
    write_dataset(os.path.join(out, "bad-split-name"), t,
                  pa.table({"subject_id": pa.array([1], pa.int64()), "split": ["validation"]}), shards=1,
                  check=False)
    write_dataset(os.path.join(out, "bad-truncated"), t, shards=1)
    path = os.path.join(out, "bad-truncated", "data", "shard0", "0.parquet")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    write_dataset(os.path.join(out, "bad-corrupt-pages"), t, shards=1)  # footer intact, pages not
    path = os.path.join(out, "bad-corrupt-pages", "data", "shard0", "0.parquet")
    data = bytearray(open(path, "rb").read())
    data[4:len(data) // 2] = bytes(len(data) // 2 - 4)
    open(path, "wb").write(bytes(data))
    os.makedirs(os.path.join(out, "bad-not-parquet", "data"), exist_ok=True)
    open(os.path.join(out, "bad-not-parquet", "data", "0.parquet"), "w").write("subject_id,time,code\n1,,X\n")
    write_dataset(os.path.join(out, "bad-code-cycle"), t, shards=1)
    pq.write_table(pa.table({"code": ["A//1", "B//2"], "parent_codes": [["B//2"], ["A//1"]]}),
                   os.path.join(out, "bad-code-cycle", "metadata", "codes.parquet"))
    write_dataset(os.path.join(out, "bad-dataset-json"), t, shards=1)
    open(os.path.join(out, "bad-dataset-json", "metadata", "dataset.json"), "w").write("{name: unquoted")

    if demo_csv:
        demo = pacsv.read_csv(demo_csv, convert_options=pacsv.ConvertOptions(column_types={
            "subject_id": pa.int64(), "time": pa.timestamp("us"), "code": pa.string(),
            "numeric_value": pa.float32(), "text_value": pa.large_string()}))
        write_dataset(os.path.join(out, "demo"), demo.select(DATA.names).cast(DATA), name="MIMIC-IV demo")


def h5_items(path):
    items = {}
    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            items[f"/@{k}"] = v
        def visit(name, obj):
            for k, v in obj.attrs.items():
                items[f"{name}@{k}"] = v
            if isinstance(obj, h5py.Dataset):
                items[name] = obj[()]
        f.visititems(visit)
    return items


def same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.kind == "f":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    return a == b


def normal_audit(root):
    audit = json.load(open(os.path.join(root, "audit.json")))
    audit.pop("input", None)
    audit.pop("source_metadata", None)
    audit["tables"].pop("metadata/subject_splits", None)
    for t in audit["tables"].values():
        t.pop("file", None)
        t["columns"] = [c for c in t["columns"] if c["what"] != "extra column: never read"]
    return audit


def compare(a, b):
    differences = []
    manifest = json.load(open(os.path.join(a, "manifest.json")))
    for shard in manifest["shards"]:
        left, right = h5_items(os.path.join(a, shard["file"])), h5_items(os.path.join(b, shard["file"]))
        for key in sorted(set(left) | set(right)):
            if key not in left or key not in right or not same(left[key], right[key]):
                differences.append(f"{shard['file']}: {key}")
        print(f"{shard['file']}: {len(left)} datasets and attributes compared")
    if open(os.path.join(a, "vocab.json")).read() != open(os.path.join(b, "vocab.json")).read():
        differences.append("vocab.json")
    if normal_audit(a) != normal_audit(b):
        differences.append("audit.json")
    for d in differences:
        print("differs:", d)
    print("identical" if not differences else f"{len(differences)} differences")
    return 0 if not differences else 1


def shard(csv_path, out, files):
    """A MEDS folder from a MEDS CSV (`clinfm synth`): its subjects in `files` Parquet files of
    unequal sizes (row order kept), dataset.json, codes.parquet (a stated parent for every tenth
    code) and subject_splits.parquet for every third subject (the others are drawn from the key)."""
    t = pacsv.read_csv(csv_path, convert_options=pacsv.ConvertOptions(column_types={
        "subject_id": pa.int64(), "time": pa.timestamp("us"), "code": pa.string(),
        "numeric_value": pa.float32(), "text_value": pa.string()}))
    subjects = t["subject_id"].to_numpy()
    unique = np.unique(subjects)
    weights = np.arange(1, files + 1, dtype=float)  # file i holds about (i + 1) parts
    edges = [unique[int(len(unique) * c)] for c in np.cumsum(weights)[:-1] / weights.sum()]
    cuts = [0] + [int(np.searchsorted(subjects, e)) for e in edges] + [len(subjects)]
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    os.makedirs(os.path.join(out, "metadata"), exist_ok=True)
    for i in range(files):
        pq.write_table(t.slice(cuts[i], cuts[i + 1] - cuts[i]), os.path.join(out, "data", f"part-{i:03d}.parquet"),
                       row_group_size=20_000)
    json.dump({"dataset_name": "synth", "dataset_version": "1.0"}, open(os.path.join(out, "metadata", "dataset.json"), "w"))
    codes = sorted(set(t["code"].to_pylist()))[::10]
    pq.write_table(pa.table({"code": codes, "description": codes,
                             "parent_codes": pa.array([["GROUP/" + c[:3]] for c in codes], pa.list_(pa.string()))}),
                   os.path.join(out, "metadata", "codes.parquet"))
    listed = unique[::3]
    pq.write_table(pa.table({"subject_id": pa.array(listed, pa.int64()),
                             "split": [["train", "tuning", "held_out"][i % 3] for i in range(len(listed))]}, schema=SPLITS),
                   os.path.join(out, "metadata", "subject_splits.parquet"))


if __name__ == "__main__":
    if sys.argv[1] == "fixtures":
        fixtures(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif sys.argv[1] == "shard":
        shard(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
