#!/usr/bin/env bash
# Creates (or reuses) clinfm's Python virtual environment and installs into it what the build and
# the tests need from PyPI: torch 2.11.0 (LibTorch with its headers and CMake config, built for
# CUDA 13.0), numpy, h5py, scikit-learn and CMake. Prints the venv's python on its last line.
#   CLINFM_VENV=DIR     where the venv lives (default: .venv in the repository)
#   CLINFM_WHEELS=DIR   where downloaded wheels are kept (default ~/.cache/clinfm/wheels)
# Every wheel is downloaded once into CLINFM_WHEELS and installed from there with --no-index, so a
# second venv on the same machine (CI's clean clone) installs without touching the network. (pip's
# own HTTP cache is not relied on: on these machines it stays empty.)
# torch is installed with --no-deps: its CUDA libraries come from the CUDA toolkit this machine
# has (/usr/local/cuda, on the loader's path), and only the NVIDIA wheels for libraries the
# loader cannot find are added (ldd on libtorch_cuda.so says which). Without a CUDA toolkit
# that is all of them (~3 GB, as a plain `pip install torch` would fetch).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${CLINFM_VENV:-$root/.venv}
torch_version=2.11.0
base_python=${CLINFM_BASE_PYTHON:-/usr/bin/python3}
[ -x "$base_python" ] || base_python=$(command -v python3)

if [ ! -x "$venv/bin/python" ]; then
  echo "python_env.sh: creating $venv with $base_python" >&2
  "$base_python" -m venv "$venv"
fi
py="$venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check -q)
wheels=${CLINFM_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/clinfm/wheels}
mkdir -p "$wheels"
# pip after a --no-deps torch: its resolver reports torch's CUDA wheels as missing ("ERROR: pip's
# dependency resolver ...", "torch 2.11.0 requires nvidia-..."). That is this script's choice,
# not a failure (pip exits 0): those lines are dropped, everything else pip says is kept.
pip_after_torch() {
  local log status=0
  log=$(mktemp)
  "${pip[@]}" "$@" >"$log" 2>&1 || status=$?
  grep -v -e "^ERROR: pip's dependency resolver does not currently" -e "^torch $torch_version requires " "$log" >&2 || true
  rm -f "$log"
  return "$status"
}
# pip_install ARGS...: from the wheel folder alone; what it lacks is downloaded into it first.
pip_install() {
  if ! pip_after_torch install --no-index --find-links "$wheels" "$@" 2>/dev/null; then
    echo "python_env.sh: downloading into $wheels: $*" >&2
    "${pip[@]}" download --dest "$wheels" "$@"
    pip_after_torch install --no-index --find-links "$wheels" "$@"
  fi
}

installed_torch=$("$py" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null || true)
if [ "$installed_torch" != "$torch_version" ]; then
  echo "python_env.sh: installing torch==$torch_version (no CUDA dependencies yet)" >&2
  pip_install --no-deps "torch==$torch_version"
  # torch's own pure-Python dependencies (import torch needs them; the C++ build does not).
  pip_install filelock "typing-extensions>=4.10.0" "sympy>=1.13.3" "networkx>=2.5.1" jinja2 "fsspec>=0.8.5"
fi
pip_install -r "$root/scripts/requirements.txt"

# The NVIDIA wheel (at torch 2.11.0's pinned version) that provides each library torch links.
declare -A wheel_of=(
  [libcudart.so.13]="nvidia-cuda-runtime==13.0.96.*" [libcublas.so.13]="nvidia-cublas==13.1.0.3.*"
  [libcublasLt.so.13]="nvidia-cublas==13.1.0.3.*" [libcufft.so.12]="nvidia-cufft==12.0.0.61.*"
  [libcurand.so.10]="nvidia-curand==10.4.0.35.*" [libcusparse.so.12]="nvidia-cusparse==12.6.3.3.*"
  [libcusolver.so.12]="nvidia-cusolver==12.0.4.66.*" [libnvJitLink.so.13]="nvidia-nvjitlink==13.0.88.*"
  [libcupti.so.13]="nvidia-cuda-cupti==13.0.85.*" [libnvrtc.so.13]="nvidia-cuda-nvrtc==13.0.88.*"
  [libcufile.so.0]="nvidia-cufile==1.15.1.6.*" [libcudnn.so.9]="nvidia-cudnn-cu13==9.19.0.56"
  [libcusparseLt.so.0]="nvidia-cusparselt-cu13==0.8.0" [libnccl.so.2]="nvidia-nccl-cu13==2.28.9"
  [libnvshmem_host.so.3]="nvidia-nvshmem-cu13==3.4.5" [libnvToolsExt.so.1]="nvidia-nvtx==13.0.85.*")
torch_lib=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null ||
  "$py" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("torch").origin), "lib"))')
missing_wheels=()
unknown=()
for library in $(ldd "$torch_lib/libtorch_cuda.so" "$torch_lib/libtorch_cuda_linalg.so" 2>/dev/null |
                 awk '/not found/ {print $1}' | sort -u); do
  if [ -n "${wheel_of[$library]:-}" ]; then missing_wheels+=("${wheel_of[$library]}"); else unknown+=("$library"); fi
done
if [ ${#unknown[@]} -gt 0 ]; then
  echo "python_env.sh: libraries with no known wheel (${unknown[*]}): installing torch's full dependency set" >&2
  pip_install "torch==$torch_version"
elif [ ${#missing_wheels[@]} -gt 0 ]; then
  readarray -t missing_wheels < <(printf '%s\n' "${missing_wheels[@]}" | sort -u)
  echo "python_env.sh: installing the NVIDIA wheels of libraries this machine lacks: ${missing_wheels[*]}" >&2
  pip_install --no-deps "${missing_wheels[@]}"
fi
still=$(ldd "$torch_lib/libtorch_cuda.so" | awk '/not found/ {print $1}' | tr '\n' ' ')
if [ -n "$still" ]; then
  echo "python_env.sh: libtorch_cuda.so still cannot find: $still" >&2
  exit 1
fi
echo "$py"
