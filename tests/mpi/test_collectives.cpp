// The MPI communicator's collectives under mpirun with 1, 2 and 4 ranks: every reduction and
// dtype, sizes that do not divide by the world size (and 0), uneven shards, the split path for
// counts above one MPI call, asynchronous all-reduces (order, results, overlap with the main
// thread, destruction with work pending) and the errors for wrong arguments, with those of
// the argument checks the NCCL backend shares (tensor_checks.h), which need no GPU.
// Over 400 lines: one case per collective, dtype and size class, as the list above says.
// Each rank computes the expected values on its own from the rank formulas, never from another
// rank's data. `test_collectives --timeout-probe` (2+ ranks) is not a GoogleTest run: rank 0
// waits on an all-reduce that rank 1 never starts, so the job must end with the timeout message.
// Not covered: an MPI failure inside the communication thread (MPI gives no way to provoke one
// on demand), the MPI_THREAD_MULTIPLE fallback warning (OpenMPI here provides MULTIPLE; the
// fallback's code path is run through CLINFM_MPI_COMM_THREAD=0).
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/check.h"
#include "trainer/comm/communicator.h"
#include "trainer/comm/launch.h"
#include "trainer/comm/tensor_checks.h"

namespace clinfm {
namespace {

constexpr double kTimeoutS = 60.0;
const std::vector<int64_t> kSizes = {0, 1, 7, 1000003};  // none divides by 2 or 4 (but 0)

int world_rank() { return world().rank; }
int world_size() { return world().world_size; }

// Sets an environment variable for the life of the object (same on every rank, so the ranks'
// communicators agree).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

// Rank r's contribution: (r + 1) * (i % period), small integers, exact in float32 and bfloat16.
torch::Tensor contribution(int64_t n, int rank, int64_t period, torch::ScalarType type) {
  return (torch::arange(n, torch::kLong) % period * (rank + 1)).to(type);
}
// Sum over ranks of contribution(): the ranks' factors add up to size (size + 1) / 2.
torch::Tensor contribution_sum(int64_t n, int size, int64_t period, torch::ScalarType type) {
  return (torch::arange(n, torch::kLong) % period * (size * (size + 1) / 2)).to(type);
}

void expect_equal(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type()) << what;
  ASSERT_EQ(actual.numel(), expected.numel()) << what;
  if (!torch::equal(actual, expected)) {
    const torch::Tensor wrong = (actual.to(torch::kDouble) != expected.to(torch::kDouble)).nonzero();
    const int64_t first = wrong[0].item<int64_t>();
    FAIL() << what << ": " << wrong.size(0) << " elements differ; first at " << first << ": got "
           << actual[first].item<double>() << ", expected " << expected[first].item<double>();
  }
}

// Runs `body` and expects a clinfm::Error whose message contains every one of `needles`.
template <typename Body>
void expect_error(Body body, const std::vector<std::string>& needles) {
  try {
    body();
    ADD_FAILURE() << "no error was raised";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const std::string& needle : needles) EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(ShardRange, FirstRanksOwnTheRemainder) {
  using Range = std::pair<int64_t, int64_t>;
  const std::vector<Range> expected = {{0, 3}, {3, 6}, {6, 8}, {8, 10}};  // sizes 3, 3, 2, 2
  for (int r = 0; r < 4; ++r) EXPECT_EQ(shard_range(10, r, 4), expected[r]) << "rank " << r;
  EXPECT_EQ(shard_range(3, 3, 4), Range(3, 3));
  EXPECT_EQ(shard_range(0, 2, 4), Range(0, 0));
  EXPECT_EQ(shard_range(5, 0, 1), Range(0, 5));
}

TEST(ShardRange, ShardsTileTheBufferAndDifferByAtMostOne) {
  for (int64_t total : {0, 1, 2, 7, 10, 1000003}) {
    for (int size : {1, 2, 3, 4, 7}) {
      int64_t next = 0;
      for (int r = 0; r < size; ++r) {
        const auto [begin, end] = shard_range(total, r, size);
        EXPECT_EQ(begin, next) << total << " " << r << "/" << size;
        EXPECT_TRUE(end - begin == total / size || end - begin == total / size + 1);
        next = end;
      }
      EXPECT_EQ(next, total);
    }
  }
}

TEST(ShardRange, RejectsARankOutsideTheWorld) {
  expect_error([] { shard_range(10, 4, 4); }, {"rank 4"});
  expect_error([] { shard_range(-1, 0, 4); }, {"negative"});
}

class Collectives : public ::testing::Test {
 protected:
  void SetUp() override { comm = make_mpi_communicator(kTimeoutS); }
  std::unique_ptr<Communicator> comm;
};

TEST_F(Collectives, KnowsItsPlaceInTheWorld) {
  EXPECT_EQ(comm->rank(), world_rank());
  EXPECT_EQ(comm->size(), world_size());
  EXPECT_EQ(comm->backend(), "mpi");
  comm->barrier();
}

TEST_F(Collectives, AllReduceFloat32SumAndAverage) {
  const int r = comm->rank(), n = comm->size();
  for (int64_t size : kSizes) {
    torch::Tensor sum = contribution(size, r, 97, torch::kFloat);
    comm->all_reduce(sum, ReduceOp::kSum);
    expect_equal(sum, contribution_sum(size, n, 97, torch::kFloat), "float32 sum of " + std::to_string(size));

    torch::Tensor average = contribution(size, r, 97, torch::kFloat);
    comm->all_reduce(average, ReduceOp::kAverage);
    expect_equal(average, contribution_sum(size, n, 97, torch::kFloat) / n,
                 "float32 average of " + std::to_string(size));
  }
}

TEST_F(Collectives, AllReduceBfloat16ExactValues) {
  const int r = comm->rank(), n = comm->size();
  // Sums stay below 256 in magnitude, where bfloat16 holds every integer.
  for (int64_t size : kSizes) {
    torch::Tensor sum = contribution(size, r, 13, torch::kBFloat16);
    comm->all_reduce(sum, ReduceOp::kSum);
    expect_equal(sum, contribution_sum(size, n, 13, torch::kBFloat16),
                 "bfloat16 sum of " + std::to_string(size));

    torch::Tensor average = contribution(size, r, 13, torch::kBFloat16);
    comm->all_reduce(average, ReduceOp::kAverage);
    expect_equal(average, (contribution_sum(size, n, 13, torch::kFloat) / n).to(torch::kBFloat16),
                 "bfloat16 average of " + std::to_string(size));
  }
}

// The documented rounding: each pairwise sum is rounded to bfloat16 (nearest, ties to even).
TEST_F(Collectives, AllReduceBfloat16RoundsEveryPairwiseSum) {
  const int r = comm->rank(), n = comm->size();
  // Rank 0 brings 1, every other rank 2^-8 (half the bfloat16 spacing just above 1).
  const float mine = r == 0 ? 1.0f : 1.0f / 256;
  torch::Tensor sum = torch::full({5}, mine, torch::kBFloat16);
  comm->all_reduce(sum, ReduceOp::kSum);
  const double exact = 1.0 + (n - 1) / 256.0;
  const double got = sum[0].item<float>();
  // n == 2: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 and rounds to the even one, 1.
  if (n <= 2) {
    EXPECT_EQ(got, 1.0) << "exact sum " << exact;
  }
  // More ranks: up to n-1 roundings of at most half a spacing (2^-8) each, depending on the order.
  EXPECT_LE(std::abs(got - exact), (n - 1) / 256.0) << "exact sum " << exact;
  // Whatever the order, every rank holds the same bits.
  float bits_min = got, bits_max = got;
  float value = static_cast<float>(got);
  MPI_Allreduce(&value, &bits_min, 1, MPI_FLOAT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&value, &bits_max, 1, MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(bits_min, bits_max);
}

TEST_F(Collectives, AllReduceInt64KeepsEveryBit) {
  const int r = comm->rank(), n = comm->size();
  // 2^58 + small terms: a path through double (53 bits) would lose the low bits.
  const int64_t base = int64_t{1} << 58;
  for (int64_t size : kSizes) {
    torch::Tensor values = torch::arange(size, torch::kLong) % 5 + (base + 7 * r);
    comm->all_reduce(values, ReduceOp::kSum);
    const torch::Tensor expected =
        torch::arange(size, torch::kLong) % 5 * n + (n * base + 7 * n * (n - 1) / 2);
    expect_equal(values, expected, "int64 sum of " + std::to_string(size));
  }
}

TEST_F(Collectives, AllReduceInt64AverageIsAnError) {
  torch::Tensor values = torch::ones({3}, torch::kLong);
  expect_error([&] { comm->all_reduce(values, ReduceOp::kAverage); }, {"int64", "averag"});
  expect_error([&] { comm->all_reduce_async(values, ReduceOp::kAverage); }, {"int64", "averag"});
  torch::Tensor shard = torch::empty(
      {shard_range(3, comm->rank(), comm->size()).second - shard_range(3, comm->rank(), comm->size()).first},
      torch::kLong);
  expect_error([&] { comm->reduce_scatter(values, shard, ReduceOp::kAverage); }, {"int64", "averag"});
}

TEST_F(Collectives, BroadcastFromTheLastRank) {
  const int r = comm->rank(), n = comm->size();
  const int root = n - 1;
  for (torch::ScalarType type : {torch::kFloat, torch::kBFloat16, torch::kLong}) {
    for (int64_t size : kSizes) {
      torch::Tensor values = contribution(size, r, 31, type);
      comm->broadcast(values, root);
      expect_equal(values, contribution(size, root, 31, type),
                   "broadcast of " + std::to_string(size) + " " + c10::toString(type));
    }
  }
}

// Element i of the gathered buffer: unique per index, so a shard in the wrong place shows.
torch::Tensor gathered_values(int64_t total, torch::ScalarType type) {
  return (torch::arange(total, torch::kLong) * 3 + 1).to(type);
}

TEST_F(Collectives, AllGatherUnevenShards) {
  const int r = comm->rank(), n = comm->size();
  for (torch::ScalarType type : {torch::kFloat, torch::kLong, torch::kBFloat16}) {
    for (int64_t total : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{10}, int64_t{1000003}}) {
      // bfloat16 holds every integer only up to 256.
      const torch::Tensor expected = type == torch::kBFloat16
                                         ? (torch::arange(total, torch::kLong) % 200).to(type)
                                         : gathered_values(total, type);
      const auto [begin, end] = shard_range(total, r, n);
      const torch::Tensor mine = expected.slice(0, begin, end).clone();
      torch::Tensor output = torch::full({total}, -1, type);
      comm->all_gather(mine, output);
      expect_equal(output, expected, "all_gather of " + std::to_string(total) + " " + c10::toString(type));
    }
  }
}

TEST_F(Collectives, AllGatherInPlaceFromOwnShard) {
  const int r = comm->rank(), n = comm->size();
  const int64_t total = 1003;
  const torch::Tensor expected = gathered_values(total, torch::kFloat);
  torch::Tensor output = torch::full({total}, -1.0f);
  const auto [begin, end] = shard_range(total, r, n);
  output.slice(0, begin, end).copy_(expected.slice(0, begin, end));
  torch::Tensor own_shard = output.slice(0, begin, end);  // a view into output
  comm->all_gather(own_shard, output);
  expect_equal(output, expected, "in-place all_gather");
}

TEST_F(Collectives, ReduceScatterUnevenShards) {
  const int r = comm->rank(), n = comm->size();
  for (torch::ScalarType type : {torch::kFloat, torch::kLong, torch::kBFloat16}) {
    for (int64_t total : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{10}, int64_t{1000003}}) {
      const torch::Tensor input = contribution(total, r, 11, type);
      const auto [begin, end] = shard_range(total, r, n);
      torch::Tensor output = torch::full({end - begin}, -1, type);
      comm->reduce_scatter(input, output, ReduceOp::kSum);
      const std::string what = "reduce_scatter of " + std::to_string(total) + " " + c10::toString(type);
      expect_equal(output, contribution_sum(total, n, 11, type).slice(0, begin, end), what + " (sum)");
      if (type == torch::kLong) continue;
      comm->reduce_scatter(input, output, ReduceOp::kAverage);
      expect_equal(output, (contribution_sum(total, n, 11, torch::kFloat) / n).slice(0, begin, end).to(type),
                   what + " (average)");
    }
  }
}

TEST_F(Collectives, ReduceScatterIntoOwnShardOfTheInput) {
  const int r = comm->rank(), n = comm->size();
  const int64_t total = 1003;
  torch::Tensor input = contribution(total, r, 11, torch::kFloat);
  const auto [begin, end] = shard_range(total, r, n);
  torch::Tensor own_shard = input.slice(0, begin, end);  // a view into input
  comm->reduce_scatter(input, own_shard, ReduceOp::kSum);
  expect_equal(own_shard, contribution_sum(total, n, 11, torch::kFloat).slice(0, begin, end),
               "reduce_scatter into the input's own shard");
}

// With at most 3 elements per MPI call every collective takes its split path.
TEST(CollectivesSplit, CountsAboveOneCallAreSplit) {
  ScopedEnv max_count("CLINFM_MPI_MAX_COUNT", "3");
  auto comm = make_mpi_communicator(kTimeoutS);
  const int r = comm->rank(), n = comm->size();
  for (int64_t total : {int64_t{1}, int64_t{7}, int64_t{1003}}) {
    const std::string what = " of " + std::to_string(total) + " split in threes";
    torch::Tensor sum = contribution(total, r, 97, torch::kFloat);
    comm->all_reduce(sum, ReduceOp::kSum);
    expect_equal(sum, contribution_sum(total, n, 97, torch::kFloat), "all_reduce" + what);

    torch::Tensor values = contribution(total, r, 31, torch::kLong);
    comm->broadcast(values, n - 1);
    expect_equal(values, contribution(total, n - 1, 31, torch::kLong), "broadcast" + what);

    const torch::Tensor expected = gathered_values(total, torch::kLong);
    const auto [begin, end] = shard_range(total, r, n);
    torch::Tensor gathered = torch::full({total}, -1, torch::kLong);
    comm->all_gather(expected.slice(0, begin, end).clone(), gathered);
    expect_equal(gathered, expected, "all_gather" + what);

    torch::Tensor shard = torch::full({end - begin}, -1.0f);
    comm->reduce_scatter(contribution(total, r, 11, torch::kFloat), shard, ReduceOp::kAverage);
    expect_equal(shard, (contribution_sum(total, n, 11, torch::kFloat) / n).slice(0, begin, end),
                 "reduce_scatter" + what);

    auto work = comm->all_reduce_async(contribution(total, r, 97, torch::kBFloat16), ReduceOp::kSum);
    work->wait();
  }
}

// Asynchronous all-reduces with the communication thread and without it (run inside wait()).
class AsyncCollectives : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (!GetParam()) no_thread = std::make_unique<ScopedEnv>("CLINFM_MPI_COMM_THREAD", "0");
    comm = make_mpi_communicator(kTimeoutS);
  }
  std::unique_ptr<ScopedEnv> no_thread;
  std::unique_ptr<Communicator> comm;
};

