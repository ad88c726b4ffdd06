// The fused CPU token NLL (models/cpu/cross_entropy.h) against LibTorch's
// -log_softmax(logits).gather(targets): values and gradients at several widths and scales,
// NaN and infinity propagation (the trainer's non-finite check depends on it), and refusals.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "models/cpu/cross_entropy.h"

namespace clinfm {
namespace {

torch::Tensor reference_nll(const torch::Tensor& logits, const torch::Tensor& targets) {
  return -torch::log_softmax(logits, -1).gather(1, targets.view({-1, 1})).view({-1});
}

double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

// grad_tol: exp(x - lse) carries the absolute rounding of x - lse (~ulp of the largest |x - lse|)
// as relative error, on both sides: ~2e-6 at logits of scale 3 (|x - lse| up to ~25; measured
// 1.5e-6 with the sanitizer build's code on this VM's CPU, 0.5e-6 elsewhere), ~4e-6 at scale 30.
void expect_match(int64_t N, int64_t V, double logit_scale, double grad_tol = 1e-6) {
  torch::manual_seed(N * 7 + V);
  const auto base = torch::randn({N, V}) * logit_scale;
  const auto targets = torch::randint(0, V, {N}, torch::kInt64);
  auto upstream = torch::rand({N});
  upstream.index_put_({torch::indexing::Slice(0, N, 3)}, 0.0);  // masked positions
  const auto a = base.clone().requires_grad_(true), b = base.clone().requires_grad_(true);
  const auto fused = fused_token_nll(a, targets), ref = reference_nll(b, targets);
  fused.backward(upstream);
  ref.backward(upstream);
  const std::string where =
      "N=" + std::to_string(N) + " V=" + std::to_string(V) + " scale=" + std::to_string(logit_scale);
  std::printf("  %s: nll %.2e grad %.2e\n", where.c_str(), relative_error(fused.detach(), ref.detach()),
              relative_error(a.grad(), b.grad()));
  EXPECT_LT(relative_error(fused.detach(), ref.detach()), 1e-6) << where;
  EXPECT_LT(relative_error(a.grad(), b.grad()), grad_tol) << where;
  // Rows with zero upstream gradient get exactly zero.
  EXPECT_EQ(a.grad()[0].abs().max().item<float>(), 0.0f) << where;
}

TEST(FusedTokenNll, MatchesLogSoftmaxGather) {
  expect_match(2048, 2000, 3.0, 4e-6);  // the tiny preset's logits
  expect_match(37, 2000, 30.0, 2e-5);   // confident predictions: lse dominated by one logit
  expect_match(5, 3, 1.0);
  expect_match(4, 1, 1.0);       // one class: NLL 0, gradient 0
  expect_match(33, 1031, 0.01);  // width not a multiple of the vector length, flat rows
}

TEST(FusedTokenNll, NonFiniteLogitsGiveANonFiniteLoss) {
  auto logits = torch::randn({3, 50});
  logits.index_put_({1, 7}, std::nanf(""));
  logits.index_put_({2, 3}, INFINITY);
  const auto nll = fused_token_nll(logits, torch::tensor({0, 0, 0}, torch::kInt64));
  EXPECT_TRUE(std::isfinite(nll[0].item<float>()));
  EXPECT_TRUE(std::isnan(nll[1].item<float>()));
  EXPECT_FALSE(std::isfinite(nll[2].item<float>()));
}

TEST(FusedTokenNll, RefusesBadInput) {
  const auto targets = torch::tensor({0, 4}, torch::kInt64);
  EXPECT_THROW(fused_token_nll(torch::randn({2, 5}, torch::kFloat64), targets), c10::Error);
  EXPECT_THROW(fused_token_nll(torch::randn({2, 5, 1}), targets), c10::Error);
  EXPECT_THROW(fused_token_nll(torch::randn({3, 5}), targets), c10::Error);                    // N differs
  EXPECT_THROW(fused_token_nll(torch::randn({2, 5}), targets.to(torch::kInt32)), c10::Error);  // dtype
  // A target >= V, then a negative one.
  EXPECT_THROW(fused_token_nll(torch::randn({2, 5}), torch::tensor({0, 5}, torch::kInt64)), c10::Error);
  EXPECT_THROW(fused_token_nll(torch::randn({2, 5}), torch::tensor({-1, 0}, torch::kInt64)), c10::Error);
}

}  // namespace
}  // namespace clinfm
