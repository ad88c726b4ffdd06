// cpu_linear (models/cpu/linear.h) against torch::nn::functional::linear: values and both
// gradients at the model's shapes and at edges (fewer rows than a share, one output, an empty
// batch), the same result at 1 and 2 threads, and refusals.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <vector>

#include "models/cpu/linear.h"

namespace clinfm {
namespace {

double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

struct Pass {
  torch::Tensor y, dx, dw;
};

Pass pass(bool ours, const torch::Tensor& x0, const torch::Tensor& w0, const torch::Tensor& dy) {
  const auto x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
  const auto y = ours ? cpu_linear(x, w) : torch::nn::functional::linear(x, w);
  y.backward(dy);
  return {y.detach(), x.grad(), w.grad()};
}

TEST(CpuLinear, MatchesLibTorch) {
  ASSERT_TRUE(cpu_linear_available());
  const int threads = at::get_num_threads();
  at::set_num_threads(2);  // the rows split over two shares, as in training here
  const struct {
    std::vector<int64_t> x;
    int64_t out;
  } cases[] = {{{16, 128, 128}, 384}, {{16, 128, 384}, 128}, {{2048, 128}, 2000},
               {{3, 5, 7}, 1},        {{1, 33}, 65},         {{200, 3}, 9}};
  for (const auto& c : cases) {
    torch::manual_seed(c.out);
    const auto x = torch::randn(c.x), w = torch::randn({c.out, c.x.back()});
    auto ysize = c.x;
    ysize.back() = c.out;
    const auto dy = torch::randn(ysize);
    const Pass a = pass(true, x, w, dy), b = pass(false, x, w, dy);
    std::printf("  x %s, out %lld: y %.2e dx %.2e dw %.2e\n", c10::str(c.x).c_str(),
                static_cast<long long>(c.out), relative_error(a.y, b.y), relative_error(a.dx, b.dx),
                relative_error(a.dw, b.dw));
    EXPECT_LT(relative_error(a.y, b.y), 1e-6);
    EXPECT_LT(relative_error(a.dx, b.dx), 1e-6);
    EXPECT_LT(relative_error(a.dw, b.dw), 1e-6);
  }
  at::set_num_threads(threads);
}

TEST(CpuLinear, EmptyBatchGivesZeroWeightGradient) {
  const auto x = torch::randn({0, 8}).requires_grad_(true), w = torch::randn({4, 8}).requires_grad_(true);
  const auto y = cpu_linear(x, w);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{0, 4}));
  y.sum().backward();
  EXPECT_TRUE(torch::equal(w.grad(), torch::zeros({4, 8})));
}

TEST(CpuLinear, OneAndTwoThreadsAgree) {
  torch::manual_seed(2);
  const auto x = torch::randn({2048, 128}), w = torch::randn({384, 128}), dy = torch::randn({2048, 384});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const Pass one = pass(true, x, w, dy);
  at::set_num_threads(2);
  const Pass two = pass(true, x, w, dy);
  at::set_num_threads(threads);
  EXPECT_LT(relative_error(two.y, one.y), 1e-6);
  EXPECT_LT(relative_error(two.dx, one.dx), 1e-6);
  EXPECT_LT(relative_error(two.dw, one.dw), 1e-6);
}

TEST(CpuLinear, RefusesWhatItCannotRun) {
  EXPECT_THROW(cpu_linear(torch::randn({2, 4}, torch::kFloat64), torch::randn({3, 4})), c10::Error);
  EXPECT_THROW(cpu_linear(torch::randn({2, 4}), torch::randn({3, 5})), c10::Error);
  EXPECT_THROW(cpu_linear(torch::randn({2, 4}), torch::randn({3, 4, 1})), c10::Error);
}

}  // namespace
}  // namespace clinfm