TEST_P(AsyncCollectives, SeveralInFlightCompleteInOrder) {
  const int r = comm->rank(), n = comm->size();
  const std::vector<int64_t> sizes = {1000003, 7, 0, 1, 65536, 1000003, 3, 12345};
  const std::vector<torch::ScalarType> types = {torch::kFloat, torch::kLong, torch::kBFloat16};
  std::vector<torch::Tensor> tensors;
  std::vector<std::unique_ptr<CommWork>> works;
  for (size_t k = 0; k < sizes.size(); ++k) {
    const torch::ScalarType type = types[k % types.size()];
    tensors.push_back(contribution(sizes[k], r, 13 + k, type));
    const ReduceOp op = type == torch::kLong || k % 2 == 0 ? ReduceOp::kSum : ReduceOp::kAverage;
    works.push_back(comm->all_reduce_async(tensors.back(), op));
  }
  // A blocking collective on the main thread while the queue is busy.
  torch::Tensor blocking = contribution(1001, r, 97, torch::kFloat);
  comm->all_reduce(blocking, ReduceOp::kSum);
  expect_equal(blocking, contribution_sum(1001, n, 97, torch::kFloat),
               "blocking all_reduce among async ones");

  // Waiting on the last one first: in-order execution means all earlier ones are done too.
  works.back()->wait();
  for (size_t k = 0; k < sizes.size(); ++k) {
    const torch::ScalarType type = types[k % types.size()];
    const bool sum = type == torch::kLong || k % 2 == 0;
    const torch::Tensor total = contribution_sum(sizes[k], n, 13 + k, sum ? type : torch::kFloat);
    expect_equal(tensors[k], sum ? total : (total / n).to(type), "async all-reduce #" + std::to_string(k));
  }
  for (auto& work : works) work->wait();  // already complete: returns at once, no error
}

