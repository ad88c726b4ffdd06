#!/usr/bin/env bash
# Configures (and builds) clinfm on the GPU machine against a prefix made by scripts/gpu/unpack.sh
# (yaml-cpp, fmt, HDF5, OpenMPI, CLI11, nlohmann-json, GoogleTest) and the LibTorch, cuDNN and NCCL
# inside the machine's PyTorch package, with CUDA from /usr/local/cuda, for Hopper (sm_90).
#   scripts/gpu/configure.sh PREFIX [BUILD_DIR=build/gpu]
# Environment:
#   CLINFM_TARGETS="a b"    build only these targets (default: everything)
#   CLINFM_JOBS=N           parallel jobs (default: nproc)
#   CLINFM_CONFIGURE_ONLY=1 stop after the configure step
#   CLINFM_BUILD_TYPE       default Release
#   TORCH_CMAKE_PREFIX      the folder holding Torch/TorchConfig.cmake (default: asked of python3)
#   CUDA_HOME               default /usr/local/cuda
#   CLINFM_CMAKE_ARGS="..." extra arguments for the configure step
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: configure.sh PREFIX [BUILD_DIR]" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
prefix=$(cd "$1" && pwd)
build=${2:-$root/build/gpu}
jobs=${CLINFM_JOBS:-$(nproc)}
cuda=${CUDA_HOME:-/usr/local/cuda}
python=${PYTHON:-python3}
log() { echo "configure.sh: $*"; }

# Ask the machine's python before env.sh puts the prefix's libraries on LD_LIBRARY_PATH.
torch_prefix=${TORCH_CMAKE_PREFIX:-$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')}
[ -f "$torch_prefix/Torch/TorchConfig.cmake" ] ||
  { echo "configure.sh: no Torch/TorchConfig.cmake under $torch_prefix" >&2; exit 1; }
torch_info=$("$python" -c 'import torch; print(torch.__version__, torch.version.cuda, torch._C._GLIBCXX_USE_CXX11_ABI)' 2>/dev/null || echo "? ? ?")
read -r torch_version torch_cuda torch_abi <<<"$torch_info"
log "torch $torch_version (CUDA $torch_cuda, C++11 ABI $torch_abi) at $torch_prefix"
# Debian's yaml-cpp and fmt use the C++11 string ABI; a LibTorch built with the old one cannot link them.
[ "$torch_abi" != False ] || log "warning: this LibTorch uses _GLIBCXX_USE_CXX11_ABI=0; Debian's yaml-cpp/fmt will not link"

# NCCL and cuDNN from the same PyTorch install (nvidia-nccl-cu13, nvidia-cudnn-cu13): the wheels carry
# only versioned libraries (libnccl.so.2), which find_library(nccl) does not find, so name them.
read -r nccl_inc nccl_lib cudnn_inc cudnn_lib < <("$python" - <<'PY' 2>/dev/null || echo "- - - -"
import glob, os
def find(header, lib):
    # CUDA 12 wheels: nvidia/nccl/{include,lib}; CUDA 13 wheels: nvidia/cu13/{include,lib}.
    try:
        import nvidia
        bases = [os.path.join(p, d) for p in nvidia.__path__ for d in sorted(os.listdir(p))]
    except Exception:
        return "-", "-"
    for base in bases:
        inc = os.path.join(base, "include")
        libs = sorted(glob.glob(os.path.join(base, "lib", lib + ".so*")))
        if libs and os.path.exists(os.path.join(inc, header)):
            return inc, libs[0]
    return "-", "-"
print(*find("nccl.h", "libnccl"), *find("cudnn.h", "libcudnn"))
PY
)
cuda_args=()
if [ -x "$cuda/bin/nvcc" ]; then
  cuda_args+=(-DCUDAToolkit_ROOT="$cuda" -DCMAKE_CUDA_COMPILER="$cuda/bin/nvcc" -DCMAKE_CUDA_ARCHITECTURES=90)
  export CUDA_HOME=$cuda CUDACXX=$cuda/bin/nvcc
  log "CUDA: $("$cuda/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p') at $cuda"
else
  log "no nvcc under $cuda: configuring without the CUDA toolkit hints"
fi
# TorchConfig's CUDA part compiles for TORCH_CUDA_ARCH_LIST (without it, it probes the GPU).
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
if [ "$nccl_inc" != - ] && [ "$nccl_lib" != - ]; then
  log "NCCL: $nccl_lib"
  cuda_args+=(-DNCCL_INCLUDE_DIR="$nccl_inc" -DNCCL_LIBRARY="$nccl_lib"
              -DCLINFM_NCCL_INCLUDE_DIR="$nccl_inc" -DCLINFM_NCCL_LIBRARY="$nccl_lib")
  export NCCL_HOME=${nccl_inc%/include}
fi
if [ "$cudnn_inc" != - ] && [ "$cudnn_lib" != - ]; then
  log "cuDNN: $cudnn_lib"
  cuda_args+=(-DCUDNN_INCLUDE_PATH="$cudnn_inc" -DCUDNN_LIBRARY_PATH="$cudnn_lib")
fi

# shellcheck disable=SC1091
source "$prefix/env.sh"
gen=(-G "Unix Makefiles")
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
log "configuring $build (${gen[1]})"
# shellcheck disable=SC2086
cmake -S "$root" -B "$build" "${gen[@]}" \
  -DCMAKE_BUILD_TYPE="${CLINFM_BUILD_TYPE:-Release}" \
  -DCMAKE_PREFIX_PATH="$prefix/usr;$torch_prefix" \
  -DPython3_EXECUTABLE="$(command -v "$python")" -DCLINFM_PYTHON="$(command -v "$python")" \
  "${cuda_args[@]}" ${CLINFM_CMAKE_ARGS:-}
grep -E '^(CLINFM_WITH_CUDA|CLINFM_PYTHON|CLINFM_NCCL_LIBRARY|MPIEXEC_EXECUTABLE|yaml-cpp_DIR|HDF5_C_LIBRARY_hdf5):' \
  "$build/CMakeCache.txt" | sed 's/^/configure.sh: cache: /'
[ "${CLINFM_CONFIGURE_ONLY:-0}" = 1 ] && exit 0

targets=()
for t in ${CLINFM_TARGETS:-}; do targets+=(--target "$t"); done
log "building ${CLINFM_TARGETS:-all} with $jobs jobs"
cmake --build "$build" -j "$jobs" "${targets[@]}"
log "built $build"
