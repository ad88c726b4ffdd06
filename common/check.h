// Check macros. Each reports file:line, rank and host, the library's own error text and a
// hint, by throwing clinfm::Error. The foreign-library macros only expand where that library's
// header is included (common/ itself links none of them):
//   CLINFM_CHECK(cond, fmt, args...)   internal invariant or argument check
//   IO_CHECK(cond, path, action)       a POSIX/stdio call; adds strerror(errno)
//   MPI_CHECK(call)                    needs <mpi.h>
//   CUDA_CHECK(call)                   needs <cuda_runtime.h>
//   NCCL_CHECK(call)                   needs <nccl.h>
//   H5_CHECK(call)                     needs <hdf5.h>; the HDF5 error stack text comes from
//                                      data/h5_error.cpp (links HDF5)
// The *_CHECK_HINT variants take the hint shown to the user as a last argument.
#pragma once

#include <fmt/format.h>

#include <cerrno>
#include <string>

#include "common/error.h"

namespace clinfm::detail {

[[noreturn]] void raise_check(const char* file, int line, const std::string& message,
                              const std::string& hint);
[[noreturn]] void raise_foreign(const char* library, const char* call, const char* file, int line, long code,
                                const std::string& library_text, const std::string& hint);
[[noreturn]] void raise_io(const char* file, int line, int saved_errno, const std::string& path,
                           const std::string& action);
// HDF5's error stack of the calling thread, rendered as text (defined in data/h5_error.cpp).
std::string h5_error_text();

inline const char* kMpiHint =
    "all ranks must be started together by mpirun/srun with the same arguments; "
    "check the network between hosts and the launcher's output for the first failing rank";
inline const char* kCudaHint =
    "check `nvidia-smi`, that CUDA_VISIBLE_DEVICES matches the ranks per node, and free GPU memory";
inline const char* kNcclHint = "rerun with NCCL_DEBUG=INFO to see which rank and link failed";
inline const char* kH5Hint =
    "the file may be truncated, not an HDF5 file, or written by another clinfm version; "
    "`h5dump -H FILE` shows what it holds";

}  // namespace clinfm::detail

#define CLINFM_CHECK(cond, ...)                                                                              \
  do {                                                                                                       \
    if (!(cond)) ::clinfm::detail::raise_check(__FILE__, __LINE__, fmt::format(__VA_ARGS__), std::string()); \
  } while (0)

#define IO_CHECK(cond, path, action)                                                      \
  do {                                                                                    \
    if (!(cond)) ::clinfm::detail::raise_io(__FILE__, __LINE__, errno, (path), (action)); \
  } while (0)

#define MPI_CHECK_HINT(call, hint)                                                                  \
  do {                                                                                              \
    const int clinfm_rc_ = (call);                                                                  \
    if (clinfm_rc_ != MPI_SUCCESS) {                                                                \
      char clinfm_text_[MPI_MAX_ERROR_STRING];                                                      \
      int clinfm_len_ = 0;                                                                          \
      if (MPI_Error_string(clinfm_rc_, clinfm_text_, &clinfm_len_) != MPI_SUCCESS) clinfm_len_ = 0; \
      ::clinfm::detail::raise_foreign("MPI", #call, __FILE__, __LINE__, clinfm_rc_,                 \
                                      std::string(clinfm_text_, clinfm_len_), (hint));              \
    }                                                                                               \
  } while (0)
#define MPI_CHECK(call) MPI_CHECK_HINT(call, ::clinfm::detail::kMpiHint)

#define CUDA_CHECK_HINT(call, hint)                                                                     \
  do {                                                                                                  \
    const cudaError_t clinfm_rc_ = (call);                                                              \
    if (clinfm_rc_ != cudaSuccess)                                                                      \
      ::clinfm::detail::raise_foreign("CUDA", #call, __FILE__, __LINE__, static_cast<long>(clinfm_rc_), \
                                      cudaGetErrorString(clinfm_rc_), (hint));                          \
  } while (0)
#define CUDA_CHECK(call) CUDA_CHECK_HINT(call, ::clinfm::detail::kCudaHint)

#define NCCL_CHECK_HINT(call, hint)                                                                     \
  do {                                                                                                  \
    const ncclResult_t clinfm_rc_ = (call);                                                             \
    if (clinfm_rc_ != ncclSuccess && clinfm_rc_ != ncclInProgress)                                      \
      ::clinfm::detail::raise_foreign("NCCL", #call, __FILE__, __LINE__, static_cast<long>(clinfm_rc_), \
                                      ncclGetErrorString(clinfm_rc_), (hint));                          \
  } while (0)
#define NCCL_CHECK(call) NCCL_CHECK_HINT(call, ::clinfm::detail::kNcclHint)

// HDF5 calls return a negative herr_t or hid_t on failure.
#define H5_CHECK_HINT(call, hint)                                                                       \
  [&]() {                                                                                               \
    const auto clinfm_rc_ = (call);                                                                     \
    if (clinfm_rc_ < 0)                                                                                 \
      ::clinfm::detail::raise_foreign("HDF5", #call, __FILE__, __LINE__, static_cast<long>(clinfm_rc_), \
                                      ::clinfm::detail::h5_error_text(), (hint));                       \
    return clinfm_rc_;                                                                                  \
  }()
#define H5_CHECK(call) H5_CHECK_HINT(call, ::clinfm::detail::kH5Hint)
