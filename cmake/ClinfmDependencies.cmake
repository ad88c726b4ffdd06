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

# LibTorch: the one inside the torch==2.11.0 wheel of the project's virtual environment
# (scripts/setup.sh makes .venv; CLINFM_PYTHON names another Python that has torch). Built for
# CUDA 13.0, the same build as the GPU machine's. clinfm imports its libraries and headers
# directly instead of through the wheel's TorchConfig.cmake, which enables the CUDA language
# (nvcc, and CMake >= 3.31.9 for CUDA 13's CCCL headers) although clinfm compiles no .cu file:
# the CUDA code of clinfm is C++ against the CUDA runtime, NCCL and ATen's CUDA headers.
set(CLINFM_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python whose torch package provides LibTorch (scripts/setup.sh installs it in .venv)")
execute_process(
  COMMAND "${CLINFM_PYTHON}" -c
          "import importlib.metadata as m, importlib.util as u, os; print(os.path.dirname(u.find_spec('torch').origin)); print(m.version('torch'))"
  OUTPUT_VARIABLE _torch_probe ERROR_VARIABLE _torch_error RESULT_VARIABLE _torch_status OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _torch_status EQUAL 0)
  message(FATAL_ERROR "LibTorch: ${CLINFM_PYTHON} has no torch package (${_torch_error}). "
                      "Run scripts/setup.sh, or pass -DCLINFM_PYTHON=/path/to/python with torch==2.11.0 installed.")
endif()
string(REPLACE "\n" ";" _torch_probe "${_torch_probe}")
list(GET _torch_probe 0 CLINFM_TORCH_ROOT)
list(GET _torch_probe 1 Torch_VERSION)
string(REGEX REPLACE "\\+.*" "" Torch_VERSION "${Torch_VERSION}")
if(Torch_VERSION VERSION_LESS "2.11")
  message(FATAL_ERROR "LibTorch ${Torch_VERSION} at ${CLINFM_TORCH_ROOT}: clinfm needs torch 2.11 (scripts/setup.sh installs it)")
endif()
foreach(_lib torch torch_cpu c10)
  find_library(CLINFM_${_lib}_LIBRARY ${_lib} PATHS "${CLINFM_TORCH_ROOT}/lib" NO_DEFAULT_PATH REQUIRED)
endforeach()
# The wheel's include folder also carries third-party headers, fmt 12 among them, which would
# shadow Debian's fmt 9 that clinfm links: clinfm sees that folder through a copy of links
# without them.
set(_torch_includes "${CMAKE_BINARY_DIR}/torch-include")
file(REMOVE_RECURSE "${_torch_includes}")
file(MAKE_DIRECTORY "${_torch_includes}")
file(GLOB _torch_include_entries RELATIVE "${CLINFM_TORCH_ROOT}/include" "${CLINFM_TORCH_ROOT}/include/*")
foreach(_entry ${_torch_include_entries})
  if(NOT _entry STREQUAL "fmt")
    file(CREATE_LINK "${CLINFM_TORCH_ROOT}/include/${_entry}" "${_torch_includes}/${_entry}" SYMBOLIC)
  endif()
endforeach()
add_library(clinfm_torch INTERFACE)
target_include_directories(clinfm_torch SYSTEM INTERFACE "${_torch_includes}"
                                                         "${CLINFM_TORCH_ROOT}/include/torch/csrc/api/include")
# The wheel's libtorch.so exports its own copy of std::filesystem (built with a newer GCC than
# the system's libstdc++): the system libstdc++ must come first among the needed libraries, or
# clinfm's std::filesystem calls bind to that copy (and crash in remove_all).
target_link_libraries(clinfm_torch INTERFACE stdc++ ${CLINFM_torch_LIBRARY} ${CLINFM_torch_cpu_LIBRARY}
                                             ${CLINFM_c10_LIBRARY})
target_compile_definitions(clinfm_torch INTERFACE _GLIBCXX_USE_CXX11_ABI=1)

# OpenMP for the code that includes LibTorch. ATen's at::parallel_for is a header template: in an
# OpenMP LibTorch (AT_PARALLEL_OPENMP) its `#pragma omp parallel` is compiled into the caller, and a
# translation unit built without -fopenmp drops it and runs the whole loop on the calling thread.
# clinfm's CPU kernels (models/cpu/) did exactly that until this was added: at 2 threads the fused
# attention ran its slices one after another while MKL split each tiny product over both threads,
# slower than at 1 thread. GCC only: its libgomp.so.1 is the soname LibTorch's own libgomp carries,
# so one OpenMP runtime serves the process (the wheel's copy, loaded first). With clang (the
# sanitizer preset) the kernels keep running their loops on one thread; their results do not
# depend on the thread count (tests/models), only their speed does.
file(STRINGS "${_torch_includes}/ATen/Config.h" _aten_openmp REGEX "^#define AT_PARALLEL_OPENMP 1")
if(_aten_openmp AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  find_package(OpenMP REQUIRED COMPONENTS CXX)
  target_link_libraries(clinfm_torch INTERFACE OpenMP::OpenMP_CXX)
endif()

# The CUDA path (device selection, bf16 autocast, the NCCL communicator): on wherever a CUDA
# toolkit with NCCL is found, GPU or not, so that CI compiles every CUDA source.
find_package(CUDAToolkit QUIET)
find_path(CLINFM_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} $ENV{NCCL_HOME}/include)
# One libnccl.so.2 per process: the one LibTorch loads (the wheel's, else the toolkit's).
find_library(CLINFM_NCCL_LIBRARY NAMES nccl libnccl.so.2
             HINTS "${CLINFM_TORCH_ROOT}/../nvidia/nccl/lib" ${CUDAToolkit_LIBRARY_DIR} $ENV{NCCL_HOME}/lib)
set(_cuda_found OFF)
if(CUDAToolkit_FOUND AND CLINFM_NCCL_INCLUDE_DIR AND CLINFM_NCCL_LIBRARY AND EXISTS "${CLINFM_TORCH_ROOT}/lib/libtorch_cuda.so")
  set(_cuda_found ON)
endif()
option(CLINFM_WITH_CUDA "Build the CUDA/NCCL code path (needs the CUDA toolkit with NCCL)" ${_cuda_found})
if(CLINFM_WITH_CUDA AND NOT _cuda_found)
  message(FATAL_ERROR "CLINFM_WITH_CUDA=ON but no CUDA toolkit with NCCL (or no libtorch_cuda.so in ${CLINFM_TORCH_ROOT}) "
                      "was found: install CUDA 13 at /usr/local/cuda or configure with -DCLINFM_WITH_CUDA=OFF.")
endif()
if(CLINFM_WITH_CUDA)
  if(CUDAToolkit_VERSION VERSION_LESS "13.0" OR CUDAToolkit_VERSION VERSION_GREATER_EQUAL "14.0")
    message(FATAL_ERROR "CUDA toolkit ${CUDAToolkit_VERSION} at ${CUDAToolkit_BIN_DIR}: torch 2.11.0 from PyPI is "
                        "built for CUDA 13.0; mixing CUDA major versions in one process does not work")
  endif()
  find_library(CLINFM_torch_cuda_LIBRARY torch_cuda PATHS "${CLINFM_TORCH_ROOT}/lib" NO_DEFAULT_PATH REQUIRED)
  find_library(CLINFM_c10_cuda_LIBRARY c10_cuda PATHS "${CLINFM_TORCH_ROOT}/lib" NO_DEFAULT_PATH REQUIRED)
  # libtorch_cuda registers the CUDA kernels in its static initialisers: link it even though no
  # symbol of it is referenced.
  target_link_libraries(clinfm_torch INTERFACE "-Wl,--no-as-needed" ${CLINFM_torch_cuda_LIBRARY}
                                               ${CLINFM_c10_cuda_LIBRARY} CUDA::cudart)
  target_include_directories(clinfm_torch SYSTEM INTERFACE ${CUDAToolkit_INCLUDE_DIRS})
  if(EXISTS "${CUDAToolkit_INCLUDE_DIRS}/cccl")  # CUDA 13 keeps libcu++/CUB/Thrust there
    target_include_directories(clinfm_torch SYSTEM INTERFACE "${CUDAToolkit_INCLUDE_DIRS}/cccl")
  endif()
  target_compile_definitions(clinfm_torch INTERFACE CLINFM_WITH_CUDA=1)
endif()

# CUDA headers and NCCL without a CUDA LibTorch (CI): used only by compile-only checks.
find_path(CLINFM_CUDA_INCLUDE_DIR cuda_runtime.h HINTS /usr/local/cuda/include)
find_path(CLINFM_NCCL_INCLUDE_DIR nccl.h HINTS /usr/local/cuda/include)

# Apache Arrow C++ with Parquet: the one inside the pyarrow wheel of the same Python (Debian 12
# has no Arrow packages). Its headers need C++20: only data/parquet/ includes them.
execute_process(
  COMMAND "${CLINFM_PYTHON}" -c
          "import pyarrow as pa; print(pa.get_include()); print(pa.get_library_dirs()[0]); print(pa.__version__)"
  OUTPUT_VARIABLE _arrow_probe ERROR_VARIABLE _arrow_error RESULT_VARIABLE _arrow_status OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _arrow_status EQUAL 0)
  message(FATAL_ERROR "Arrow/Parquet: ${CLINFM_PYTHON} has no pyarrow package (${_arrow_error}). "
                      "Run scripts/setup.sh, or install pyarrow (scripts/requirements.txt) into that Python.")
endif()
string(REPLACE "\n" ";" _arrow_probe "${_arrow_probe}")
list(GET _arrow_probe 0 CLINFM_ARROW_INCLUDE_DIR)
list(GET _arrow_probe 1 CLINFM_ARROW_LIBRARY_DIR)
list(GET _arrow_probe 2 CLINFM_ARROW_VERSION)
# The wheel ships versioned names only (libarrow.so.2600): link those files by path.
file(GLOB CLINFM_ARROW_LIBRARY "${CLINFM_ARROW_LIBRARY_DIR}/libarrow.so.[0-9]*")
file(GLOB CLINFM_PARQUET_LIBRARY "${CLINFM_ARROW_LIBRARY_DIR}/libparquet.so.[0-9]*")
list(FILTER CLINFM_ARROW_LIBRARY EXCLUDE REGEX "\\.so\\.[0-9]+\\.[0-9]")
list(FILTER CLINFM_PARQUET_LIBRARY EXCLUDE REGEX "\\.so\\.[0-9]+\\.[0-9]")
if(NOT CLINFM_ARROW_LIBRARY OR NOT CLINFM_PARQUET_LIBRARY)
  message(FATAL_ERROR "Arrow/Parquet: no libarrow.so.N / libparquet.so.N in ${CLINFM_ARROW_LIBRARY_DIR} (pyarrow ${CLINFM_ARROW_VERSION})")
endif()
add_library(clinfm_arrow INTERFACE)
target_include_directories(clinfm_arrow SYSTEM INTERFACE "${CLINFM_ARROW_INCLUDE_DIR}")
target_link_libraries(clinfm_arrow INTERFACE ${CLINFM_PARQUET_LIBRARY} ${CLINFM_ARROW_LIBRARY})
target_link_directories(clinfm_arrow INTERFACE "${CLINFM_ARROW_LIBRARY_DIR}")
message(STATUS "Arrow/Parquet: pyarrow ${CLINFM_ARROW_VERSION} (${CLINFM_PARQUET_LIBRARY})")
