#!/usr/bin/env bash
# Data pipeline throughput: `clinfm synth` of N patients, then `clinfm prep --format meds` of
# the result, as MEDS CSV and as a MEDS Parquet data set folder (written from the CSV by the
# venv's pyarrow, in MEDS's order, 4 files; that conversion is not timed), and that folder again
# over 2 MPI ranks (`mpirun -np 2 clinfm prep`). Prints wall time, events/s, events/s per core
# (user+sys CPU of all ranks) and peak RSS (of the largest process) of each step as a table, and
# writes bench/results/prep.json.
#   bench/prep_bench.sh [PATIENTS=100000] [CLINFM=build/release/bin/clinfm]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
patients=${1:-100000}
clinfm=${2:-$root/build/release/bin/clinfm}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)"; exit 1; }

measure() {  # measure NAME CMD... ; sets wall, cpu, rss_mb
  local name=$1
  shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" >"$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
  read -r wall user sys rss_kb <"$work/time"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')
  rss_mb=$(awk -v k="$rss_kb" 'BEGIN{printf "%.0f", k/1024}')
}

measure synth "$clinfm" synth --patients "$patients" --seed 1 --out "$work/cohort.csv.gz"
synth_wall=$wall synth_cpu=$cpu synth_rss=$rss_mb
rows=$(($(zcat "$work/cohort.csv.gz" | wc -l) - 1))
measure prep "$clinfm" prep --format meds --input "$work/cohort.csv.gz" --output "$work/ds" \
  data.salt_file="$work/salt"
prep_wall=$wall prep_cpu=$cpu prep_rss=$rss_mb

python=${CLINFM_PYTHON:-$root/.venv/bin/python}
"$python" - "$work/cohort.csv.gz" "$work/meds" <<'EOF'
import os, sys
import pyarrow as pa, pyarrow.csv as pacsv, pyarrow.parquet as pq
types = {"subject_id": pa.int64(), "time": pa.timestamp("us"), "code": pa.string(), "numeric_value": pa.float32()}
t = pacsv.read_csv(sys.argv[1], convert_options=pacsv.ConvertOptions(column_types=types, include_columns=list(types)))
t = t.sort_by([("subject_id", "ascending"), ("time", "ascending")])
os.makedirs(os.path.join(sys.argv[2], "data"))
subjects = t["subject_id"].to_numpy()
start = 0
for i in range(4):
    end = len(t) if i == 3 else int((subjects < subjects[(i + 1) * len(t) // 4]).sum())
    pq.write_table(t.slice(start, end - start), os.path.join(sys.argv[2], "data", f"{i}.parquet"))
    start = end
EOF
measure prep_parquet "$clinfm" prep --format meds --input "$work/meds" --output "$work/ds-parquet" \
  data.salt_file="$work/salt"
parquet_wall=$wall parquet_cpu=$cpu parquet_rss=$rss_mb
mpi_flags=(--oversubscribe)
[ "$(id -u)" = 0 ] && mpi_flags+=(--allow-run-as-root)
measure prep_ranks "${MPIEXEC:-mpirun}" "${mpi_flags[@]}" -np 2 "$clinfm" prep --format meds --input "$work/meds" \
  --output "$work/ds-ranks" data.salt_file="$work/salt"
ranks_wall=$wall ranks_cpu=$cpu ranks_rss=$rss_mb

rate() { awk -v n="$1" -v t="$2" 'BEGIN{ if (t > 0) printf "%.2fM", n/t/1e6; else print "-" }'; }
echo "clinfm data pipeline, $patients patients, $rows events, $(nproc --all) cores, $(lscpu | sed -n 's/^Model name: *//p')"
printf '| %-14s | %9s | %8s | %12s | %16s | %13s |\n' step "wall (s)" "CPU (s)" "events/s" "events/s per core" "peak RSS (MB)"
printf '| %-14s | %9s | %8s | %12s | %16s | %13s |\n' -------------- --------- -------- ------------ ---------------- -------------
printf '| %-14s | %9s | %8s | %12s | %16s | %13s |\n' synth "$synth_wall" "$synth_cpu" "$(rate $rows $synth_wall)" "$(rate $rows $synth_cpu)" "$synth_rss"
printf '| %-14s | %9s | %8s | %12s | %16s | %13s |\n' "prep (CSV)" "$prep_wall" "$prep_cpu" "$(rate $rows $prep_wall)" "$(rate $rows $prep_cpu)" "$prep_rss"
printf '| %-14s | %9s | %8s | %12s | %16s | %13s |\n' "prep (Parquet)" "$parquet_wall" "$parquet_cpu" "$(rate $rows $parquet_wall)" "$(rate $rows $parquet_cpu)" "$parquet_rss"
printf '| %-14s | %9s | %8s | %12s | %16s | %13s |\n' "prep (Parquet, 2 ranks)" "$ranks_wall" "$ranks_cpu" "$(rate $rows $ranks_wall)" "$(rate $rows $ranks_cpu)" "$ranks_rss"
echo "target: prep >= 1M events/s per core; 2 ranks: the same data set (tests/data/prep_ranks_test.sh), in less wall time"
mkdir -p "$root/bench/results"
cat >"$root/bench/results/prep.json" <<JSON
{"patients": $patients, "events": $rows, "cores": $(nproc --all),
 "synth": {"wall_s": $synth_wall, "cpu_s": $synth_cpu, "peak_rss_mb": $synth_rss},
 "prep": {"wall_s": $prep_wall, "cpu_s": $prep_cpu, "peak_rss_mb": $prep_rss},
 "prep_parquet": {"wall_s": $parquet_wall, "cpu_s": $parquet_cpu, "peak_rss_mb": $parquet_rss},
 "prep_parquet_2_ranks": {"wall_s": $ranks_wall, "cpu_s": $ranks_cpu, "peak_rss_mb": $ranks_rss}}
JSON
