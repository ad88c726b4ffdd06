// The NCCL backend of clinfm::Communicator (trainer/comm/communicator.h) for CUDA tensors: an
// adapter from torch tensors and the caller's current CUDA stream to NcclCore (nccl_core.h).
// Built only with a CUDA LibTorch (CLINFM_WITH_CUDA); written against PyTorch 2.x's c10/cuda API.
//
// Ordering: every collective runs on NcclCore's own stream, after the work queued so far on the
// caller's current stream (an event), and the current stream waits for the collective before
// its later kernels (another event). The tensor's memory is recorded on the communication stream
// so that the caching allocator does not hand it out again while a collective still uses it.
// Host waits: the blocking calls, and wait() of all_reduce_async, wait on the host until the
// collective is done, polling NCCL's asynchronous errors, so that a hang ends the job after
// dist.timeout_s instead of hanging every rank. Between all_reduce_async and wait() the host is
// free, which is where overlap with backward comes from. A watchdog thread would free the host
// in the blocking calls too; not done.
// kAverage uses ncclAvg (sum scaled by 1/size on the GPU): the last bit can differ from the MPI
// backend's sum-then-divide. bfloat16 sums are rounded by NCCL's kernels, not by clinfm.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "common/check.h"
#include "common/log.h"
#include "trainer/comm/communicator.h"
#include "trainer/comm/launch.h"
#include "trainer/comm/nccl_core.h"

namespace clinfm {
namespace {

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

// The NCCL type of `tensor`'s elements; throws a clear error for anything this backend cannot
// communicate. `what` names the call and argument for the message.
ncclDataType_t nccl_type_of(const torch::Tensor& tensor, int device, const char* what) {
  CLINFM_CHECK(tensor.defined(), "{}: the tensor is undefined", what);
  CLINFM_CHECK(tensor.layout() == torch::kStrided, "{}: only dense tensors can be communicated", what);
  CLINFM_CHECK(tensor.is_cuda(),
               "{}: the tensor is on {}, but the NCCL backend communicates CUDA tensors only; "
               "use dist.backend=mpi (or auto) for CPU tensors",
               what, tensor.device().str());
  CLINFM_CHECK(tensor.device().index() == device,
               "{}: the tensor is on {}, but this rank's NCCL communicator is on cuda:{} (its local rank)",
               what, tensor.device().str(), device);
  CLINFM_CHECK(tensor.is_contiguous(), "{}: the tensor (sizes {}) is not contiguous; pass .contiguous()",
               what, c10::str(tensor.sizes()));
  const torch::ScalarType type = tensor.scalar_type();
  if (type == torch::kFloat) return ncclFloat32;
  if (type == torch::kBFloat16) return ncclBfloat16;
  if (type == torch::kLong) return ncclInt64;
  detail::raise_check(
      __FILE__, __LINE__,
      fmt::format("{}: dtype {} is not supported by the NCCL backend (float32, bfloat16, int64)", what,
                  dtype_name(type)),
      "convert the tensor with .to(torch::kFloat) first");
}

ncclRedOp_t nccl_op_of(const torch::Tensor& tensor, ReduceOp op, const char* what) {
  CLINFM_CHECK(!(op == ReduceOp::kAverage && tensor.scalar_type() == torch::kLong),
               "{}: averaging an int64 tensor is not defined (the mean of integers is not an integer); "
               "use ReduceOp::kSum and divide where the rounding is known",
               what);
  return op == ReduceOp::kAverage ? ncclAvg : ncclSum;
}

bool overlaps(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.numel() == 0 || b.numel() == 0) return false;
  const char* a_begin = static_cast<const char*>(a.data_ptr());
  const char* b_begin = static_cast<const char*>(b.data_ptr());
  return a_begin < b_begin + b.nbytes() && b_begin < a_begin + a.nbytes();
}

// An all_reduce_async in flight: an event recorded on the communication stream after it.
class NcclWork final : public CommWork {
 public:
  NcclWork(std::shared_ptr<NcclCore> core, torch::Tensor tensor)
      : core_(std::move(core)), tensor_(std::move(tensor)), bytes_(tensor_.nbytes()) {
    CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(done_, core_->stream()));
  }
  ~NcclWork() override {
    if (done_) cudaEventDestroy(done_);  // nothing to report from a destructor
  }
  NcclWork(const NcclWork&) = delete;
  NcclWork& operator=(const NcclWork&) = delete;

