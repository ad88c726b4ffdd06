// A thin NCCL communicator over raw device pointers, free of LibTorch so that it compiles and
// links wherever the CUDA toolkit and NCCL are (CI has them without a GPU or a CUDA LibTorch).
// nccl_communicator.cpp adapts it to torch CUDA tensors behind clinfm::Communicator.
//
// What it does: joins the ranks of an MPI communicator into one NCCL communicator (rank 0
// creates the unique id and broadcasts it over MPI; GPU = local rank), owns a non-blocking
// communication stream, orders it against a caller's compute stream with events, enqueues the
// collectives, checks NCCL's asynchronous errors, and bounds every host-side wait by timeout_s:
// past it the communicator is aborted (ncclCommAbort), the hang is logged and the job ends.
// What it does not: check dtypes or sizes across ranks, allocate device memory, or run a
// watchdog thread (waits are bounded only where the host waits: synchronize / wait_event).
#pragma once

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace clinfm {

class NcclCore {
 public:
  // Collective over `comm` (MPI must be initialised): rank 0 of `comm` creates the NCCL unique
  // id and broadcasts it; every rank then joins on GPU `device` (its local rank).
  NcclCore(MPI_Comm comm, int device, double timeout_s);
  // Without MPI: every rank passes the same `id` (ncclGetUniqueId on one of them).
  NcclCore(const ncclUniqueId& id, int rank, int size, int device, double timeout_s);
  // Waits (bounded by timeout_s) for the communication stream, then destroys the communicator.
  ~NcclCore();
  NcclCore(const NcclCore&) = delete;
  NcclCore& operator=(const NcclCore&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int device() const { return device_; }
  double timeout_s() const { return timeout_s_; }
  cudaStream_t stream() const { return stream_; }  // the communication stream
  ncclComm_t comm() const { return comm_; }

  // The communication stream waits for everything queued so far on `compute` (an event recorded
  // on `compute`), so a collective sees the values the compute stream produced.
  void comm_waits_for(cudaStream_t compute);
  // `compute` waits for everything queued so far on the communication stream, so later kernels
  // see the collective's result.
  void compute_waits_for_comm(cudaStream_t compute);

  // Collectives, enqueued on `stream` (normally stream()); `count` is in elements of `type`.
  void all_reduce(void* buffer, size_t count, ncclDataType_t type, ncclRedOp_t op, cudaStream_t stream);
  void broadcast(void* buffer, size_t count, ncclDataType_t type, int root, cudaStream_t stream);
  // Every rank sends `send_count` elements; `recv` holds size() * send_count, rank r's at r * send_count.
  void all_gather(const void* send, void* recv, size_t send_count, ncclDataType_t type, cudaStream_t stream);
  // `send` holds size() * recv_count elements; rank r receives the reduction of block r.
  void reduce_scatter(const void* send, void* recv, size_t recv_count, ncclDataType_t type, ncclRedOp_t op,
                      cudaStream_t stream);
  // Uneven shards: rank r's block is `counts[r]` elements at element offset `offsets[r]` of the
  // full buffer. all_gather_v: `send` is this rank's block, `recv` the full buffer (grouped
  // broadcasts). reduce_scatter_v: `send` is the full buffer, `recv` this rank's block (grouped
  // reduces). Both take the single-call NCCL collective when every count is equal.
  void all_gather_v(const void* send, void* recv, const std::vector<size_t>& counts,
                    const std::vector<size_t>& offsets, ncclDataType_t type, cudaStream_t stream);
  void reduce_scatter_v(const void* send, void* recv, const std::vector<size_t>& counts,
                        const std::vector<size_t>& offsets, ncclDataType_t type, ncclRedOp_t op,
                        cudaStream_t stream);

  // Throws (after aborting the communicator) if NCCL has reported an asynchronous error.
  void check_async_error();
  // Blocks the host until `stream` / `event` is complete, checking NCCL's asynchronous errors
  // while it polls. Past timeout_s: logs "<what> of <bytes> bytes has not completed after T s",
  // aborts the communicator and ends the job.
  void synchronize(cudaStream_t stream, const std::string& what, size_t bytes);
  void wait_event(cudaEvent_t event, const std::string& what, size_t bytes);

  // Bytes of one element of `type`.
  static size_t element_bytes(ncclDataType_t type);

 private:
  void init(const ncclUniqueId& id);
  void wait_until_complete(cudaStream_t stream, cudaEvent_t event, const std::string& what, size_t bytes);
  [[noreturn]] void abort_after_timeout(const std::string& what, size_t bytes);
  void abort_comm() noexcept;

  int rank_ = 0;
  int size_ = 1;
  int device_ = 0;
  double timeout_s_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t compute_ready_ = nullptr;  // recorded on a compute stream, waited on by stream_
  cudaEvent_t comm_done_ = nullptr;      // recorded on stream_, waited on by a compute stream
  bool aborted_ = false;
};

#if defined(CLINFM_WITH_CUDA)
class Communicator;  // trainer/comm/communicator.h (LibTorch); defined in nccl_communicator.cpp
// The NCCL backend over MPI_COMM_WORLD for CUDA tensors on GPU world().local_rank.
std::unique_ptr<Communicator> make_nccl_communicator(double timeout_s);
#endif

}  // namespace clinfm
