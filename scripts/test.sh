#!/usr/bin/env bash
# The README's test command and what CI runs: setup (install + release build), every ctest test
# of the release build (unit, mpi, e2e; gpu tests report "skipped" without a GPU), then the unit
# tests of the torch-free libraries (configs, file I/O, hashing, CSV/MEDS/MIMIC/Synthea/Delphi
# parsing, HDF5, de-identification, eval suites and metrics: where input bytes meet memory) built with
# clang's AddressSanitizer + UBSan, and a smoke run of each libFuzzer target (tests/fuzz). The
# whole suite under the sanitizers (LibTorch code included) is one variable away;
# it does not fit CI's time on 2 cores. Prints each ctest summary; exits non-zero if any test failed.
#   CLINFM_TEST_LABELS=unit   run only tests with this label (ctest -L)
#   CLINFM_SANITIZERS=0       skip the sanitizer build
#   CLINFM_SANITIZER_TARGETS="all"   sanitizer build of everything (default: the torch-free unit tests + fuzz smoke)
#   CLINFM_FUZZ_SECONDS=N     seconds of fuzzing per target in the smoke (default 5)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
start=$(date +%s)
jobs=$(nproc --all)

"$root/scripts/setup.sh"

# Each MPI rank and each LibTorch test sets its own threads; keep OpenMP from oversubscribing.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
labels=()
[ -n "${CLINFM_TEST_LABELS:-}" ] && labels=(-L "$CLINFM_TEST_LABELS")

status=0
echo "== release tests"
ctest --test-dir "${CLINFM_BUILD_DIR:-$root/build/release}" --output-on-failure -j "$jobs" --timeout 600 \
  "${labels[@]}" || status=1

if [ "${CLINFM_SANITIZERS:-1}" = 1 ]; then
  cd "$root"
  targets=${CLINFM_SANITIZER_TARGETS:-fuzz}
  if [ "$targets" = all ]; then
    echo "== AddressSanitizer + UBSan build and tests (everything)"
    cmake --preset asan >/dev/null
    cmake --build --preset asan -j "$jobs"
    ctest --preset asan -j "$jobs" --timeout 900 "${labels[@]}" || status=1
  else
    # One clang build (preset fuzz, -O1 -g1): ASan + UBSan + libFuzzer coverage on the torch-free
    # libraries; it runs their unit tests and a short smoke of every fuzz target (each committed
    # seed and regression input, then CLINFM_FUZZ_SECONDS of fuzzing, default 5).
    echo "== AddressSanitizer + UBSan: torch-free unit tests and fuzz smoke (clang)"
    cmake --preset fuzz >/dev/null
    cmake --build --preset fuzz -j "$jobs"
    ctest --preset fuzz -j "$jobs" --timeout 900 -L unit || status=1
    CLINFM_FUZZ_SECONDS=${CLINFM_FUZZ_SECONDS:-5} ctest --preset fuzz -j "$jobs" --timeout 900 -L fuzz || status=1
  fi
fi
echo "test.sh: setup, builds and tests took $(( $(date +%s) - start )) s; $([ $status = 0 ] && echo 'all passed' || echo 'FAILURES above')"
exit $status
