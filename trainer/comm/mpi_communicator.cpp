// The MPI backend of clinfm::Communicator (trainer/comm/communicator.h) for CPU tensors, and
// shard_range().
// Over 400 lines because the synchronous, split-count and asynchronous paths share one MPI
// communicator and its datatype table; split, each file would need the other's internals.
//
// What it does:
// - float32 (MPI_FLOAT), int64 (MPI_INT64_T) and bfloat16 collectives on contiguous CPU tensors,
//   on a duplicate of MPI_COMM_WORLD so that nobody else's MPI traffic can match ours.
// - all_gather / reduce_scatter with shards of unequal size (shard_range), via MPI_Allgatherv
//   and MPI_Reduce_scatter with per-rank counts.
// - Element counts above what one MPI call takes (int) are split into several calls. The split
//   all_gather / reduce_scatter path uses one MPI_Bcast / MPI_Reduce per shard piece: slower than
//   the v-collectives, but it is only taken above 2^31 - 1 elements.
// - all_reduce_async: one communication thread per communicator runs the queued all-reduces in
//   order with blocking MPI_Allreduce calls on a second duplicate of MPI_COMM_WORLD, so they
//   overlap with computation and cannot interleave with the main thread's blocking collectives.
//   wait() rethrows the thread's error, and past dist.timeout_s logs and ends the job.
//
// What it does not do:
// - CUDA tensors (nccl_communicator.cpp), other dtypes, non-contiguous tensors.
// - Check that the ranks pass matching sizes and dtypes: that would cost a collective per call.
//   A mismatch is an MPI error (truncation) or a hang that the timeout of wait() catches.
// - Time out a blocking call (all_reduce, broadcast, ...): MPI cannot cancel a collective, and
//   the main thread is inside it. Only wait() on asynchronous work has the timeout.
//
// bfloat16 rounding: MPI has no bfloat16 type, so elements travel as MPI_UINT16_T and are summed
// by a user-defined MPI_Op that widens both operands to float, adds them, and rounds the sum back
// to bfloat16 (round to nearest, ties to even; c10::BFloat16). Every pairwise combination
// rounds, so a sum over N ranks is rounded up to N-1 times instead of once, and which partial sums
// are formed depends on MPI's reduction algorithm. Example with 2 ranks: 1 + 2^-8 = 1.00390625 is
// a tie between 1 and 1 + 2^-7 and becomes 1. The operation is commutative bit for bit (float
// addition is), so both partners of an exchange compute the same bits and every rank ends with
// an identical result. kAverage divides the bfloat16 sum by the world size, one more rounding
// unless the size is a power of two. Widening to float32 for the whole reduction would round
// once but double the bytes on the wire.
//
// Environment (must be the same on every rank; both read when a communicator is made):
//   CLINFM_MPI_MAX_COUNT=N   at most N elements per MPI call (default and maximum 2^31 - 1);
//                            tests set it small to exercise the split path.
//   CLINFM_MPI_COMM_THREAD=0 no communication thread: asynchronous all-reduces run inside wait(),
//                            as they must when MPI lacks MPI_THREAD_MULTIPLE (for debugging).
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/check.h"
#include "common/log.h"
#include "trainer/comm/communicator.h"
#include "trainer/comm/launch.h"
#include "trainer/comm/tensor_checks.h"

