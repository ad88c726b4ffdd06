#!/usr/bin/env bash
# Installs every dependency of clinfm from Debian 12's apt repositories (only what is missing),
# then configures and builds the release tree in build/release. Safe to run again: a second
# run installs nothing and rebuilds only what changed.
#   scripts/setup.sh            install + configure + build
#   CLINFM_BUILD_DIR=...        build folder (default build/release)
#   CLINFM_JOBS=N               parallel compile jobs (default: cores)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${CLINFM_BUILD_DIR:-$root/build/release}
jobs=${CLINFM_JOBS:-$(nproc --all)}

packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev          # LibTorch 1.13 (CPU)
  libopenblas0-openmp   # without it LibTorch's matmuls fall back to reference BLAS (~12x slower)
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools
  libyaml-cpp-dev libfmt-dev libcli11-dev nlohmann-json3-dev zlib1g-dev libssl-dev
  libgtest-dev
  python3-torch python3-h5py python3-numpy python3-sklearn  # reference tests (/usr/bin/python3)
)

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup.sh: this machine has no apt-get/dpkg. clinfm's setup supports Debian 12 (bookworm)." >&2
  echo "  Install by hand: ${packages[*]}" >&2
  echo "  then: cmake --preset release && cmake --build --preset release" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup.sh: not root and no sudo: install ${missing[*]} as root" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all ${#packages[@]} Debian packages already installed"
fi

# LibTorch picks the BLAS behind libblas.so.3; say which one is active.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas-openmp*) echo "setup.sh: BLAS: OpenBLAS (OpenMP) $blas" ;;
  *) echo "setup.sh: warning: libblas.so.3 is $blas, not OpenBLAS-OpenMP: LibTorch will be much slower." \
          "Run: update-alternatives --config libblas.so.3-x86_64-linux-gnu" >&2 ;;
esac

cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
# CLINFM_BUILD_TARGETS (e.g. "clinfm"): build only those; the quickstart does, the tests build all.
targets=()
for t in ${CLINFM_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "$jobs" "${targets[@]}"
echo "setup.sh: built $build_dir/bin/clinfm${CLINFM_BUILD_TARGETS:+ (targets: $CLINFM_BUILD_TARGETS)}"
