// The argument checks of a collective that do not depend on the backend, shared by the MPI and
// NCCL communicators (mpi_communicator.cpp, nccl_communicator.cpp) so that a wrong call is
// refused with the same message by both: a tensor that is undefined, sparse, on the other
// backend's device, non-contiguous or of a dtype no backend carries; an int64 average; an
// all_gather / reduce_scatter whose shard does not fit; a shard that overlaps the full buffer
// without being its own part of it. Also the per-rank shard counts of the v-collectives.
//
// What it does not do: map a dtype or an op to the backend's own type (each backend does), or
// check anything across ranks (that would cost a collective per call; see the backends).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/comm/communicator.h"

namespace clinfm {

// The backend a tensor is checked for: the device its tensors must be on, and the backend the
// message suggests for the other device.
enum class CommBackend { kMpi, kNccl };

// "float32", "bfloat16", "int64"; LibTorch's name ("Double", ...) for the others.
std::string dtype_name(torch::ScalarType type);

// Refuses a `tensor` that `backend` cannot communicate: undefined, not dense, on another device
// (for NCCL: not on cuda:`cuda_device`, this rank's GPU), or not contiguous. `what` names the
// call and argument in the message ("all_gather input"). The dtype is the backend's to map; it
// calls raise_unsupported_dtype for one it has no type for.
void check_comm_tensor(const torch::Tensor& tensor, CommBackend backend, const char* what,
                       int cuda_device = -1);
// The error for a dtype other than float32, bfloat16 and int64.
[[noreturn]] void raise_unsupported_dtype(torch::ScalarType type, CommBackend backend, const char* what);

// Refuses kAverage of an int64 tensor (the mean of integers is not an integer).
void check_reduce_op(const torch::Tensor& tensor, ReduceOp op, const char* what);

// Whether the memory of `a` and `b` overlaps (never for an empty tensor).
bool overlaps(const torch::Tensor& a, const torch::Tensor& b);

// This rank's shard [begin, end) of the full buffer (shard_range), and whether the shard tensor
// is that very part of the full tensor (an in-place call).
struct ShardSpan {
  int64_t begin = 0;
  int64_t end = 0;
  bool in_place = false;
};

// all_gather(input, output): the same dtype, `input` as long as this rank's shard of `output`,
// and `input` either that shard of `output` itself or apart from it (neither MPI nor NCCL takes
// a send buffer that overlaps the receive buffer anywhere else).
ShardSpan check_all_gather(const torch::Tensor& input, const torch::Tensor& output, int rank, int size);
// reduce_scatter(input, output, op): the same dtype, an op defined for it, and `output` as long
// as this rank's shard of `input`. Overlap is the backend's to handle (MPI stages, NCCL refuses).
ShardSpan check_reduce_scatter(const torch::Tensor& input, const torch::Tensor& output, ReduceOp op, int rank,
                               int size);

// Element counts and offsets of every rank's shard of `total` elements, in the integer type the
// backend's v-collectives take (int for MPI, size_t for NCCL).
template <typename Count>
void shard_counts(int64_t total, int size, std::vector<Count>& counts, std::vector<Count>& offsets) {
  counts.resize(size);
  offsets.resize(size);
  for (int r = 0; r < size; ++r) {
    const auto [begin, end] = shard_range(total, r, size);
    counts[r] = static_cast<Count>(end - begin);
    offsets[r] = static_cast<Count>(begin);
  }
}

}  // namespace clinfm