// Ends the job with `message` unless destroyed within `seconds`: turns a deadlock into a failure
// that names itself instead of a ctest timeout.
class Watchdog {
 public:
  Watchdog(double seconds, std::string message) : message_(std::move(message)) {
    thread_ = std::thread([this, seconds] {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!done_changed_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return done_; })) {
        std::fprintf(stderr, "FAIL: %s\n", message_.c_str());
        abort_job(1);
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_changed_.notify_all();
    thread_.join();
  }

 private:
  std::string message_;
  std::mutex mutex_;
  std::condition_variable done_changed_;
  bool done_ = false;
  std::thread thread_;
};

// Rank 0 starts an all-reduce that the other ranks join only after rank 0's main thread has
// computed and passed a barrier. A blocking all_reduce_async would deadlock here; the
// communication thread lets the main thread compute and communicate meanwhile.
TEST_P(AsyncCollectives, OverlapsWithMainThreadComputation) {
  const int r = comm->rank(), n = comm->size();
  Watchdog watchdog(30, "all_reduce_async blocked the main thread (overlap test deadlocked)");
  const int64_t size = 1 << 20;
  torch::Tensor gradient = contribution(size, r, 97, torch::kFloat);
  std::unique_ptr<CommWork> work;
  if (r == 0) work = comm->all_reduce_async(gradient, ReduceOp::kSum);
  const torch::Tensor a = torch::rand({256, 256});
  const double checksum = torch::matmul(a, a).sum().item<double>();  // main-thread compute
  EXPECT_TRUE(std::isfinite(checksum));
  comm->barrier();
  if (r != 0) work = comm->all_reduce_async(gradient, ReduceOp::kSum);
  work->wait();
  expect_equal(gradient, contribution_sum(size, n, 97, torch::kFloat), "overlapped all-reduce");
}

