#!/usr/bin/env python3
"""Reads a clinfm data set with h5py only (no clinfm code) and checks the documented layout
(docs/data/format.md): attributes, CSR offsets, dtypes, value bins, ages, manifest totals.
Prints one line per shard and 'N passed, N failed'. Run with Debian's /usr/bin/python3.
usage: read_dataset.py DATASET_DIR"""
import json
import math
import os
import sys

import h5py
import numpy as np

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def main(root):
    manifest = json.load(open(os.path.join(root, "manifest.json")))
    vocab = json.load(open(os.path.join(root, "vocab.json")))
    check(manifest["format"] == "clinfm-dataset", "manifest format")
    vocab_size = len(vocab["tokens"])
    check(vocab_size == manifest["vocabulary"]["size"], "vocabulary size")
    totals = {}
    keys = set()
    checks = 0
    for entry in manifest["shards"]:
        path = os.path.join(root, entry["file"])
        with h5py.File(path, "r") as f:
            attrs = f.attrs
            check(attrs["format"] == b"clinfm-shard", f"{path}: format attribute")
            check(int(attrs["schema_version"]) == 1, f"{path}: schema_version")
            check(attrs["split"].decode() == entry["split"], f"{path}: split attribute")
            offsets = f["patients/offsets"][:]
            key = f["patients/key"][:]
            sex = f["patients/sex"][:]
            token = f["events/token"][:]
            age = f["events/age_days"][:]
            value = f["events/value"][:]
            value_bin = f["events/value_bin"][:]
            n = len(key)
            check(key.dtype == np.dtype("S16"), f"{path}: key dtype {key.dtype}")
            check(offsets.dtype == np.int64 and token.dtype == np.int32, f"{path}: dtypes")
            check(age.dtype == np.float64 and value.dtype == np.float32 and value_bin.dtype == np.uint8, f"{path}: dtypes")
            check(sex.dtype == np.int8 and set(np.unique(sex)) <= {0, 1, 2}, f"{path}: sex")
            check(len(offsets) == n + 1 and offsets[0] == 0 and offsets[-1] == len(token), f"{path}: offsets")
            check(bool(np.all(np.diff(offsets) >= 1)), f"{path}: every patient has events")
            check(len(age) == len(value) == len(value_bin) == len(token), f"{path}: event arrays differ in length")
            check(int(attrs["n_patients"]) == n == entry["patients"], f"{path}: patient count")
            check(int(attrs["n_events"]) == len(token) == entry["events"], f"{path}: event count")
            check(bool(np.all((token >= 1) & (token < vocab_size))), f"{path}: tokens outside the vocabulary")
            check(bool(np.all((value_bin == 0) == np.isnan(value))), f"{path}: value_bin 0 iff no value")
            check(bool(np.all(age >= 0)), f"{path}: negative age")
            for i in range(n):
                a = age[offsets[i]:offsets[i + 1]]
                check(bool(np.all(np.diff(a) >= 0)), f"{path}: patient {i} ages not sorted")
                check(vocab["tokens"][token[offsets[i]]]["code"] == "MEDS_BIRTH", f"{path}: patient {i} does not start at birth")
            for k in key:
                check(len(k) == 16 and all(c in b"0123456789abcdef" for c in k), f"{path}: malformed key {k!r}")
                check(k not in keys, f"{path}: key {k!r} in two shards")
                keys.add(k)
            totals[entry["split"]] = totals.get(entry["split"], 0) + n
            checks += 1
            print(f"ok   {entry['file']}: {n} patients, {len(token)} events")
    for split, n in manifest["splits"]["patients"].items():
        check(totals.get(split, 0) == n, f"split {split}: {totals.get(split, 0)} patients in shards, manifest says {n}")
    for f in failures:
        print("FAIL " + f)
    print(f"{checks} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
