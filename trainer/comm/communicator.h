// One interface for the collectives of data-parallel training, with two backends: MPI for CPU
// tensors (mpi_communicator.cpp) and NCCL for CUDA tensors (nccl_communicator.cpp, built only
// with a CUDA LibTorch). dist.backend=auto picks NCCL when the model is on CUDA, MPI otherwise.
// All calls are collective: every rank of the communicator makes them in the same order with
// tensors of the same dtype and size. Tensors must be contiguous; operations are in place
// where the signature says so. Supported dtypes: float32, bfloat16, int64 (averaging an
// integer tensor is an error).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace clinfm {

enum class ReduceOp { kSum, kAverage };

// A collective started with an *_async call. wait() blocks until it is complete, rethrowing
// its error; after dist.timeout_s seconds it logs which collective hangs and aborts the job.
class CommWork {
 public:
  virtual ~CommWork() = default;
  virtual void wait() = 0;
};

// The elements [begin, end) of a flat buffer of `total` elements that `rank` of `size` owns
// (ZeRO-1 shards, reduce-scatter and all-gather): the first total % size ranks own one more.
std::pair<int64_t, int64_t> shard_range(int64_t total, int rank, int size);

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "local" | "mpi" | "nccl"

  virtual void all_reduce(torch::Tensor& tensor, ReduceOp op) = 0;
  // Starts an in-place all-reduce and returns at once; the caller must keep `tensor` alive and
  // untouched until wait() returns.
  virtual std::unique_ptr<CommWork> all_reduce_async(torch::Tensor tensor, ReduceOp op) = 0;
  virtual void broadcast(torch::Tensor& tensor, int root) = 0;
  // `output` (total elements) receives every rank's `input`, rank r's at shard_range(total, r, size).
  virtual void all_gather(const torch::Tensor& input, torch::Tensor& output) = 0;
  // `output` receives the reduction of everyone's `input` (total elements) over this rank's
  // shard_range(total, rank, size).
  virtual void reduce_scatter(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) = 0;
  virtual void barrier() = 0;
  // Sums a few float64 values (the step's loss sums, on the communicator's device) over ranks,
  // in place. They travel as float32; a world of one keeps its doubles unrounded.
  virtual void sum_loss_sums(torch::Tensor& values);
};

#ifdef CLINFM_WITH_CUDA
// The NCCL backend for CUDA tensors on each rank's current device (nccl_communicator.cpp);
// rank 0 makes the NCCL id and broadcasts it over MPI.
std::unique_ptr<Communicator> make_nccl_communicator(double timeout_s);
#endif

// A world of one: every collective is the identity (trainer/comm/local_communicator.cpp).
std::unique_ptr<Communicator> make_local_communicator();

// The MPI backend over MPI_COMM_WORLD (MPI must be initialised: trainer/comm/launch.h).
// Asynchronous all-reduces run on one communication thread, in the order they were started.
std::unique_ptr<Communicator> make_mpi_communicator(double timeout_s);

}  // namespace clinfm
