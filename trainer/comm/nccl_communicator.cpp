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
#include "trainer/comm/tensor_checks.h"

namespace clinfm {
namespace {

// The NCCL type of `tensor`'s elements; throws a clear error for anything this backend cannot
// communicate. `what` names the call and argument for the message.
ncclDataType_t nccl_type_of(const torch::Tensor& tensor, int device, const char* what) {
  check_comm_tensor(tensor, CommBackend::kNccl, what, device);
  const torch::ScalarType type = tensor.scalar_type();
  if (type == torch::kFloat) return ncclFloat32;
  if (type == torch::kBFloat16) return ncclBfloat16;
  if (type == torch::kLong) return ncclInt64;
  raise_unsupported_dtype(type, CommBackend::kNccl, what);
}

// The NCCL reduction of `op`, after check_reduce_op.
ncclRedOp_t nccl_op_of(ReduceOp op) { return op == ReduceOp::kAverage ? ncclAvg : ncclSum; }

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
    check_reduce_op(tensor, op, "all_reduce");
    const ncclRedOp_t nccl_op = nccl_op_of(op);
    Scope scope(*this);
    core_->all_reduce(tensor.data_ptr(), tensor.numel(), type, nccl_op, core_->stream());
    finish(scope, tensor, "all-reduce", tensor.nbytes());
  }

  std::unique_ptr<CommWork> all_reduce_async(torch::Tensor tensor, ReduceOp op) override {
    const ncclDataType_t type = nccl_type_of(tensor, core_->device(), "all_reduce_async");
    check_reduce_op(tensor, op, "all_reduce_async");
    const ncclRedOp_t nccl_op = nccl_op_of(op);
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
    check_all_gather(input, output, rank(), size());
    std::vector<size_t> counts, offsets;
    shard_counts(output.numel(), size(), counts, offsets);
    Scope scope(*this);
    core_->all_gather_v(input.data_ptr(), output.data_ptr(), counts, offsets, type, core_->stream());
    record_on_comm_stream(input);
    finish(scope, output, "all-gather", output.nbytes());
  }

  void reduce_scatter(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) override {
    const ncclDataType_t type = nccl_type_of(input, core_->device(), "reduce_scatter input");
    nccl_type_of(output, core_->device(), "reduce_scatter output");
    const ShardSpan shard = check_reduce_scatter(input, output, op, rank(), size());
    const ncclRedOp_t nccl_op = nccl_op_of(op);
    // NCCL reduces in place when the output is this rank's block of the input; any other
    // overlap would read values already overwritten.
    CLINFM_CHECK(shard.in_place || !overlaps(input, output),
                 "reduce_scatter: the output overlaps the input but is not this rank's shard of it");
    std::vector<size_t> counts, offsets;
    shard_counts(input.numel(), size(), counts, offsets);
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
