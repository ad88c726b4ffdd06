#include "models/runtime.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <fmt/format.h>
#include <torch/version.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include "common/check.h"

namespace clinfm {

int choose_torch_threads(int requested, int ranks_on_node, int hardware_cores) {
  CLINFM_CHECK(requested >= 0, "thread count must be >= 0, got {}", requested);
  CLINFM_CHECK(ranks_on_node >= 1, "ranks on the node must be >= 1, got {}", ranks_on_node);
  if (requested > 0) return requested;
  return std::max(1, hardware_cores / ranks_on_node);
}

int apply_torch_threads(int threads) {
  CLINFM_CHECK(threads >= 1, "LibTorch needs at least one thread, got {}", threads);
  at::set_num_threads(threads);
  return at::get_num_threads();
}

int parallel_for_threads(int64_t tasks) {
  std::mutex mutex;
  std::set<std::thread::id> seen;
  // ATen gives each thread of the OpenMP team one contiguous chunk, so every thread calls once.
  at::parallel_for(0, tasks, 1, [&](int64_t, int64_t) {
    const std::lock_guard<std::mutex> lock(mutex);
    seen.insert(std::this_thread::get_id());
  });
  return static_cast<int>(seen.size());
}

std::string torch_build_summary() {
  return fmt::format("LibTorch {} ({} intra-op threads)\n{}", TORCH_VERSION, at::get_num_threads(),
                     at::show_config());
}

}  // namespace clinfm
