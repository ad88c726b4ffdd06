// LibTorch process settings that the model code depends on: intra-op threads and a short
// description of the build (version, BLAS, OpenMP) for logs and `clinfm doctor`.
// Deliberately no MPI here: the caller passes the ranks on the node.
#pragma once

#include <string>

namespace clinfm {

// Threads to use: `requested` when > 0, else hardware cores / ranks_on_node (at least 1).
int choose_torch_threads(int requested, int ranks_on_node, int hardware_cores);
// Sets LibTorch's intra-op threads and returns the value LibTorch reports back.
int apply_torch_threads(int threads);
// "LibTorch 1.13.1, CUDA no, 2 intra-op threads, ..." from the library itself.
std::string torch_build_summary();

}  // namespace clinfm
