// NcclCore (nccl_core.h): NCCL communicator setup over MPI, stream ordering with events, the
// collectives on raw device pointers, asynchronous-error checks and bounded host waits.
// Torch-free on purpose: it is built and linked in CI, where LibTorch has no CUDA.
// It does not end the job through abort_job() (trainer/comm/launch.h): that lives in
// clinfm_trainer, which links LibTorch. end_job() below does the same thing.
#include "trainer/comm/nccl_core.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

#include "common/check.h"
#include "common/log.h"

namespace clinfm {
namespace {

// Makes `device` current for one call and restores the caller's device after it, so that a
// caller working on another GPU is not surprised.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) CUDA_CHECK(cudaSetDevice(device));
    changed_ = previous_ != device;
  }
  ~DeviceScope() {
    if (changed_) cudaSetDevice(previous_);  // nothing to report from a destructor
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
  bool changed_ = false;
};

// How long abort_after_timeout() waits for ncclCommAbort before it ends the job without it.
constexpr int kAbortGraceSeconds = 10;

// Same as abort_job(): ends every rank (MPI_Abort) when MPI runs with more than one rank,
// else this process, without running destructors that could wait on the hung GPU.
[[noreturn]] void end_job(int exit_code) {
  std::fflush(stdout);
  std::fflush(stderr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
  }
  std::_Exit(exit_code);
}

char* at_element(void* buffer, size_t offset, size_t element_bytes) {
  return static_cast<char*>(buffer) + offset * element_bytes;
}
const char* at_element(const void* buffer, size_t offset, size_t element_bytes) {
  return static_cast<const char*>(buffer) + offset * element_bytes;
}

// True when the blocks are the equal, back-to-back blocks of the single-call collectives.
bool even_blocks(const std::vector<size_t>& counts, const std::vector<size_t>& offsets) {
  for (size_t r = 0; r < counts.size(); ++r)
    if (counts[r] != counts[0] || offsets[r] != r * counts[0]) return false;
  return true;
}

}  // namespace

NcclCore::NcclCore(MPI_Comm comm, int device, double timeout_s) : device_(device), timeout_s_(timeout_s) {
  MPI_CHECK(MPI_Comm_rank(comm, &rank_));
  MPI_CHECK(MPI_Comm_size(comm, &size_));
  ncclUniqueId id{};
  if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  MPI_CHECK(MPI_Bcast(&id, static_cast<int>(sizeof(id)), MPI_BYTE, 0, comm));
  init(id);
}

NcclCore::NcclCore(const ncclUniqueId& id, int rank, int size, int device, double timeout_s)
    : rank_(rank), size_(size), device_(device), timeout_s_(timeout_s) {
  init(id);
}