namespace clinfm {

std::pair<int64_t, int64_t> shard_range(int64_t total, int rank, int size) {
  CLINFM_CHECK(size > 0 && rank >= 0 && rank < size, "shard_range: rank {} is not in a world of {} ranks",
               rank, size);
  CLINFM_CHECK(total >= 0, "shard_range: the total number of elements is negative ({})", total);
  const int64_t base = total / size;
  const int64_t extra = total % size;  // the first `extra` ranks own one element more
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

namespace {

// What every collective of one communicator needs; fixed once the communicator is made.
struct MpiContext {
  int rank = 0;
  int size = 1;
  int64_t max_count = INT_MAX;  // elements per MPI call
  MPI_Op bf16_sum = MPI_OP_NULL;
};

// How one dtype travels through MPI.
struct MpiElement {
  MPI_Datatype type;
  MPI_Op sum;
  int64_t bytes;
};

// MPI_User_function summing bfloat16 through float; see the file comment for the rounding.
void bf16_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* addend = static_cast<const c10::BFloat16*>(in);
  auto* sum = static_cast<c10::BFloat16*>(inout);
  for (int i = 0; i < *len; ++i)
    sum[i] = c10::BFloat16(static_cast<float>(addend[i]) + static_cast<float>(sum[i]));
}

// The MPI description of `tensor`'s elements; throws a clear error for anything this backend
// cannot reduce. `what` names the call and argument for the message.
MpiElement element_of(const MpiContext& context, const torch::Tensor& tensor, const char* what) {
  check_comm_tensor(tensor, CommBackend::kMpi, what);
  const torch::ScalarType type = tensor.scalar_type();
  if (type == torch::kFloat) return {MPI_FLOAT, MPI_SUM, 4};
  if (type == torch::kLong) return {MPI_INT64_T, MPI_SUM, 8};
  if (type == torch::kBFloat16) return {MPI_UINT16_T, context.bf16_sum, 2};
  raise_unsupported_dtype(type, CommBackend::kMpi, what);
}

char* bytes_of(const torch::Tensor& tensor) { return static_cast<char*>(tensor.data_ptr()); }

void divide_by_world(torch::Tensor& tensor, const MpiContext& context) {
  if (context.size > 1) tensor.div_(context.size);
}

// The in-place all-reduce both the main thread and the communication thread run.
void all_reduce_on(MPI_Comm comm, const MpiContext& context, torch::Tensor& tensor, ReduceOp op) {
  const MpiElement element = element_of(context, tensor, "all_reduce");
  check_reduce_op(tensor, op, "all_reduce");
  torch::NoGradGuard no_grad;  // in place on gradients or parameters; never part of a graph
  char* data = bytes_of(tensor);
  const int64_t total = tensor.numel();
  for (int64_t offset = 0; offset < total; offset += context.max_count) {
    const int count = static_cast<int>(std::min(context.max_count, total - offset));
    MPI_CHECK(
        MPI_Allreduce(MPI_IN_PLACE, data + offset * element.bytes, count, element.type, element.sum, comm));
  }
  if (op == ReduceOp::kAverage) divide_by_world(tensor, context);
}

std::string describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "non-standard exception";
  }
}

std::chrono::steady_clock::duration seconds(double value) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(value));
}

// One all_reduce_async call. Fields other than `done` and `error` are fixed at creation.
struct PendingAllReduce {
  torch::Tensor tensor;  // released once done
  ReduceOp op;
  uint64_t index;  // 1-based position among this communicator's asynchronous all-reduces
  int64_t bytes;
  std::string dtype;
  bool done = false;  // guarded by AsyncEngine::mutex_
  std::exception_ptr error;
};

// The queue of asynchronous all-reduces and the thread that runs them. Shared by the
// communicator and its CommWork handles, so a handle that outlives the communicator stays valid.
class AsyncEngine {
 public:
  AsyncEngine(MPI_Comm comm, MpiContext context, double timeout_s, bool threaded)
      : comm_(comm), context_(context), timeout_s_(timeout_s), threaded_(threaded) {
    if (threaded_) thread_ = std::thread([this] { thread_main(); });
  }
  ~AsyncEngine() { shutdown(); }
  AsyncEngine(const AsyncEngine&) = delete;
  AsyncEngine& operator=(const AsyncEngine&) = delete;

  std::shared_ptr<PendingAllReduce> enqueue(torch::Tensor tensor, ReduceOp op, int64_t bytes) {
    auto item = std::make_shared<PendingAllReduce>();
    item->dtype = dtype_name(tensor.scalar_type());
    item->tensor = std::move(tensor);
    item->op = op;
    item->bytes = bytes;
    std::lock_guard<std::mutex> lock(mutex_);
    CLINFM_CHECK(!stopping_, "all_reduce_async on a communicator that is being destroyed");
    item->index = ++started_;
    queue_.push_back(item);
    changed_.notify_all();
    return item;
  }