TEST_P(AsyncCollectives, DestroyingTheCommunicatorFinishesPendingWork) {
  const int r = comm->rank(), n = comm->size();
  std::vector<torch::Tensor> tensors;
  std::vector<std::unique_ptr<CommWork>> works;
  for (int k = 0; k < 4; ++k) {
    tensors.push_back(contribution(100003, r, 17 + k, torch::kFloat));
    works.push_back(comm->all_reduce_async(tensors.back(), ReduceOp::kSum));
  }
  comm.reset();  // nobody waited
  for (int k = 0; k < 4; ++k) {
    works[k]->wait();  // the handle outlives its communicator
    expect_equal(tensors[k], contribution_sum(100003, n, 17 + k, torch::kFloat),
                 "all-reduce pending at destruction #" + std::to_string(k));
  }
}

INSTANTIATE_TEST_SUITE_P(CommThread, AsyncCollectives, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Thread") : std::string("InsideWait");
                         });

TEST_F(Collectives, WrongDeviceDtypeAndShapeAreClearErrors) {
  // No CUDA in a CPU LibTorch: a meta tensor stands for "not on the CPU".
  torch::Tensor elsewhere = torch::empty({4}, torch::TensorOptions().device(torch::kMeta));
  expect_error([&] { comm->all_reduce(elsewhere, ReduceOp::kSum); },
               {"CPU tensors only", "dist.backend=nccl"});
  expect_error([&] { comm->all_reduce_async(elsewhere, ReduceOp::kSum); }, {"CPU tensors only"});

  torch::Tensor doubles = torch::ones({4}, torch::kDouble);
  expect_error([&] { comm->all_reduce(doubles, ReduceOp::kSum); }, {"Double", "not supported", "float32"});
  expect_error([&] { comm->broadcast(doubles, 0); }, {"not supported"});

  torch::Tensor strided = torch::ones({4, 4}).t();
  expect_error([&] { comm->all_reduce(strided, ReduceOp::kSum); }, {"not contiguous"});

  torch::Tensor values = torch::ones({4});
  expect_error([&] { comm->broadcast(values, comm->size()); }, {"root"});

  torch::Tensor too_long = torch::ones({100});
  torch::Tensor output = torch::ones({10});
  expect_error([&] { comm->all_gather(too_long, output); }, {"all_gather", "owns elements"});
  torch::Tensor longs = torch::ones({10}, torch::kLong);
  expect_error([&] { comm->all_gather(longs, output); }, {"int64", "float32"});
  expect_error([&] { comm->reduce_scatter(values, too_long, ReduceOp::kSum); },
               {"reduce_scatter", "owns elements"});

  // The communicator is still usable after refusing those calls.
  torch::Tensor after = contribution(7, comm->rank(), 97, torch::kFloat);
  comm->all_reduce(after, ReduceOp::kSum);
  expect_equal(after, contribution_sum(7, comm->size(), 97, torch::kFloat), "all_reduce after errors");
}

