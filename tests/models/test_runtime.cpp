#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"
#include "models/runtime.h"

namespace clinfm {
namespace {

TEST(Runtime, ChooseThreads) {
  EXPECT_EQ(choose_torch_threads(0, 1, 2), 2);  // one rank on a 2-core node uses both cores
  EXPECT_EQ(choose_torch_threads(0, 2, 2), 1);  // two ranks share them
  EXPECT_EQ(choose_torch_threads(0, 4, 2), 1);  // oversubscribed: never 0
  EXPECT_EQ(choose_torch_threads(3, 4, 2), 3);  // explicit wins
  EXPECT_THROW(choose_torch_threads(-1, 1, 2), Error);
  EXPECT_THROW(choose_torch_threads(0, 0, 2), Error);
}

TEST(Runtime, ApplyThreadsReachesLibTorch) {
  EXPECT_EQ(apply_torch_threads(2), 2);
  EXPECT_EQ(torch::get_num_threads(), 2);
  EXPECT_EQ(apply_torch_threads(1), 1);
  EXPECT_THROW(apply_torch_threads(0), Error);
}

// clinfm's CPU kernels split their loops with at::parallel_for, which runs on one thread unless
// their library is compiled with OpenMP: at 2 threads the fused attention then ran slower than
// at 1 (cmake/ClinfmDependencies.cmake).
TEST(Runtime, KernelLoopsRunOnEveryThread) {
#if defined(__clang__)
  GTEST_SKIP() << "clang builds (the sanitizer preset) compile the kernels without OpenMP";
#else
  apply_torch_threads(2);
  EXPECT_EQ(parallel_for_threads(), 2);
  apply_torch_threads(1);
  EXPECT_EQ(parallel_for_threads(), 1);
  apply_torch_threads(2);
#endif
}

TEST(Runtime, BuildSummaryNamesVersionAndBlas) {
  apply_torch_threads(2);
  const std::string summary = torch_build_summary();
  EXPECT_NE(summary.find("LibTorch " TORCH_VERSION), std::string::npos) << summary;
  EXPECT_NE(summary.find("2 intra-op threads"), std::string::npos) << summary;
}

TEST(Runtime, MatmulMatchesNaiveProduct) {
  // A smoke check that the BLAS LibTorch loaded computes the right thing.
  torch::manual_seed(0);
  const auto a = torch::randn({17, 33}, torch::kFloat64);
  const auto b = torch::randn({33, 9}, torch::kFloat64);
  const auto fast = torch::matmul(a, b);
  const auto naive = (a.unsqueeze(2) * b.unsqueeze(0)).sum(1);
  EXPECT_LT((fast - naive).abs().max().item<double>(), 1e-12);
}

}  // namespace
}  // namespace clinfm