void NcclCore::init(const ncclUniqueId& id) {
  CLINFM_CHECK(size_ > 0 && rank_ >= 0 && rank_ < size_, "NCCL rank {} is not in a world of {}", rank_,
               size_);
  int devices = 0;
  CUDA_CHECK(cudaGetDeviceCount(&devices));
  CLINFM_CHECK(device_ >= 0 && device_ < devices,
               "rank {} would use GPU {} (its local rank), but this host shows {} GPU(s); start at most {} "
               "ranks per host, or check CUDA_VISIBLE_DEVICES",
               rank_, device_, devices, devices);
  // The rank's GPU for the rest of the process (GPU = local rank).
  CUDA_CHECK(cudaSetDevice(device_));
  // Non-blocking: the legacy default stream must not serialize communication with computation.
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUDA_CHECK(cudaEventCreateWithFlags(&compute_ready_, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventCreateWithFlags(&comm_done_, cudaEventDisableTiming));
  NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
}

NcclCore::~NcclCore() {
  try {
    DeviceScope scope(device_);
    if (comm_ && !aborted_) {
      synchronize(stream_, "the last collective before destroying the NCCL communicator", 0);
      NCCL_CHECK(ncclCommDestroy(comm_));
      comm_ = nullptr;
    }
  } catch (const std::exception& e) {
    log_error("destroying the NCCL communicator: {}", e.what());
    abort_comm();
  }
  // Return codes ignored: nothing can be done about them here.
  if (comm_done_) cudaEventDestroy(comm_done_);
  if (compute_ready_) cudaEventDestroy(compute_ready_);
  if (stream_) cudaStreamDestroy(stream_);
}

void NcclCore::comm_waits_for(cudaStream_t compute) {
  DeviceScope scope(device_);
  CUDA_CHECK(cudaEventRecord(compute_ready_, compute));
  // The wait takes the event as recorded now, so the event can be recorded again at once.
  CUDA_CHECK(cudaStreamWaitEvent(stream_, compute_ready_, 0));
}

void NcclCore::compute_waits_for_comm(cudaStream_t compute) {
  DeviceScope scope(device_);
  CUDA_CHECK(cudaEventRecord(comm_done_, stream_));
  CUDA_CHECK(cudaStreamWaitEvent(compute, comm_done_, 0));
}

void NcclCore::all_reduce(void* buffer, size_t count, ncclDataType_t type, ncclRedOp_t op,
                          cudaStream_t stream) {
  check_async_error();
  if (count == 0) return;  // every rank has the same count, so every rank skips
  DeviceScope scope(device_);
  NCCL_CHECK(ncclAllReduce(buffer, buffer, count, type, op, comm_, stream));
}

void NcclCore::broadcast(void* buffer, size_t count, ncclDataType_t type, int root, cudaStream_t stream) {
  check_async_error();
  CLINFM_CHECK(root >= 0 && root < size_, "broadcast: root {} is not a rank of a world of {}", root, size_);
  if (count == 0) return;
  DeviceScope scope(device_);
  NCCL_CHECK(ncclBroadcast(buffer, buffer, count, type, root, comm_, stream));
}

void NcclCore::all_gather(const void* send, void* recv, size_t send_count, ncclDataType_t type,
                          cudaStream_t stream) {
  check_async_error();
  if (send_count == 0) return;
  DeviceScope scope(device_);
  NCCL_CHECK(ncclAllGather(send, recv, send_count, type, comm_, stream));
}

void NcclCore::reduce_scatter(const void* send, void* recv, size_t recv_count, ncclDataType_t type,
                              ncclRedOp_t op, cudaStream_t stream) {
  check_async_error();
  if (recv_count == 0) return;
  DeviceScope scope(device_);
  NCCL_CHECK(ncclReduceScatter(send, recv, recv_count, type, op, comm_, stream));
}

void NcclCore::all_gather_v(const void* send, void* recv, const std::vector<size_t>& counts,
                            const std::vector<size_t>& offsets, ncclDataType_t type, cudaStream_t stream) {
  CLINFM_CHECK(counts.size() == static_cast<size_t>(size_) && offsets.size() == counts.size(),
               "all_gather_v: {} counts and {} offsets for {} ranks", counts.size(), offsets.size(), size_);
  if (even_blocks(counts, offsets)) return all_gather(send, recv, counts[0], type, stream);
  check_async_error();
  DeviceScope scope(device_);
  const size_t bytes = element_bytes(type);
  // NCCL has no all-gather with per-rank counts: one broadcast per rank, fused into one launch.
  NCCL_CHECK(ncclGroupStart());
  for (int r = 0; r < size_; ++r) {
    if (counts[r] == 0) continue;
    void* block = at_element(recv, offsets[r], bytes);
    NCCL_CHECK(ncclBroadcast(r == rank_ ? send : block, block, counts[r], type, r, comm_, stream));
  }
  NCCL_CHECK(ncclGroupEnd());
}

void NcclCore::reduce_scatter_v(const void* send, void* recv, const std::vector<size_t>& counts,
                                const std::vector<size_t>& offsets, ncclDataType_t type, ncclRedOp_t op,
                                cudaStream_t stream) {
  CLINFM_CHECK(counts.size() == static_cast<size_t>(size_) && offsets.size() == counts.size(),
               "reduce_scatter_v: {} counts and {} offsets for {} ranks", counts.size(), offsets.size(),
               size_);
  if (even_blocks(counts, offsets)) return reduce_scatter(send, recv, counts[0], type, op, stream);
  check_async_error();
  DeviceScope scope(device_);
  const size_t bytes = element_bytes(type);
  // One reduce per rank to that rank, fused into one launch. A non-root's receive buffer is
  // never used by ncclReduce, so it gets none.
  NCCL_CHECK(ncclGroupStart());
  for (int r = 0; r < size_; ++r) {
    if (counts[r] == 0) continue;
    NCCL_CHECK(ncclReduce(at_element(send, offsets[r], bytes), r == rank_ ? recv : nullptr, counts[r], type,
                          op, r, comm_, stream));
  }
  NCCL_CHECK(ncclGroupEnd());
}

void NcclCore::check_async_error() {
  CLINFM_CHECK(!aborted_, "the NCCL communicator was aborted after an earlier error on this rank");
  ncclResult_t state = ncclSuccess;
  NCCL_CHECK(ncclCommGetAsyncError(comm_, &state));
  if (state == ncclSuccess || state == ncclInProgress) return;
  std::string text = ncclGetErrorString(state);
  if (const char* last = ncclGetLastError(comm_); last && *last) text += std::string(": ") + last;
  // The communicator is unusable after an asynchronous error; aborting frees it and ends its kernels.
  abort_comm();
  detail::raise_foreign("NCCL", "ncclCommGetAsyncError (a collective failed on the GPU)", __FILE__, __LINE__,
                        static_cast<long>(state), text, detail::kNcclHint);
}

void NcclCore::synchronize(cudaStream_t stream, const std::string& what, size_t bytes) {
  wait_until_complete(stream, nullptr, what, bytes);
}

void NcclCore::wait_event(cudaEvent_t event, const std::string& what, size_t bytes) {
  wait_until_complete(nullptr, event, what, bytes);
}

void NcclCore::wait_until_complete(cudaStream_t stream, cudaEvent_t event, const std::string& what,
                                   size_t bytes) {
  DeviceScope scope(device_);
  const auto start = std::chrono::steady_clock::now();
  // Polling rather than cudaStreamSynchronize: a blocking synchronize cannot time out, and a
  // hung collective must end the job instead of the rank hanging forever.
  for (long polls = 0;; ++polls) {
    const cudaError_t state = event ? cudaEventQuery(event) : cudaStreamQuery(stream);
    if (state == cudaSuccess) break;
    if (state != cudaErrorNotReady)
      detail::raise_foreign("CUDA", event ? "cudaEventQuery" : "cudaStreamQuery", __FILE__, __LINE__,
                            static_cast<long>(state), cudaGetErrorString(state), detail::kCudaHint);
    check_async_error();
    const double waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (timeout_s_ > 0 && waited_s > timeout_s_) abort_after_timeout(what, bytes);
    // Spin briefly (small collectives finish in microseconds), then poll without burning a core.
    if (polls < 1000)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  check_async_error();
}

void NcclCore::abort_after_timeout(const std::string& what, size_t bytes) {
  log_error(
      "{} of {} bytes has not completed after {:g} s (GPU {}, NCCL rank {}/{}): another rank has probably "
      "failed "
      "or stopped making the same collective calls (see its log); aborting the NCCL communicator and ending "
      "the "
      "job",
      what, bytes, timeout_s_, device_, rank_, size_);
  // ncclCommAbort frees device memory, and cudaFree waits for the device: when the GPU itself is
  // stuck (work queued behind something that never ends) the abort never returns. A watchdog
  // ends the job without it after a grace period, as PyTorch's heartbeat monitor does for its
  // NCCL watchdog; the process's exit releases the GPU either way.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(kAbortGraceSeconds));
    log_error("ncclCommAbort has not returned after {} s (the GPU is stuck): ending the job without it",
              kAbortGraceSeconds);
    end_job(1);
  }).detach();
  abort_comm();
  end_job(1);
}

void NcclCore::abort_comm() noexcept {
  if (comm_ && !aborted_) ncclCommAbort(comm_);  // its own error is of no further use
  aborted_ = true;
  comm_ = nullptr;
}

size_t NcclCore::element_bytes(ncclDataType_t type) {
  switch (type) {
    case ncclInt8:
    case ncclUint8:
      return 1;
    case ncclFloat16:
    case ncclBfloat16:
      return 2;
    case ncclInt32:
    case ncclUint32:
    case ncclFloat32:
      return 4;
    case ncclInt64:
    case ncclUint64:
    case ncclFloat64:
      return 8;
    default:
      detail::raise_check(__FILE__, __LINE__,
                          fmt::format("NCCL data type {} is not supported by clinfm", int(type)),
                          std::string());
  }
}

}  // namespace clinfm
