#!/usr/bin/env python3
"""Writes bench/RESULTS.md (to stdout) from what bench/run_all.sh's benchmarks left behind:
bench/results/{prep,train}.json and the printed tables in bench/results/logs/*.log. It parses,
it does not measure. The machine facts come from RUN_ALL_* environment variables.
usage: results_md.py RESULTS_DIR GPU_RESULTS_DIR"""
import json
import os
import re
import sys

results, gpu_dir = sys.argv[1], sys.argv[2]
env = os.environ.get
failed = set((env("RUN_ALL_FAILED") or "").split())
out = []
quick = env("RUN_ALL_QUICK") == "1"


def log(name):
    path = os.path.join(results, "logs", name + ".log")
    return open(path).read() if os.path.exists(path) else ""


def table_rows(text):
    """The cells of every Markdown table row of a printed table (separator rows left out)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[\s\-:|]+\|$", line):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def table(title, name, header, rows, note=""):
    """One area's section; `name` is run_all.sh's step (and log) name."""
    out.append(f"## {title}\n")
    if quick and name == "train":
        out.append("Skipped with --quick (bench/train_bench.sh has fixed sizes).\n")
        return
    if name in failed or not rows:
        out.append(f"Not measured: the benchmark failed or printed nothing; see bench/results/logs/{name}.log.\n")
        return
    out.append("| " + " | ".join(header) + " |")
    out.append("| " + " | ".join("---" for _ in header) + " |")
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    if note:
        out.append("\n" + note)
    out.append("")


def verdict(ok):
    return "met" if ok else "**not met**"


out.append("# clinfm benchmark results\n")
if quick:
    out.append("> **QUICK RUN (bench/run_all.sh --quick): small sizes to check the script, not results.**\n")
out.append(f"- machine: {env('RUN_ALL_CPU')}, {env('RUN_ALL_CORES')} cores, {env('RUN_ALL_MEM')} memory")
out.append(f"- OS: {env('RUN_ALL_OS')} (kernel {env('RUN_ALL_KERNEL')})")
out.append(f"- date: {env('RUN_ALL_DATE')}; commit {env('RUN_ALL_COMMIT')}")
out.append("- written by `bench/run_all.sh` from each script's table or JSON (logs in bench/results/logs/)\n")

# Data pipeline: bench/prep_bench.sh -> prep.json
rows = []
if os.path.exists(os.path.join(results, "prep.json")) and "prep" not in failed:
    p = json.load(open(os.path.join(results, "prep.json")))
    names = {"synth": "synth", "prep": "prep (MEDS CSV)", "prep_parquet": "prep (MEDS Parquet)"}
    for stage in [s for s in names if s in p]:
        s = p[stage]
        per_core = p["events"] / s["cpu_s"] / 1e6 if s["cpu_s"] > 0 else float("nan")
        target = "≥ 1M events/s per core" if stage != "synth" else "—"
        status = verdict(per_core >= 1.0) if stage != "synth" else "—"
        rows.append([names[stage], f"{p['events'] / s['wall_s'] / 1e6:.2f}M", f"{per_core:.2f}M", s["peak_rss_mb"],
                     "—", target, status])
table("Data pipeline", "prep", ["step", "events/s", "events/s per core", "peak RSS (MB)", "peer", "target", "status"], rows,
      (f"{p['patients']} patients, {p['events']} events " if rows else "")
      + "(`clinfm synth`, then `clinfm prep --format meds` of the MEDS CSV and of the same events as a "
      "4-file MEDS Parquet folder). No peer tool is measured in the same run.")

# Training throughput: bench/train_bench.sh -> train.json
rows = []
targets = {"tiny": 1.25, "small": 1.0}
if os.path.exists(os.path.join(results, "train.json")) and "train" not in failed:
    for r in json.load(open(os.path.join(results, "train.json"))):
        ratio = r.get("ratio_median", r["clinfm_tokens_per_s"] / r["pytorch_tokens_per_s"])
        spread = f"{r['ratio_min']:.2f}–{r['ratio_max']:.2f}x" if "ratio_min" in r else "—"
        t = targets.get(r["preset"])
        rows.append([r["preset"], str(r.get("vocab", "2000")), f"{r['clinfm_tokens_per_s']:.0f}",
                     f"{r['pytorch_tokens_per_s']:.0f}", f"{ratio:.2f}x", spread, f"{100 * r['mfu']:.1f}%" if "mfu" in r else "—",
                     f"≥ {t:.2f}x" if t else "—", verdict(ratio >= t) if t else "—"])
table("Training throughput (CPU)", "train", ["preset", "vocabulary", "clinfm tokens/s", "Python PyTorch tokens/s", "ratio (median)",
                                             "ratio range", "clinfm MFU", "target", "status"],
      rows, "Same model, batch, sequence, optimizer and threads, in adjacent pairs of runs with the order "
      "alternating; the ratio is taken within each pair, median over the rounds (`bench/train_bench.sh`).")

# The same comparison with both programs running at once on separate cores: train_paired.json
rows = []
if os.path.exists(os.path.join(results, "train_paired.json")) and "train" not in failed:
    for r in json.load(open(os.path.join(results, "train_paired.json"))):
        t = targets.get(r["preset"])
        rows.append([r["preset"], str(r.get("vocab", "2000")), f"{r['clinfm_tokens_per_s']:.0f}",
                     f"{r['pytorch_tokens_per_s']:.0f}", f"{r['ratio_median']:.2f}x", f"{r['ratio_min']:.2f}–{r['ratio_max']:.2f}x",
                     f"≥ {t:.2f}x" if t else "—", verdict(r["ratio_median"] >= t) if t else "—"])
    table("Training throughput (CPU), paired at 1 thread", "train",
          ["preset", "vocabulary", "clinfm tokens/s", "Python PyTorch tokens/s", "ratio (median)", "ratio range",
           "target", "status"],
          rows, "Both programs at once, one thread each, pinned to cores 0 and 1 and swapped every round: "
          "the machine's speed drift hits both equally.")

# All-reduce: the table of bench/allreduce_bench.cpp
rows = []
for c in table_rows(log("allreduce")):
    if len(c) == 9 and c[0] != "size":
        rows.append([c[0], c[2], c[3], c[4], c[6], f"{float(c[8]):.2f}x"])
table("All-reduce (2 ranks, MPI)", "allreduce", ["size", "clinfm µs", "raw MPI_Allreduce µs", "clinfm algbw GB/s",
                                    "raw algbw GB/s", "clinfm / raw time"], rows,
      "float32 sum in place; best of the trials (`bench/allreduce_bench.sh`). No target is set; 1.00x is parity.")

# DDP overlap: bench/ddp_overlap_bench.sh
rows, on = [], None
for c in table_rows(log("overlap")):
    if c and c[0] in ("true", "false"):
        pct = float(c[3].rstrip("%"))
        if c[0] == "true":
            on = pct
        rows.append(["on" if c[0] == "true" else "off (peer)", c[1], c[2], f"{pct:.2f}%",
                     "≤ 5%" if c[0] == "true" else "—", verdict(pct <= 5.0) if c[0] == "true" else "—"])
table("DDP overlap (2 ranks)", "overlap", ["bucket overlap", "step ms", "exposed comm ms", "exposed % of step", "target", "status"],
      rows, "Exposed communication = time waiting for gradient all-reduces after backward "
      "(`bench/ddp_overlap_bench.sh`).")

# Checkpoint save: bench/checkpoint_bench.sh
rows, values = [], {}
for c in table_rows(log("checkpoint")):
    if len(c) == 3 and c[0] != "what":
        values[c[0]] = c
if values:
    sync = values.get("clinfm save, synchronous")
    dd = values.get("dd of the same bytes, conv=fsync")
    asyn = values.get("clinfm stall, asynchronous")
    if sync and dd:
        ratio = float(sync[2]) / float(dd[2])
        rows.append(["synchronous save", f"{sync[1]} ms, {sync[2]} MB/s", f"dd + fsync: {dd[1]} ms, {dd[2]} MB/s",
                     f"{ratio:.2f}x of dd's bandwidth (target >= 0.7x: {verdict(ratio >= 0.7)})"])
    if asyn and sync:
        rows.append(["asynchronous stall", f"{asyn[1]} ms", f"synchronous save: {sync[1]} ms",
                     f"{100 * float(asyn[1]) / float(sync[1]):.1f}% of a synchronous save"])
size = re.search(r"checkpoint size ([0-9.]+ MB)", log("checkpoint"))
table("Checkpoint save", "checkpoint", ["what", "clinfm", "peer (same disk, same run)", "ratio"], rows,
      f"Checkpoint of {size.group(1) if size else '?'} (`bench/checkpoint_bench.sh`). Target (issue #19): a "
      "synchronous save at >= 0.7x of dd's bandwidth.")

# Resume: bench/resume_repeat.sh
m = re.search(r"(\d+) of (\d+) killed-and-resumed runs are bitwise identical", log("resume"))
rows = []
if m:
    same, total = int(m.group(1)), int(m.group(2))
    rows.append([f"{total}", f"{same}", "all", verdict(same == total)])
table("Resume repeat (kill -9, 2 ranks)", "resume", ["rounds", "bitwise identical to the uninterrupted run", "target", "status"],
      rows, "Rank 1 killed with SIGKILL at a random step, then `--resume auto` (`bench/resume_repeat.sh`).")

# Sections written by hand into the RESULTS.md this replaces (measurements that run_all.sh does not
# make: the GPU run, Delphi-2M, the soak, the fuzzing campaign...) are carried over unchanged.
previous = {}
old_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
if os.path.exists(old_path):
    for part in re.split(r"^(?=## )", open(old_path).read(), flags=re.M)[1:]:
        previous[part.splitlines()[0][3:].strip()] = part.rstrip() + "\n"
written = {line[3:].strip() for line in out if line.startswith("## ")}
old_gpu = [t for t in previous if t.startswith("GPU")]

# GPU
eager = os.path.join(gpu_dir, "eager.json")
if os.path.exists(eager):
    out.append("## GPU\n")
    out.append("From `scripts/gpu/device_check.sh` (its `eager.json` copied to bench/results/gpu/):\n")
    out.append("```json\n" + open(eager).read().strip() + "\n```\n")
elif old_gpu:
    written.update(old_gpu)
    out.extend(previous[t] for t in old_gpu)
else:
    out.append("## GPU\n")
    out.append("Not measured yet. GPU rows come from `scripts/gpu/device_check.sh` on the GPU machine "
               "(docs/gpu.md): the eager-PyTorch peer `bench/gpu/train_eager.py` and clinfm's own CUDA "
               "numbers (`train_throughput --device cuda --precision bf16`). Copy its "
               "`eager.json` into bench/results/gpu/ and rerun this script to include them.\n")
written.add("GPU")
out.extend(previous[t] for t in previous if t not in written and not t.startswith("GPU"))
print("\n".join(out))