  void wait() override {
    if (waited_) return;
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(core_->device()));
    core_->wait_event(done_, "asynchronous all-reduce", bytes_);
    // Kernels queued later on the caller's stream read the reduced values.
    const cudaStream_t current = c10::cuda::getCurrentCUDAStream(core_->device()).stream();
    CUDA_CHECK(cudaStreamWaitEvent(current, done_, 0));
    tensor_ = torch::Tensor();
    waited_ = true;
  }

 private:
  std::shared_ptr<NcclCore> core_;
  torch::Tensor tensor_;  // kept alive until wait()
  size_t bytes_;
  cudaEvent_t done_ = nullptr;
  bool waited_ = false;
};

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(double timeout_s)
      : core_(std::make_shared<NcclCore>(MPI_COMM_WORLD, world().local_rank, timeout_s)),
        comm_stream_(c10::cuda::getStreamFromExternal(core_->stream(),
                                                      static_cast<c10::DeviceIndex>(core_->device()))) {}

  int rank() const override { return core_->rank(); }
  int size() const override { return core_->size(); }
  std::string backend() const override { return "nccl"; }

  void all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    const ncclDataType_t type = nccl_type_of(tensor, core_->device(), "all_reduce");
    const ncclRedOp_t nccl_op = nccl_op_of(tensor, op, "all_reduce");
    Scope scope(*this);
    core_->all_reduce(tensor.data_ptr(), tensor.numel(), type, nccl_op, core_->stream());
    finish(scope, tensor, "all-reduce", tensor.nbytes());
  }

  std::unique_ptr<CommWork> all_reduce_async(torch::Tensor tensor, ReduceOp op) override {
    const ncclDataType_t type = nccl_type_of(tensor, core_->device(), "all_reduce_async");
    const ncclRedOp_t nccl_op = nccl_op_of(tensor, op, "all_reduce_async");
    Scope scope(*this);
    core_->all_reduce(tensor.data_ptr(), tensor.numel(), type, nccl_op, core_->stream());
    record_on_comm_stream(tensor);
    return std::make_unique<NcclWork>(core_, std::move(tensor));
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    const ncclDataType_t type = nccl_type_of(tensor, core_->device(), "broadcast");
    Scope scope(*this);
    core_->broadcast(tensor.data_ptr(), tensor.numel(), type, root, core_->stream());
    finish(scope, tensor, "broadcast", tensor.nbytes());
  }

  void all_gather(const torch::Tensor& input, torch::Tensor& output) override {
    const ncclDataType_t type = nccl_type_of(input, core_->device(), "all_gather input");
    nccl_type_of(output, core_->device(), "all_gather output");
    CLINFM_CHECK(input.scalar_type() == output.scalar_type(), "all_gather: input is {} but output is {}",
                 dtype_name(input.scalar_type()), dtype_name(output.scalar_type()));
    const int64_t total = output.numel();
    const auto [begin, end] = shard_range(total, rank(), size());
    CLINFM_CHECK(input.numel() == end - begin,
                 "all_gather: rank {} owns elements [{}, {}) of {} ({} elements), but its input has {}",
                 rank(), begin, end, total, end - begin, input.numel());
    const bool in_place =
        input.numel() > 0 && static_cast<const char*>(input.data_ptr()) ==
                                 static_cast<const char*>(output.data_ptr()) + begin * input.element_size();
    CLINFM_CHECK(in_place || !overlaps(input, output),
                 "all_gather: the input overlaps the output but is not this rank's shard of it");
    std::vector<size_t> counts, offsets;
    shard_blocks(total, counts, offsets);
    Scope scope(*this);
    core_->all_gather_v(input.data_ptr(), output.data_ptr(), counts, offsets, type, core_->stream());
    record_on_comm_stream(input);
    finish(scope, output, "all-gather", output.nbytes());
  }

  void reduce_scatter(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) override {
    const ncclDataType_t type = nccl_type_of(input, core_->device(), "reduce_scatter input");
    nccl_type_of(output, core_->device(), "reduce_scatter output");
    CLINFM_CHECK(input.scalar_type() == output.scalar_type(), "reduce_scatter: input is {} but output is {}",
                 dtype_name(input.scalar_type()), dtype_name(output.scalar_type()));
    const ncclRedOp_t nccl_op = nccl_op_of(input, op, "reduce_scatter");
    const int64_t total = input.numel();
    const auto [begin, end] = shard_range(total, rank(), size());
    CLINFM_CHECK(output.numel() == end - begin,
                 "reduce_scatter: rank {} owns elements [{}, {}) of {} ({} elements), but its output has {}",
                 rank(), begin, end, total, end - begin, output.numel());
    // NCCL reduces in place when the output is this rank's block of the input; any other
    // overlap would read values already overwritten.
    const bool in_place =
        output.numel() > 0 && static_cast<const char*>(output.data_ptr()) ==
                                  static_cast<const char*>(input.data_ptr()) + begin * input.element_size();
    CLINFM_CHECK(in_place || !overlaps(input, output),
                 "reduce_scatter: the output overlaps the input but is not this rank's shard of it");
    std::vector<size_t> counts, offsets;
    shard_blocks(total, counts, offsets);
    Scope scope(*this);
    core_->reduce_scatter_v(input.data_ptr(), output.data_ptr(), counts, offsets, type, nccl_op,
                            core_->stream());
    record_on_comm_stream(input);
    finish(scope, output, "reduce-scatter", input.nbytes());
  }

  void barrier() override {
    if (!barrier_flag_.defined())
      barrier_flag_ = torch::zeros(
          {1}, torch::TensorOptions().dtype(torch::kFloat).device(torch::kCUDA, core_->device()));
    all_reduce(barrier_flag_, ReduceOp::kSum);  // waits on the host, like every blocking call
  }

 private:
  // The device and the caller's current stream for one call; the communication stream waits
  // for the work queued on the current stream so far.
  struct Scope {
    explicit Scope(NcclCommunicator& self)
        : guard(static_cast<c10::DeviceIndex>(self.core_->device())),
          compute(c10::cuda::getCurrentCUDAStream(self.core_->device()).stream()) {
      self.core_->comm_waits_for(compute);
    }
    c10::cuda::CUDAGuard guard;
    cudaStream_t compute;
  };

  void record_on_comm_stream(const torch::Tensor& tensor) {
    if (tensor.numel() > 0)
      c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), comm_stream_);
  }

  // Ends a blocking call: the caller's stream waits for the collective, and the host waits for
  // it with the timeout.
  void finish(Scope& scope, const torch::Tensor& tensor, const char* what, size_t bytes) {
    record_on_comm_stream(tensor);
    core_->compute_waits_for_comm(scope.compute);
    core_->synchronize(core_->stream(), what, bytes);
  }

  void shard_blocks(int64_t total, std::vector<size_t>& counts, std::vector<size_t>& offsets) const {
    counts.resize(size());
    offsets.resize(size());
    for (int r = 0; r < size(); ++r) {
      const auto [begin, end] = shard_range(total, r, size());
      counts[r] = static_cast<size_t>(end - begin);
      offsets[r] = static_cast<size_t>(begin);
    }
  }

  std::shared_ptr<NcclCore> core_;  // shared with NcclWork handles that may outlive this
  c10::cuda::CUDAStream comm_stream_;
  torch::Tensor barrier_flag_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(double timeout_s) {
  CLINFM_CHECK(distributed_initialized(), "the NCCL communicator needs MPI: call init_distributed() first");
  CLINFM_CHECK(torch::cuda::is_available(),
               "dist.backend=nccl needs a CUDA GPU, and this process sees none; use dist.backend=mpi for CPU "
               "training");
  return std::make_unique<NcclCommunicator>(timeout_s);
}

}  // namespace clinfm
