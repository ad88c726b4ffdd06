#!/usr/bin/env bash
# Packs the binaries that scripts/gpu/device_check.sh runs, built here against the venv's LibTorch
# 2.11+cu130 (the GPU machine's python has the same build), into .gpu-bin/clinfm-bin.tar.xz
# (gitignored; the device call carries it). With it the device call skips the build there (minutes
# of a 15-minute lease): the binaries find LibTorch, cuDNN and NCCL through LD_LIBRARY_PATH (set by
# device_check.sh from that machine's torch and nvidia packages), Arrow and Parquet in the tarball's
# lib/ (the venv's pyarrow 26), and the Debian libraries in the unpacked .gpu-debs prefix.
#   scripts/gpu/pack_binaries.sh [BUILD_DIR]     (default build/release; builds the targets first)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build/release}
targets=(clinfm train_throughput test_cuda_training cuda_check_macros nccl_core_check)
cmake --build "$build" $(printf -- '--target %s ' "${targets[@]}")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$root/.gpu-bin"
for t in "${targets[@]}"; do
  # programs in build/bin, test programs beside their CMakeLists (build/tests/...)
  f=$(find "$build/bin" "$build/tests" -name "$t" -type f -perm -u+x 2>/dev/null | head -1)
  [ -n "$f" ] || { echo "pack_binaries.sh: $t was not built in $build (CUDA/NCCL not found?)" >&2; exit 1; }
  strip -o "$stage/bin/$t" "$f"
done
# Arrow and Parquet come from the venv's pyarrow (26), which the GPU machine's python may not have.
mkdir -p "$stage/lib"
ldd "$stage/bin/clinfm" | awk '$3 ~ /pyarrow/ {print $3}' | xargs -r cp -t "$stage/lib"
(cd "$stage" && git -C "$root" rev-parse HEAD >bin/COMMIT && tar -cf - bin lib) | xz -T0 -6 >"$root/.gpu-bin/clinfm-bin.tar.xz"
ls -l "$stage/bin" "$stage/lib"
echo "pack_binaries.sh: $(du -h "$root/.gpu-bin/clinfm-bin.tar.xz" | cut -f1) in .gpu-bin/clinfm-bin.tar.xz"
