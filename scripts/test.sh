#!/usr/bin/env bash
# The README's test command and what CI runs: setup (install + release build), every ctest test
# of the release build (unit, mpi, e2e; gpu tests report "skipped" without a GPU), then the unit
# tests of the torch-free libraries (configs, file I/O, hashing, CSV/MEDS/MIMIC/Synthea/Delphi
# parsing, HDF5, de-identification, eval suites and metrics: where input bytes meet memory) built with AddressSanitizer
# + UBSan. The whole suite under the sanitizers (LibTorch code included) is one variable away;
# it does not fit CI's time on 2 cores. Prints each ctest summary; exits non-zero if any test failed.
#   CLINFM_TEST_LABELS=unit   run only tests with this label (ctest -L)
#   CLINFM_SANITIZERS=0       skip the sanitizer build
#   CLINFM_SANITIZER_TARGETS="all"   sanitizer build of everything (default: the torch-free unit tests)
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
  echo "== AddressSanitizer + UBSan build and tests"
  cd "$root"
  targets=${CLINFM_SANITIZER_TARGETS:-test_common test_config test_data test_eval_core}
  if [ "$targets" = all ]; then
    cmake --preset asan >/dev/null
    cmake --build --preset asan -j "$jobs"
    ctest --preset asan -j "$jobs" --timeout 900 "${labels[@]}" || status=1
  else
    # -O0 -g1 (preset asan-quick): the same checks, a quarter of -O2 -g's compile time.
    cmake --preset asan-quick >/dev/null
    # shellcheck disable=SC2086
    cmake --build --preset asan-quick -j "$jobs" --target $targets
    # Only the unit tests of the binaries built: tests of unbuilt binaries carry no label.
    ctest --preset asan-quick -j "$jobs" --timeout 900 -L unit || status=1
  fi
fi
echo "test.sh: setup, builds and tests took $(( $(date +%s) - start )) s; $([ $status = 0 ] && echo 'all passed' || echo 'FAILURES above')"
exit $status
