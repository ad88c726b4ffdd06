// The backend-independent argument checks of the communicators (tensor_checks.h). Built always,
// also without CUDA, so that the NCCL backend's messages are tested on a CPU-only machine.
#include "trainer/comm/tensor_checks.h"

#include <fmt/format.h>

#include "common/check.h"

namespace clinfm {
namespace {

// How the messages name a backend, its device, and the backend to use for the other device.
struct BackendWords {
  const char* name;
  const char* device;
  const char* other_backend;
  const char* other_device;
};

BackendWords words_of(CommBackend backend) {
  if (backend == CommBackend::kMpi) return {"MPI", "CPU", "nccl", "CUDA"};
  return {"NCCL", "CUDA", "mpi", "CPU"};
}

const char* bytes_of(const torch::Tensor& tensor) { return static_cast<const char*>(tensor.data_ptr()); }

// Whether `shard` is the part [begin, ...) of `full` itself.
bool is_part_of(const torch::Tensor& shard, const torch::Tensor& full, int64_t begin) {
  return shard.numel() > 0 && bytes_of(shard) == bytes_of(full) + begin * shard.element_size();
}

// `shard` has as many elements as this rank's part of `full`; `side` is "input" or "output".
ShardSpan check_shard_size(const torch::Tensor& shard, const torch::Tensor& full, const char* side, int rank,
                           int size, const char* what) {
  const int64_t total = full.numel();
  const auto [begin, end] = shard_range(total, rank, size);
  CLINFM_CHECK(shard.numel() == end - begin,
               "{}: rank {} owns elements [{}, {}) of {} ({} elements), but its {} has {}", what, rank, begin,
               end, total, end - begin, side, shard.numel());
  return {begin, end, is_part_of(shard, full, begin)};
}

void check_same_dtype(const torch::Tensor& input, const torch::Tensor& output, const char* what) {
  CLINFM_CHECK(input.scalar_type() == output.scalar_type(), "{}: input is {} but output is {}", what,
               dtype_name(input.scalar_type()), dtype_name(output.scalar_type()));
}

}  // namespace

std::string dtype_name(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat:
      return "float32";
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kLong:
      return "int64";
    default:
      return c10::toString(type);
  }
}

void check_comm_tensor(const torch::Tensor& tensor, CommBackend backend, const char* what, int cuda_device) {
  const BackendWords words = words_of(backend);
  CLINFM_CHECK(tensor.defined(), "{}: the tensor is undefined", what);
  CLINFM_CHECK(tensor.layout() == torch::kStrided, "{}: only dense tensors can be communicated", what);
  const bool on_device = backend == CommBackend::kMpi ? tensor.device().is_cpu() : tensor.is_cuda();
  CLINFM_CHECK(on_device,
               "{}: the tensor is on {}, but the {} backend communicates {} tensors only; "
               "use dist.backend={} (or auto) for {} tensors",
               what, tensor.device().str(), words.name, words.device, words.other_backend,
               words.other_device);
  if (backend == CommBackend::kNccl) {
    CLINFM_CHECK(tensor.device().index() == cuda_device,
                 "{}: the tensor is on {}, but this rank's NCCL communicator is on cuda:{} (its local rank)",
                 what, tensor.device().str(), cuda_device);
  }
  CLINFM_CHECK(tensor.is_contiguous(), "{}: the tensor (sizes {}) is not contiguous; pass .contiguous()",
               what, c10::str(tensor.sizes()));
}

void raise_unsupported_dtype(torch::ScalarType type, CommBackend backend, const char* what) {
  detail::raise_check(
      __FILE__, __LINE__,
      fmt::format("{}: dtype {} is not supported by the {} backend (float32, bfloat16, int64)", what,
                  dtype_name(type), words_of(backend).name),
      "convert the tensor with .to(torch::kFloat) first");
}

void check_reduce_op(const torch::Tensor& tensor, ReduceOp op, const char* what) {
  CLINFM_CHECK(!(op == ReduceOp::kAverage && tensor.scalar_type() == torch::kLong),
               "{}: averaging an int64 tensor is not defined (the mean of integers is not an integer); "
               "use ReduceOp::kSum and divide where the rounding is known",
               what);
}

bool overlaps(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.numel() == 0 || b.numel() == 0) return false;
  const char* a_begin = bytes_of(a);
  const char* b_begin = bytes_of(b);
  return a_begin < b_begin + b.nbytes() && b_begin < a_begin + a.nbytes();
}

ShardSpan check_all_gather(const torch::Tensor& input, const torch::Tensor& output, int rank, int size) {
  check_same_dtype(input, output, "all_gather");
  const ShardSpan shard = check_shard_size(input, output, "input", rank, size, "all_gather");
  CLINFM_CHECK(shard.in_place || !overlaps(input, output),
               "all_gather: the input overlaps the output but is not this rank's shard of it");
  return shard;
}

ShardSpan check_reduce_scatter(const torch::Tensor& input, const torch::Tensor& output, ReduceOp op, int rank,
                               int size) {
  check_same_dtype(input, output, "reduce_scatter");
  check_reduce_op(input, op, "reduce_scatter");
  return check_shard_size(output, input, "output", rank, size, "reduce_scatter");
}

}  // namespace clinfm
