# Every external dependency is found here, once. On Debian 12 `scripts/setup.sh` installs them all.
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(ZLIB REQUIRED)
find_package(nlohmann_json REQUIRED)
# libcrypto: SHA-256 of checkpoint files with the CPU's SHA extensions (trainer/checkpoint/file_hash.h).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)

# LibTorch: Debian's libtorch-dev (1.13, CPU) in CI; the CUDA LibTorch inside a PyTorch wheel on
# GPU machines (pass -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')).
find_package(Torch REQUIRED)
# TorchConfig puts its ABI flags in TORCH_CXX_FLAGS; keep them on a target instead of globally.
add_library(clinfm_torch INTERFACE)
target_link_libraries(clinfm_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(clinfm_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(clinfm_torch INTERFACE ${_torch_flags})
if(Torch_VERSION VERSION_GREATER_EQUAL "2.0")
  target_compile_definitions(clinfm_torch INTERFACE CLINFM_TORCH_2=1)
endif()

# The CUDA/NCCL code path: on by default exactly when the LibTorch found was built with CUDA.
set(_torch_has_cuda OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES OR CAFFE2_USE_CUDA)
  set(_torch_has_cuda ON)
endif()
option(CLINFM_WITH_CUDA "Build the CUDA/NCCL code path (needs a CUDA-enabled LibTorch)" ${_torch_has_cuda})
if(CLINFM_WITH_CUDA AND NOT _torch_has_cuda)
  message(FATAL_ERROR "CLINFM_WITH_CUDA=ON but the LibTorch found at ${Torch_DIR} has no CUDA. "
                      "Point CMAKE_PREFIX_PATH at a CUDA LibTorch or configure with -DCLINFM_WITH_CUDA=OFF.")
endif()
if(CLINFM_WITH_CUDA)
  find_package(CUDAToolkit REQUIRED)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} $ENV{NCCL_HOME}/include REQUIRED)
  # PyTorch wheels ship NCCL as nvidia/nccl/lib/libnccl.so.2 only (no unversioned link).
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${CUDAToolkit_LIBRARY_DIR} $ENV{NCCL_HOME}/lib REQUIRED)
  target_compile_definitions(clinfm_torch INTERFACE CLINFM_WITH_CUDA=1)
endif()

# CUDA headers and NCCL without a CUDA LibTorch (CI): used only by compile-only checks.
find_path(CLINFM_CUDA_INCLUDE_DIR cuda_runtime.h HINTS /usr/local/cuda/include)
find_path(CLINFM_NCCL_INCLUDE_DIR nccl.h HINTS /usr/local/cuda/include)