  void wait(PendingAllReduce& item) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!threaded_) {
      // Without a thread the caller runs everything queued up to `item`, in order.
      while (!item.done) {
        std::shared_ptr<PendingAllReduce> next = queue_.front();
        queue_.pop_front();
        lock.unlock();
        execute(next);
        lock.lock();
      }
    } else if (timeout_s_ > 0) {
      if (!changed_.wait_for(lock, seconds(timeout_s_), [&] { return item.done; })) {
        const size_t queued = queue_.size();
        lock.unlock();
        log_error(
            "asynchronous all-reduce of {} bytes has not completed after {:g} s ({} #{} on this "
            "communicator, "
            "{} more queued behind it): another rank has probably failed or stopped making the same "
            "collective calls (see its log); ending the job",
            item.bytes, timeout_s_, item.dtype, item.index, queued);
        abort_job(1);
      }
    } else {
      changed_.wait(lock, [&] { return item.done; });
    }
    if (item.error) std::rethrow_exception(item.error);
  }

  // Runs what is still queued (every rank queued the same all-reduces, so draining keeps the
  // ranks matched where dropping could leave a partner waiting), then ends the thread.
  // Noexcept: errors stay in the items. Ends the job if the thread makes no progress for
  // timeout_s, because the caller may be unwinding from an error and must not hang.
  void shutdown() noexcept {
    std::unique_lock<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    if (!distributed_initialized() && first_failure_.empty())
      first_failure_ = "MPI was finalized before the communicator was destroyed";
    if (!threaded_) {
      while (!queue_.empty()) {
        std::shared_ptr<PendingAllReduce> next = queue_.front();
        queue_.pop_front();
        lock.unlock();
        execute(next);
        lock.lock();
      }
      return;
    }
    changed_.notify_all();
    uint64_t completed_seen = completed_;
    while (!thread_exited_) {
      if (timeout_s_ <= 0) {
        changed_.wait(lock);
        continue;
      }
      const bool progressed = changed_.wait_for(
          lock, seconds(timeout_s_), [&] { return thread_exited_ || completed_ != completed_seen; });
      if (!progressed) {
        const int64_t bytes = running_ ? running_->bytes : 0;
        lock.unlock();
        log_error(
            "the MPI communicator is being destroyed, but its asynchronous all-reduce of {} bytes has not "
            "completed after {:g} s: another rank has probably failed; ending the job",
            bytes, timeout_s_);
        abort_job(1);
      }
      completed_seen = completed_;
    }
    lock.unlock();
    thread_.join();
  }

 private:
  void thread_main() {
    for (;;) {
      std::shared_ptr<PendingAllReduce> item;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) {
          thread_exited_ = true;
          changed_.notify_all();
          return;
        }
        item = queue_.front();
        queue_.pop_front();
      }
      execute(item);
    }
  }

  // Runs one all-reduce (no lock held on entry) and marks it done. After a failure the later
  // ones are not run: this rank's sequence of collectives is already out of step.
  void execute(const std::shared_ptr<PendingAllReduce>& item) {
    std::exception_ptr error;
    std::string earlier_failure;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      earlier_failure = first_failure_;
      running_ = item;
    }
    if (!earlier_failure.empty()) {
      error = std::make_exception_ptr(
          Error(fmt::format("asynchronous all-reduce #{} was not run: {}", item->index, earlier_failure),
                "the first error on this rank is the cause", describe_site(__FILE__, __LINE__)));
    } else {
      try {
        all_reduce_on(comm_, context_, item->tensor, item->op);
      } catch (...) {
        error = std::current_exception();
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (error && first_failure_.empty())
      first_failure_ = fmt::format("asynchronous all-reduce #{} failed: {}", item->index, describe(error));
    item->error = error;
    item->done = true;
    item->tensor = torch::Tensor();
    running_.reset();
    ++completed_;
    changed_.notify_all();
  }

  const MPI_Comm comm_;
  const MpiContext context_;
  const double timeout_s_;
  const bool threaded_;
  std::mutex mutex_;
  std::condition_variable changed_;  // queue, completions and thread exit
  std::deque<std::shared_ptr<PendingAllReduce>> queue_;
  std::shared_ptr<PendingAllReduce> running_;
  uint64_t started_ = 0;
  uint64_t completed_ = 0;
  bool stopping_ = false;
  bool thread_exited_ = false;
  std::string first_failure_;
  std::thread thread_;
};

