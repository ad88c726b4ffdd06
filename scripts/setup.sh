#!/usr/bin/env bash
# Installs every dependency of clinfm, then configures and builds the release tree in
# build/release. C++ libraries come from Debian 12's apt repositories (only what is missing);
# LibTorch 2.11 (CUDA 13.0 build) and the Python packages of the tests come from PyPI into the
# project's virtual environment .venv (scripts/python_env.sh; its wheel folder ~/.cache/clinfm/wheels makes a second setup
# on the same machine download nothing). Safe to run again: a second run installs nothing and
# rebuilds only what changed.
#   scripts/setup.sh            install + configure + build
#   CLINFM_BUILD_DIR=...        build folder (default build/release)
#   CLINFM_JOBS=N               parallel compile jobs (default: cores)
#   CLINFM_VENV=DIR             the virtual environment (default .venv)
#   CLINFM_CMAKE_ARGS="..."     extra configure arguments (e.g. -DCLINFM_WITH_CUDA=OFF)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${CLINFM_BUILD_DIR:-$root/build/release}
jobs=${CLINFM_JOBS:-$(nproc --all)}
started=$(date +%s)

packages=(
  build-essential cmake ninja-build pkg-config git
  python3 python3-venv  # the virtual environment that holds torch (LibTorch) and the test packages
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools
  libyaml-cpp-dev libfmt-dev libcli11-dev nlohmann-json3-dev zlib1g-dev libssl-dev
  libgtest-dev
  clang libclang-rt-14-dev  # the sanitizer and fuzzing build (preset fuzz: scripts/test.sh, tests/fuzz)
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

python=$("$root/scripts/python_env.sh" | tail -1)
echo "setup.sh: Python $python, torch $("$python" -c 'import importlib.metadata as m; print(m.version("torch"))')"

# shellcheck disable=SC2086
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCLINFM_PYTHON="$python" ${CLINFM_CMAKE_ARGS:-}
# CLINFM_BUILD_TARGETS (e.g. "clinfm"): build only those; the quickstart does, the tests build all.
targets=()
for t in ${CLINFM_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "$jobs" "${targets[@]}"
echo "setup.sh: built $build_dir/bin/clinfm${CLINFM_BUILD_TARGETS:+ (targets: $CLINFM_BUILD_TARGETS)} in $(( $(date +%s) - started )) s"
