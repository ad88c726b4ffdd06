// NcclCore (trainer/comm/nccl_core.h) on real GPUs, run under mpirun (ctest gpu_nccl_core).
// Building and linking this program against the CUDA toolkit and libnccl is the CI proof that
// the NCCL layer compiles; without a GPU it prints that NCCL linked and exits 77 (skipped).
// With GPUs it:
//   1. in a child forked before this process touches CUDA or MPI (CUDA state does not survive a
//      fork), queues an all-reduce behind a host function that never returns and checks that
//      synchronize() logs the timeout and ends the process with exit code 1 (the timeout/abort
//      path; the child uses the MPI-free constructor, one rank). The stuck host function also
//      keeps ncclCommAbort from returning (seen on an H200: its cudaFree waits for the device),
//      so the abort's watchdog ends the process 10 s later;
//   2. all-reduces, broadcasts, all-gathers and reduce-scatters (even and uneven blocks) over
//      all ranks of the job and checks every value.
// It does not test torch tensors (nccl_communicator.cpp needs a CUDA LibTorch).
#include <cuda_runtime.h>
#include <fcntl.h>
#include <mpi.h>
#include <nccl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "common/check.h"
#include "common/log.h"
#include "trainer/comm/nccl_core.h"

namespace {

constexpr int kSkipped = 77;

int g_failures = 0;

void expect(bool condition, const std::string& what) {
  if (!condition) {
    std::printf("FAIL: %s\n", what.c_str());
    ++g_failures;
  }
}

bool has_gpu() {
  int devices = 0;
  return cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
}

// The forked child: a collective that cannot start must hit the timeout and end the process.
[[noreturn]] void run_hang_child() {
  if (!has_gpu()) std::_Exit(kSkipped);
  try {
    ncclUniqueId id;
    NCCL_CHECK(ncclGetUniqueId(&id));
    clinfm::NcclCore core(id, /*rank=*/0, /*size=*/1, /*device=*/0, /*timeout_s=*/1.0);
    cudaStream_t compute = nullptr;
    CUDA_CHECK(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
    float* buffer = nullptr;
    CUDA_CHECK(cudaMalloc(&buffer, 1024 * sizeof(float)));
    // One collective that completes first: NCCL sets up its buffers and connections lazily, and a
    // real hang happens after such warm collectives.
    core.all_reduce(buffer, 1024, ncclFloat32, ncclSum, core.stream());
    core.synchronize(core.stream(), "warm-up all-reduce", 1024 * sizeof(float));
    // A host function that never returns holds the compute stream; the all-reduce queued after
    // it (comm_waits_for) never starts, as when a partner rank never joins.
    CUDA_CHECK(cudaLaunchHostFunc(
        compute,
        [](void*) {
          for (;;) pause();
        },
        nullptr));
    core.comm_waits_for(compute);
    core.all_reduce(buffer, 1024, ncclFloat32, ncclSum, core.stream());
    core.synchronize(core.stream(), "hang probe all-reduce", 1024 * sizeof(float));
    std::fprintf(stderr, "hang probe: synchronize() returned\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hang probe: unexpected error: %s\n", e.what());
  }
  std::_Exit(3);
}

// Runs the hang child with its stderr in a file; returns 0 (pass), kSkipped or 1 (fail).
int check_timeout_path() {
  char path[] = "/tmp/nccl_core_check_XXXXXX";
  const int log_fd = mkstemp(path);
  if (log_fd < 0) return 1;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t child = fork();
  if (child == 0) {
    dup2(log_fd, STDERR_FILENO);
    run_hang_child();
  }
  close(log_fd);
  int status = 0;
  const auto start = std::chrono::steady_clock::now();
  while (waitpid(child, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(60)) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      std::ifstream file(path);
      const std::string log((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
      std::printf("FAIL: the hang probe did not end within 60 s; its log:\n%s", log.c_str());
      unlink(path);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::ifstream file(path);
  const std::string log((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  unlink(path);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code == kSkipped) return kSkipped;
  const bool ok = code == 1 && log.find("of 4096 bytes has not completed after 1 s") != std::string::npos;
  std::printf("%s: timeout path (child exit code %d)\n%s", ok ? "PASS" : "FAIL", code, log.c_str());
  return ok ? 0 : 1;
}

// Rank r's value at element i; sums over ranks have the closed form below.
float contribution(int rank, size_t i) { return static_cast<float>((rank + 1) * static_cast<int>(i % 7)); }
float contribution_sum(int size, size_t i) {
  return static_cast<float>(size * (size + 1) / 2 * static_cast<int>(i % 7));
}

std::pair<size_t, size_t> block(size_t total, int rank, int size) {  // = shard_range in communicator.h
  const size_t base = total / size, extra = total % size;
  const size_t begin = rank * base + std::min<size_t>(rank, extra);
  return {begin, begin + base + (static_cast<size_t>(rank) < extra ? 1 : 0)};
}

void check_collectives(clinfm::NcclCore& core) {
  const int rank = core.rank(), size = core.size();
  cudaStream_t compute = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
  for (size_t total : {size_t{1}, size_t{7}, size_t{1000003}, size_t{4} * size}) {
    const std::string tag = " of " + std::to_string(total);
    std::vector<float> host(total);
    float* device = nullptr;
    CUDA_CHECK(cudaMalloc(&device, total * sizeof(float)));

    // all-reduce: upload on the compute stream, reduce on the communication stream, download.
    for (size_t i = 0; i < total; ++i) host[i] = contribution(rank, i);
    CUDA_CHECK(cudaMemcpyAsync(device, host.data(), total * sizeof(float), cudaMemcpyHostToDevice, compute));
    core.comm_waits_for(compute);
    core.all_reduce(device, total, ncclFloat32, ncclSum, core.stream());
    core.compute_waits_for_comm(compute);
    CUDA_CHECK(cudaMemcpyAsync(host.data(), device, total * sizeof(float), cudaMemcpyDeviceToHost, compute));
    core.synchronize(compute, "all-reduce", total * sizeof(float));
    size_t wrong = 0;
    for (size_t i = 0; i < total; ++i) wrong += host[i] != contribution_sum(size, i);
    expect(wrong == 0, "all_reduce" + tag + ": " + std::to_string(wrong) + " wrong");

    // broadcast from the last rank.
    for (size_t i = 0; i < total; ++i) host[i] = contribution(rank, i);
    CUDA_CHECK(cudaMemcpy(device, host.data(), total * sizeof(float), cudaMemcpyHostToDevice));
    core.broadcast(device, total, ncclFloat32, size - 1, core.stream());
    core.synchronize(core.stream(), "broadcast", total * sizeof(float));
    CUDA_CHECK(cudaMemcpy(host.data(), device, total * sizeof(float), cudaMemcpyDeviceToHost));
    wrong = 0;
    for (size_t i = 0; i < total; ++i) wrong += host[i] != contribution(size - 1, i);
    expect(wrong == 0, "broadcast" + tag + ": " + std::to_string(wrong) + " wrong");

    // all_gather_v and reduce_scatter_v with shard_range's blocks (even only when size | total).
    std::vector<size_t> counts(size), offsets(size);
    for (int r = 0; r < size; ++r) {
      const auto [begin, end] = block(total, r, size);
      counts[r] = end - begin;
      offsets[r] = begin;
    }
    const auto [begin, end] = block(total, rank, size);
    float* shard = nullptr;
    CUDA_CHECK(cudaMalloc(&shard, std::max<size_t>(1, end - begin) * sizeof(float)));
    for (size_t i = 0; i < total; ++i) host[i] = static_cast<float>(i % 1000);
    CUDA_CHECK(cudaMemcpy(shard, host.data() + begin, (end - begin) * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemset(device, 0xff, total * sizeof(float)));
    core.all_gather_v(shard, device, counts, offsets, ncclFloat32, core.stream());
    core.synchronize(core.stream(), "all-gather", total * sizeof(float));
    std::vector<float> gathered(total);
    CUDA_CHECK(cudaMemcpy(gathered.data(), device, total * sizeof(float), cudaMemcpyDeviceToHost));
    expect(gathered == host, "all_gather_v" + tag);

    for (size_t i = 0; i < total; ++i) host[i] = contribution(rank, i);
    CUDA_CHECK(cudaMemcpy(device, host.data(), total * sizeof(float), cudaMemcpyHostToDevice));
    core.reduce_scatter_v(device, shard, counts, offsets, ncclFloat32, ncclSum, core.stream());
    core.synchronize(core.stream(), "reduce-scatter", total * sizeof(float));
    std::vector<float> mine(end - begin);
    CUDA_CHECK(cudaMemcpy(mine.data(), shard, mine.size() * sizeof(float), cudaMemcpyDeviceToHost));
    wrong = 0;
    for (size_t i = begin; i < end; ++i) wrong += mine[i - begin] != contribution_sum(size, i);
    expect(wrong == 0, "reduce_scatter_v" + tag + ": " + std::to_string(wrong) + " wrong");

    CUDA_CHECK(cudaFree(shard));
    CUDA_CHECK(cudaFree(device));
  }
  // int64 beyond 2^53: a float path would lose the low bits.
  const int64_t big = (int64_t{1} << 58) + 7 * rank + 1;
  int64_t* value = nullptr;
  CUDA_CHECK(cudaMalloc(&value, sizeof(int64_t)));
  CUDA_CHECK(cudaMemcpy(value, &big, sizeof(big), cudaMemcpyHostToDevice));
  core.all_reduce(value, 1, ncclInt64, ncclSum, core.stream());
  core.synchronize(core.stream(), "int64 all-reduce", sizeof(int64_t));
  int64_t sum = 0;
  CUDA_CHECK(cudaMemcpy(&sum, value, sizeof(sum), cudaMemcpyDeviceToHost));
  expect(sum == size * (int64_t{1} << 58) + 7 * int64_t{size} * (size - 1) / 2 + size, "int64 all_reduce");
  CUDA_CHECK(cudaFree(value));
  CUDA_CHECK(cudaStreamDestroy(compute));
}

}  // namespace

int main(int argc, char** argv) {
  int version = 0;
  NCCL_CHECK(ncclGetVersion(&version));
  // First, before CUDA or MPI exist in this process: the fork must not copy their state.
  const int timeout_result = check_timeout_path();
  if (timeout_result == 1) ++g_failures;

  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  clinfm::set_log_rank(rank, size);
  int devices = 0;
  const cudaError_t rc = cudaGetDeviceCount(&devices);
  if (rc != cudaSuccess || devices == 0) {
    std::printf("NCCL %d linked; no usable GPU (%s): skipped\n", version, cudaGetErrorString(rc));
    MPI_Finalize();
    return kSkipped;
  }
  try {
    MPI_Comm local = MPI_COMM_NULL;
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local));
    int local_rank = 0;
    MPI_CHECK(MPI_Comm_rank(local, &local_rank));
    MPI_CHECK(MPI_Comm_free(&local));
    clinfm::NcclCore core(MPI_COMM_WORLD, local_rank, /*timeout_s=*/60.0);
    check_collectives(core);
  } catch (const std::exception& e) {
    std::printf("FAIL: %s\n", e.what());
    ++g_failures;
  }
  int failures = 0;
  MPI_Allreduce(&g_failures, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0)
    std::printf("%s: NCCL %d, %d rank(s), %d GPU(s) on rank 0%s\n", failures ? "FAIL" : "PASS", version, size,
                devices, timeout_result == kSkipped ? ", timeout path skipped" : "");
  MPI_Finalize();
  return failures ? 1 : 0;
}