class MpiWork final : public CommWork {
 public:
  MpiWork(std::shared_ptr<AsyncEngine> engine, std::shared_ptr<PendingAllReduce> item)
      : engine_(std::move(engine)), item_(std::move(item)) {}
  void wait() override { engine_->wait(*item_); }

 private:
  std::shared_ptr<AsyncEngine> engine_;
  std::shared_ptr<PendingAllReduce> item_;
};

int64_t max_count_from_env() {
  const char* text = std::getenv("CLINFM_MPI_MAX_COUNT");
  if (!text || !*text) return INT_MAX;
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  CLINFM_CHECK(*end == '\0' && value >= 1, "CLINFM_MPI_MAX_COUNT={} is not a positive integer", text);
  return std::min<int64_t>(value, INT_MAX);
}

bool comm_thread_from_env() {
  const char* text = std::getenv("CLINFM_MPI_COMM_THREAD");
  return !(text && std::string(text) == "0");
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(double timeout_s) {
    CLINFM_CHECK(distributed_initialized(), "the MPI communicator needs MPI: call init_distributed() first");
    context_.max_count = max_count_from_env();
    MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
    MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &async_comm_));
    // Errors come back as codes so that MPI_CHECK can report them (a dup inherits the world's
    // handler, which the launcher set; say it here so it does not depend on that).
    MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_set_errhandler(async_comm_, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(comm_, &context_.rank));
    MPI_CHECK(MPI_Comm_size(comm_, &context_.size));
    MPI_CHECK(MPI_Op_create(&bf16_sum, /*commute=*/1, &context_.bf16_sum));
    int provided = MPI_THREAD_SINGLE;
    MPI_CHECK(MPI_Query_thread(&provided));
    if (provided != MPI_THREAD_MULTIPLE) {
      static std::once_flag warned;
      std::call_once(warned, [&] {
        log_warn(
            "MPI provides {}, not MPI_THREAD_MULTIPLE: asynchronous all-reduces run inside wait() and do not "
            "overlap with computation (build OpenMPI with thread support to get the overlap)",
            mpi_thread_level_name(provided));
      });
    }
    const bool threaded = provided == MPI_THREAD_MULTIPLE && comm_thread_from_env();
    engine_ = std::make_shared<AsyncEngine>(async_comm_, context_, timeout_s, threaded);
  }

  ~MpiCommunicator() override {
    engine_->shutdown();
    if (distributed_initialized()) {
      // Return codes ignored: a destructor cannot report them, and the job is ending anyway
      // when these fail.
      MPI_Comm_free(&async_comm_);
      MPI_Comm_free(&comm_);
      MPI_Op_free(&context_.bf16_sum);
    }
  }

  int rank() const override { return context_.rank; }
  int size() const override { return context_.size; }
  std::string backend() const override { return "mpi"; }

  void all_reduce(torch::Tensor& tensor, ReduceOp op) override { all_reduce_on(comm_, context_, tensor, op); }

  std::unique_ptr<CommWork> all_reduce_async(torch::Tensor tensor, ReduceOp op) override {
    // Checked here so that a wrong argument is reported by the caller's thread, at the call.
    const MpiElement element = element_of(context_, tensor, "all_reduce_async");
    check_reduce_op(tensor, op, "all_reduce_async");
    const int64_t bytes = tensor.numel() * element.bytes;
    return std::make_unique<MpiWork>(engine_, engine_->enqueue(std::move(tensor), op, bytes));
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    const MpiElement element = element_of(context_, tensor, "broadcast");
    CLINFM_CHECK(root >= 0 && root < context_.size, "broadcast: root {} is not a rank of a world of {}", root,
                 context_.size);
    char* data = bytes_of(tensor);
    const int64_t total = tensor.numel();
    for (int64_t offset = 0; offset < total; offset += context_.max_count) {
      const int count = static_cast<int>(std::min(context_.max_count, total - offset));
      MPI_CHECK(MPI_Bcast(data + offset * element.bytes, count, element.type, root, comm_));
    }
  }

  void all_gather(const torch::Tensor& input, torch::Tensor& output) override {
    const MpiElement element = element_of(context_, input, "all_gather input");
    element_of(context_, output, "all_gather output");
    // The input may be this rank's shard of the output itself (MPI_IN_PLACE), nothing else of it.
    const auto [begin, end, in_place] = check_all_gather(input, output, context_.rank, context_.size);
    const int64_t total = output.numel();
    if (total == 0) return;
    char* out = bytes_of(output);
    if (total <= context_.max_count) {
      std::vector<int> counts, displacements;
      shard_counts(total, context_.size, counts, displacements);
      MPI_CHECK(MPI_Allgatherv(in_place ? MPI_IN_PLACE : input.data_ptr(), static_cast<int>(end - begin),
                               element.type, out, counts.data(), displacements.data(), element.type, comm_));
      return;
    }
    // Displacements past INT_MAX cannot be expressed: every rank broadcasts its shard in pieces.
    if (!in_place && end > begin) std::memcpy(out + begin * element.bytes, input.data_ptr(), input.nbytes());
    for (int r = 0; r < context_.size; ++r) {
      const auto [shard_begin, shard_end] = shard_range(total, r, context_.size);
      for (int64_t offset = shard_begin; offset < shard_end; offset += context_.max_count) {
        const int count = static_cast<int>(std::min(context_.max_count, shard_end - offset));
        MPI_CHECK(MPI_Bcast(out + offset * element.bytes, count, element.type, r, comm_));
      }
    }
  }

  void reduce_scatter(const torch::Tensor& input, torch::Tensor& output, ReduceOp op) override {
    const MpiElement element = element_of(context_, input, "reduce_scatter input");
    element_of(context_, output, "reduce_scatter output");
    check_reduce_scatter(input, output, op, context_.rank, context_.size);
    const int64_t total = input.numel();
    if (total == 0) return;
    torch::NoGradGuard no_grad;
    // MPI's in-place reduce-scatter has another layout; an overlapping output (e.g. this rank's
    // shard of the input) receives the result through a staging tensor instead.
    torch::Tensor target = overlaps(input, output) ? torch::empty_like(output) : output;
    const char* in = bytes_of(input);
    if (total <= context_.max_count) {
      std::vector<int> counts, displacements;
      shard_counts(total, context_.size, counts, displacements);
      MPI_CHECK(MPI_Reduce_scatter(in, target.data_ptr(), counts.data(), element.type, element.sum, comm_));
    } else {
      for (int r = 0; r < context_.size; ++r) {
        const auto [shard_begin, shard_end] = shard_range(total, r, context_.size);
        for (int64_t offset = shard_begin; offset < shard_end; offset += context_.max_count) {
          const int count = static_cast<int>(std::min(context_.max_count, shard_end - offset));
          void* result =
              r == context_.rank ? bytes_of(target) + (offset - shard_begin) * element.bytes : nullptr;
          MPI_CHECK(
              MPI_Reduce(in + offset * element.bytes, result, count, element.type, element.sum, r, comm_));
        }
      }
    }
    if (!target.is_same(output)) output.copy_(target);
    if (op == ReduceOp::kAverage) divide_by_world(output, context_);
  }

  void barrier() override { MPI_CHECK(MPI_Barrier(comm_)); }

 private:
  MpiContext context_;
  MPI_Comm comm_ = MPI_COMM_NULL;        // the main thread's collectives
  MPI_Comm async_comm_ = MPI_COMM_NULL;  // the communication thread's all-reduces only
  std::shared_ptr<AsyncEngine> engine_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(double timeout_s) {
  return std::make_unique<MpiCommunicator>(timeout_s);
}

}  // namespace clinfm
