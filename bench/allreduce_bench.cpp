// All-reduce speed of clinfm's MPI communicator against a raw MPI_Allreduce of the same bytes,
// float32 sum, in place, for message sizes 4 KB ... 64 MB (powers of 4). Run under mpirun
// (bench/allreduce_bench.sh). Per size: warm-up, then alternating timed loops of the same
// iteration count for clinfm and raw MPI; each loop's time is the slowest rank's, and the best
// of the trials is reported (the least disturbed by other load on the machine). Prints a table on rank 0:
//   algbw = bytes / time, busbw = algbw * 2 (n - 1) / n (the nccl-tests definition: the bytes
//   each rank's link carries in a bandwidth-optimal all-reduce), ratio = clinfm time / raw time.
// It does not measure the asynchronous path or overlap (tests/mpi/test_collectives.cpp checks
// that), nor NCCL.
//   allreduce_bench [--min-bytes 4096] [--max-bytes 67108864] [--trials 8] [--budget-ms 100]
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/check.h"
#include "trainer/comm/communicator.h"
#include "trainer/comm/launch.h"

namespace {

struct Options {
  int64_t min_bytes = 4 << 10;
  int64_t max_bytes = 64 << 20;
  int trials = 8;
  double budget_ms = 100;  // target time of one timed loop; sets the iteration count
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--min-bytes")
      options.min_bytes = std::atoll(value);
    else if (flag == "--max-bytes")
      options.max_bytes = std::atoll(value);
    else if (flag == "--trials")
      options.trials = std::atoi(value);
    else if (flag == "--budget-ms")
      options.budget_ms = std::atof(value);
    else
      throw clinfm::InputError(
          "unknown flag " + flag,
          "allreduce_bench [--min-bytes N] [--max-bytes N] [--trials N] [--budget-ms MS]");
  }
  return options;
}

// Seconds per operation of `iterations` calls of `op`, as the slowest rank saw them.
template <typename Op>
double seconds_per_op(int64_t iterations, Op op) {
  MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
  const double start = MPI_Wtime();
  for (int64_t i = 0; i < iterations; ++i) op();
  double elapsed = MPI_Wtime() - start;
  double slowest = 0;
  MPI_CHECK(MPI_Allreduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
  return slowest / static_cast<double>(iterations);
}

std::string human_bytes(int64_t bytes) {
  if (bytes >= (1 << 20)) return std::to_string(bytes >> 20) + " MB";
  return std::to_string(bytes >> 10) + " KB";
}

int run(int argc, char** argv) {
  const Options options = parse(argc, argv);
  const clinfm::WorldInfo world = clinfm::init_distributed(&argc, &argv);
  torch::set_num_threads(1);  // the ranks share the cores; clinfm's sum needs no torch kernel
  auto comm = clinfm::make_mpi_communicator(/*timeout_s=*/300);
  MPI_Comm raw_comm = MPI_COMM_NULL;  // its own communicator, as clinfm has
  MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &raw_comm));
  const int n = world.world_size;
  if (world.rank == 0) {
    std::printf("all-reduce, float32 sum, in place, %d ranks (clinfm %s backend vs raw MPI_Allreduce)\n", n,
                comm->backend().c_str());
    std::printf("| %8s | %6s | %10s | %10s | %17s | %17s | %14s | %14s | %10s |\n", "size", "iters",
                "clinfm us", "raw us", "clinfm algbw GB/s", "clinfm busbw GB/s", "raw algbw GB/s",
                "raw busbw GB/s", "clinfm/raw");
    std::printf(
        "| -------: | -----: | ---------: | ---------: | ----------------: | ----------------: | "
        "-------------: | -------------: | ---------: |\n");
  }
  for (int64_t bytes = options.min_bytes; bytes <= options.max_bytes; bytes *= 4) {
    const int64_t count = bytes / 4;
    torch::Tensor clinfm_buffer = torch::ones({count});
    torch::Tensor raw_buffer = torch::ones({count});
    auto clinfm_op = [&] { comm->all_reduce(clinfm_buffer, clinfm::ReduceOp::kSum); };
    auto raw_op = [&] {
      MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, raw_buffer.data_ptr(), static_cast<int>(count), MPI_FLOAT,
                              MPI_SUM, raw_comm));
    };
    // Warm-up, then an iteration count that makes one loop last about budget_ms, agreed by all
    // ranks (rank 0's estimate, broadcast).
    seconds_per_op(3, clinfm_op);
    seconds_per_op(3, raw_op);
    const double estimate = seconds_per_op(5, raw_op);
    int64_t iterations =
        std::clamp<int64_t>(static_cast<int64_t>(options.budget_ms / 1e3 / estimate), 3, 5000);
    MPI_CHECK(MPI_Bcast(&iterations, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
    double clinfm_s = 1e30, raw_s = 1e30;
    // Alternating which goes first, so that neither always follows the other's cache state.
    for (int trial = 0; trial < options.trials; ++trial) {
      if (trial % 2 == 0) clinfm_s = std::min(clinfm_s, seconds_per_op(iterations, clinfm_op));
      raw_s = std::min(raw_s, seconds_per_op(iterations, raw_op));
      if (trial % 2 == 1) clinfm_s = std::min(clinfm_s, seconds_per_op(iterations, clinfm_op));
    }
    const double bus_factor = n > 1 ? 2.0 * (n - 1) / n : 0.0;
    const double clinfm_algbw = bytes / clinfm_s / 1e9, raw_algbw = bytes / raw_s / 1e9;
    if (world.rank == 0)
      std::printf("| %8s | %6lld | %10.1f | %10.1f | %17.2f | %17.2f | %14.2f | %14.2f | %10.3f |\n",
                  human_bytes(bytes).c_str(), static_cast<long long>(iterations), clinfm_s * 1e6, raw_s * 1e6,
                  clinfm_algbw, clinfm_algbw * bus_factor, raw_algbw, raw_algbw * bus_factor,
                  clinfm_s / raw_s);
  }
  MPI_CHECK(MPI_Comm_free(&raw_comm));
  comm.reset();  // collective (frees its MPI communicators) while MPI is still up
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return clinfm::run_guarded([&] { return run(argc, argv); });
}
