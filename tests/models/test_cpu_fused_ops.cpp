// The fused CPU RMSNorm (models/cpu/fused_ops.h) against LibTorch's composite forms
// (the ones models/cpu/dispatch.cpp runs on other devices): outputs and gradients, thread-count
// independence of the norm's weight gradient, and refusals.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "models/cpu/fused_ops.h"

namespace clinfm {
namespace {

double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

torch::Tensor composite_rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

struct NormPass {
  torch::Tensor y, dx, dw;
};

NormPass norm_pass(bool fused, const torch::Tensor& x0, const torch::Tensor& w0, const torch::Tensor& dy) {
  const auto x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
  const auto y = fused ? fused_rms_norm(x, w, 1e-6) : composite_rms_norm(x, w, 1e-6);
  y.backward(dy);
  return {y.detach(), x.grad(), w.grad()};
}

TEST(FusedRmsNorm, MatchesTheCompositeForm) {
  for (const auto& shape : {std::vector<int64_t>{16, 128, 128}, std::vector<int64_t>{3, 7, 33},
                            std::vector<int64_t>{1, 1, 8}, std::vector<int64_t>{65, 512}}) {
    torch::manual_seed(shape.back());
    const auto x = torch::randn(shape) * 3, w = torch::rand({shape.back()}) + 0.5, dy = torch::randn(shape);
    const NormPass a = norm_pass(true, x, w, dy), b = norm_pass(false, x, w, dy);
    std::printf("  [%s]: y %.2e dx %.2e dw %.2e\n", c10::str(shape).c_str(), relative_error(a.y, b.y),
                relative_error(a.dx, b.dx), relative_error(a.dw, b.dw));
    EXPECT_LT(relative_error(a.y, b.y), 1e-6) << shape;
    EXPECT_LT(relative_error(a.dx, b.dx), 2e-6) << shape;
    EXPECT_LT(relative_error(a.dw, b.dw), 2e-6) << shape;
  }
}

TEST(FusedRmsNorm, GradientDoesNotDependOnTheThreadCount) {
  torch::manual_seed(3);
  const auto x = torch::randn({1000, 64}), w = torch::rand({64}), dy = torch::randn({1000, 64});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const NormPass one = norm_pass(true, x, w, dy);
  at::set_num_threads(2);
  const NormPass two = norm_pass(true, x, w, dy);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one.dw, two.dw));
  EXPECT_TRUE(torch::equal(one.dx, two.dx));
}

TEST(FusedOps, RefuseWhatTheyCannotRun) {
  EXPECT_THROW(fused_rms_norm(torch::randn({2, 4}, torch::kFloat64), torch::ones({4}), 1e-6), c10::Error);
  EXPECT_THROW(fused_rms_norm(torch::randn({2, 4}), torch::ones({5}), 1e-6), c10::Error);
}

}  // namespace
}  // namespace clinfm
