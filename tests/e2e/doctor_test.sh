#!/usr/bin/env bash
# `clinfm doctor`, in three modes (three ctest tests):
#   sections  every section (mpi, gpu, hdf5, blas, threads, disk) reports a status; exit 0 with no
#             FAIL; the BLAS it names is the one the dynamic linker resolves for clinfm; the CPU
#             kernels split over every LibTorch thread (an OpenMP build); a config's
#             run.threads above the cores is an oversubscription WARN; OMP_NUM_THREADS=1 on a
#             multi-core node is a WARN; a config's run.out_dir that does not exist yet is checked
#             where it will be created; a bad config exits 2.
#   mpi       under `mpirun -np 2`: one report (rank 0's node), world size 2 and 2 ranks on the
#             node, LibTorch threads = cores / 2; OMP_NUM_THREADS=8 (2 x 8 > cores) is a WARN
#             naming the oversubscription, OMP_NUM_THREADS = cores / 2 is not.
#   bad-dir   --dir under a regular file (ENOTDIR), a missing folder and /proc (not writable, also
#             for root) -> a disk FAIL naming the folder and exit 1.
# usage: doctor_test.sh MODE CLINFM SOURCE_DIR [MPIEXEC [MPIEXEC_FLAGS...]]
mode=$1 clinfm=$2 src=$3
shift 3
mpiexec=${1:-mpirun}
[ $# -gt 0 ] && shift
mpiflags=("$@")
source "$(dirname "${BASH_SOURCE[0]}")/cluster_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
cores=$(nproc --all)

# doctor EXPECTED_RC OUT ARGS...: runs `clinfm doctor ARGS` into OUT, checks the exit code.
doctor() {
  local expected=$1 out=$2
  shift 2
  "$clinfm" doctor "$@" >"$out" 2>&1
  local rc=$?
  [ $rc -eq "$expected" ] || { echo "  clinfm doctor $* exited $rc, expected $expected"; sed 's/^/  | /' "$out"; return 1; }
}
section() { grep -Eq "^(OK|INFO|WARN|FAIL) +$1 +[^ ]" "$2" || { echo "  no '$1' line in $2:"; sed 's/^/  | /' "$2"; return 1; }; }

case $mode in
  sections)
    check "doctor exits 0" doctor 0 "$work/plain.out" --min-free-gib 0.001
    for s in mpi gpu hdf5 blas threads disk; do check "section $s has a status" section "$s" "$work/plain.out"; done
    check "no FAIL" has "^doctor: 0 FAIL" "$work/plain.out"
    check "MPI library version" has "^OK    mpi      Open MPI v[0-9]" "$work/plain.out"
    check "not under a launcher: a world of one" has "launched by nothing (a plain process): world size 1" "$work/plain.out"
    if [ ! -d /proc/driver/nvidia/gpus ]; then  # on a GPU node the line is OK or WARN
      check "no GPU on this node is INFO, not a failure" has "^INFO  gpu      \(CPU\|CUDA\) build.* no GPU on this node" "$work/plain.out"
    fi
    check "HDF5 header and library agree" has "^OK    hdf5     HDF5 [0-9]*\.[0-9]*\.[0-9]* (headers and library agree)" "$work/plain.out"
    blas=$(ldd "$clinfm" | awk '/libblas|openblas|mkl/ {print $3; exit}')
    if [ -n "$blas" ]; then
      check "BLAS named is the one ldd resolves ($(readlink -f "$blas"))" has "blas .*$(readlink -f "$blas")" "$work/plain.out"
    fi
    check "disk of the current folder" has "^OK    disk     \.: [0-9.]* GiB free" "$work/plain.out"
    check "threads line names cores and ranks" has "threads  $cores cores on this node .* 1 rank(s) on it; run.threads=0 (auto) -> $cores LibTorch threads" "$work/plain.out"
    check "CPU kernels split over every LibTorch thread (OpenMP build)" has "clinfm's CPU kernels split over $cores)" "$work/plain.out"

    check "run.threads above the cores" doctor 0 "$work/over.out" "$src/configs/quickstart.yaml" run.threads=$((2 * cores)) \
      --min-free-gib 0.001
    check "  is an oversubscription WARN" has "^WARN  threads  oversubscribed: 1 ranks x $((2 * cores)) LibTorch threads" "$work/over.out"
    check "  run.out_dir not there yet: checked where it is created" has "runs/quickstart does not exist yet; checked \." "$work/over.out"
    if [ "$cores" -ge 2 ]; then
      OMP_NUM_THREADS=1 doctor 0 "$work/omp1.out" --min-free-gib 0.001
      check "OMP_NUM_THREADS=1 on $cores cores is a WARN" has "^WARN  threads  OMP_NUM_THREADS=1 .* export OMP_NUM_THREADS=$cores" "$work/omp1.out"
    fi
    OMP_NUM_THREADS=$cores doctor 0 "$work/omp.out" --min-free-gib 0.001
    check "OMP_NUM_THREADS=cores is no WARN" lacks "^WARN  threads" "$work/omp.out"
    check "a tiny free-space threshold is no WARN" lacks "^WARN  disk" "$work/omp.out"
    doctor 0 "$work/full.out" --min-free-gib 100000000
    check "free space under --min-free-gib is a WARN" has "^WARN  disk     \.: .* under 100000000 GiB" "$work/full.out"
    printf 'run:\n  threds: 2\n' >"$work/bad.yaml"
    check "a bad config exits 2" doctor 2 "$work/bad.out" "$work/bad.yaml"
    check "  naming file, line and key" has "bad.yaml:2:3: error: run.threds: unknown key" "$work/bad.out"
    ;;
  mpi)
    omp=$((cores < 16 ? 8 : cores))
    timeout 120 "$mpiexec" -np 2 "${mpiflags[@]}" -x OMP_NUM_THREADS=$omp "$clinfm" doctor --min-free-gib 0.001 \
      >"$work/mpi.out" 2>&1
    check "doctor under mpirun -np 2 exits 0" test $? -eq 0
    check "one report per node" test "$(grep -c '^clinfm doctor on' "$work/mpi.out")" -eq 1
    check "the report is rank 0's" has "^clinfm doctor on .* (rank 0 of 2)" "$work/mpi.out"
    check "launched by mpirun, world 2, 2 ranks on the node" has "launched by mpirun (Open MPI): world size 2, 2 rank(s) on this node" "$work/mpi.out"
    half=$((cores / 2 > 0 ? cores / 2 : 1))
    check "LibTorch threads = cores / ranks on the node" has "2 rank(s) on it; run.threads=0 (auto) -> $half LibTorch threads" "$work/mpi.out"
    check "OMP_NUM_THREADS=$omp x 2 ranks > $cores cores: WARN" has "^WARN  threads  oversubscribed: 2 ranks x OMP_NUM_THREADS=$omp = $((2 * omp)) OpenMP threads on $cores cores" "$work/mpi.out"
    timeout 120 "$mpiexec" -np 2 "${mpiflags[@]}" -x OMP_NUM_THREADS=$half "$clinfm" doctor --min-free-gib 0.001 \
      >"$work/mpi_ok.out" 2>&1
    check "OMP_NUM_THREADS=$half on 2 ranks: exit 0" test $? -eq 0
    check "  and not oversubscribed" lacks "oversubscribed" "$work/mpi_ok.out"
    check "2 ranks see one folder" has "^OK    shared   .* is one folder for all 2 ranks" "$work/mpi_ok.out"
    # Two ranks in different working folders with a relative --dir: not one shared folder.
    mkdir -p "$work/node-a" "$work/node-b"
    timeout 120 "$mpiexec" "${mpiflags[@]}" -np 1 -wdir "$work/node-a" "$clinfm" doctor --min-free-gib 0.001 --dir . : \
      -np 1 -wdir "$work/node-b" "$clinfm" doctor --min-free-gib 0.001 --dir . >"$work/unshared.out" 2>&1
    check "ranks that do not share --dir: exit 1" test $? -eq 1
    check "  a shared FAIL on rank 0" has "^FAIL  shared   some rank does not see the token rank 0 wrote into \." "$work/unshared.out"
    check "  and the token file is removed" test -z "$(ls -A "$work/node-a")"
    ;;
  bad-dir)
    echo "a file" >"$work/file"
    check "--dir under a regular file" doctor 1 "$work/notdir.out" --dir "$work/file/sub"
    check "  is a disk FAIL naming the path" has "^FAIL  disk     $work/file/sub: not a folder path" "$work/notdir.out"
    check "  counted" has "^doctor: 1 FAIL" "$work/notdir.out"
    check "--dir on a missing folder" doctor 1 "$work/missing.out" --dir "$work/none"
    check "  is a disk FAIL naming it" has "^FAIL  disk     $work/none: no such folder; create it" "$work/missing.out"
    check "--dir on a regular file" doctor 1 "$work/file.out" --dir "$work/file"
    check "  is a disk FAIL" has "^FAIL  disk     $work/file: is a file, not a folder" "$work/file.out"
    check "--dir /proc (not writable, even for root)" doctor 1 "$work/proc.out" --dir /proc
    check "  is a disk FAIL" has "^FAIL  disk     /proc is not writable" "$work/proc.out"
    check "the other sections still report" section hdf5 "$work/proc.out"
    ;;
  *)
    echo "usage: doctor_test.sh sections|mpi|bad-dir CLINFM SOURCE_DIR [MPIEXEC [FLAGS...]]"
    exit 2
    ;;
esac
finish