TEST(TensorChecks, NcclRefusesCpuTensorsAndDtypesWithTheMessagesOfMpi) {
  const torch::Tensor on_cpu = torch::ones({4});
  expect_error([&] { check_comm_tensor(on_cpu, CommBackend::kNccl, "all_reduce", 0); },
               {"all_reduce", "NCCL backend communicates CUDA tensors only", "dist.backend=mpi"});
  expect_error([&] { raise_unsupported_dtype(torch::kDouble, CommBackend::kNccl, "broadcast"); },
               {"broadcast: dtype Double is not supported by the NCCL backend (float32, bfloat16, int64)"});
  expect_error(
      [&] { check_reduce_op(torch::ones({4}, torch::kLong), ReduceOp::kAverage, "all_reduce_async"); },
      {"all_reduce_async: averaging an int64 tensor"});
  check_comm_tensor(on_cpu, CommBackend::kMpi, "all_reduce");  // the MPI backend takes it
}

TEST(TensorChecks, ShardsAreInPlaceOnlyAtTheirOwnOffset) {
  // 10 elements over 2 ranks: rank 1 owns [5, 10).
  const torch::Tensor full = torch::zeros({10});
  const ShardSpan gathered = check_all_gather(full.narrow(0, 5, 5), full, /*rank=*/1, /*size=*/2);
  EXPECT_EQ(gathered.begin, 5);
  EXPECT_EQ(gathered.end, 10);
  EXPECT_TRUE(gathered.in_place);
  EXPECT_FALSE(check_all_gather(torch::zeros({5}), full, 1, 2).in_place);
  expect_error([&] { check_all_gather(full.narrow(0, 4, 5), full, 1, 2); },
               {"all_gather: the input overlaps the output but is not this rank's shard of it"});
  EXPECT_TRUE(check_reduce_scatter(full, full.narrow(0, 5, 5), ReduceOp::kSum, 1, 2).in_place);
  EXPECT_FALSE(check_reduce_scatter(full, full.narrow(0, 4, 5), ReduceOp::kSum, 1, 2).in_place);
  expect_error([&] { check_reduce_scatter(full, torch::zeros({4}), ReduceOp::kSum, 1, 2); },
               {"reduce_scatter: rank 1 owns elements [5, 10) of 10 (5 elements), but its output has 4"});

  std::vector<size_t> counts, offsets;
  shard_counts(10, 4, counts, offsets);  // 3, 3, 2, 2
  EXPECT_EQ(counts, (std::vector<size_t>{3, 3, 2, 2}));
  EXPECT_EQ(offsets, (std::vector<size_t>{0, 3, 6, 8}));
}

// Rank 0 waits on an all-reduce the others never start; its wait() must log and end the job.
int run_timeout_probe() {
  auto comm = make_mpi_communicator(/*timeout_s=*/2.0);
  if (comm->size() < 2) {
    std::fprintf(stderr, "the timeout probe needs 2 or more ranks\n");
    return 1;
  }
  if (comm->rank() == 0) {
    auto work = comm->all_reduce_async(torch::ones({1000}), ReduceOp::kSum);
    work->wait();
    std::fprintf(stderr, "FAIL: wait() returned although rank 1 never joined\n");
    return 1;
  }
  // Never completes: rank 0 does not enter it. MPI_Abort from rank 0 ends this rank.
  MPI_Barrier(MPI_COMM_WORLD);
  return 1;
}

}  // namespace
}  // namespace clinfm

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  clinfm::init_distributed(&argc, &argv);
  torch::set_num_threads(1);  // several ranks share the cores
  if (argc > 1 && std::strcmp(argv[1], "--timeout-probe") == 0) return clinfm::run_timeout_probe();
  const int failed = RUN_ALL_TESTS();
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  clinfm::finalize_distributed();
  return any_failed;
}
