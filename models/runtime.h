// LibTorch process settings that the model code depends on: intra-op threads and a short
// description of the build (version, BLAS, OpenMP) for logs and `clinfm doctor`.
// Deliberately no MPI here: the caller passes the ranks on the node.
#pragma once

#include <cstdint>
#include <string>

namespace clinfm {

// Threads to use: `requested` when > 0, else hardware cores / ranks_on_node (at least 1).
int choose_torch_threads(int requested, int ranks_on_node, int hardware_cores);
// Sets LibTorch's intra-op threads and returns the value LibTorch reports back.
int apply_torch_threads(int threads);
// How many threads one at::parallel_for over `tasks` tasks runs on when called from clinfm's own
// code (this library, built like models/cpu/): the LibTorch thread count when that code is
// compiled with OpenMP (cmake/ClinfmDependencies.cmake), 1 when it is not and every CPU kernel
// loop runs on the calling thread.
int parallel_for_threads(int64_t tasks = 64);
// "LibTorch 1.13.1, CUDA no, 2 intra-op threads, ..." from the library itself.
std::string torch_build_summary();

}  // namespace clinfm
