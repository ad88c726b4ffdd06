// The fused CPU attention kernel (models/cpu/attention.h) against the explicit LibTorch path of
// CausalSelfAttention: outputs and every gradient, with and without dropout, at the shapes of
// the presets and at the edges (one position, odd lengths); and its refusals.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>

#include "common/config/config.h"
#include "models/cpu/attention.h"
#include "models/cpu/dispatch.h"
#include "models/model_dims.h"
#include "models/transformer.h"

namespace clinfm {
namespace {

ModelDims attention_dims(int64_t C, int64_t H, double dropout, const std::string& kernel) {
  ModelDims d;
  d.d_model = C;
  d.n_heads = H;
  d.dropout = dropout;
  d.attention = kernel;
  return d;
}

// Worst |a - b| over max|b|.
double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

struct Pass {
  torch::Tensor y, dx, dqkv, dproj;
};

Pass run(const std::string& kernel, int64_t B, int64_t T, int64_t C, int64_t H, double dropout,
         const torch::Tensor& x_in, const torch::Tensor& dy) {
  CausalSelfAttention attn(attention_dims(C, H, dropout, kernel));
  torch::manual_seed(5);  // the same weights for both kernels
  {
    torch::NoGradGuard no_grad;
    for (auto& p : attn->parameters()) p.normal_(0, 0.5);
  }
  attn->train(dropout > 0);
  const auto x = x_in.clone().requires_grad_(true);
  torch::manual_seed(6);  // the same dropout draws
  const auto y = attn->forward(x);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{B, T, C}));
  y.backward(dy);
  return {y.detach(), x.grad(), attn->qkv->weight.grad(), attn->proj->weight.grad()};
}

void expect_match(int64_t B, int64_t T, int64_t C, int64_t H, double dropout) {
  ASSERT_TRUE(fused_attention_available());
  torch::manual_seed(4);
  const auto x = torch::randn({B, T, C});
  const auto dy = torch::randn({B, T, C});
  const Pass a = run("explicit", B, T, C, H, dropout, x, dy);
  const Pass b = run("fused", B, T, C, H, dropout, x, dy);
  const std::string where = "B=" + std::to_string(B) + " T=" + std::to_string(T) + " C=" + std::to_string(C) +
                            " H=" + std::to_string(H) + " dropout=" + std::to_string(dropout);
  // fp32, different summation orders: ~10 ulps of the largest element.
  std::printf("  %s: y %.2e dx %.2e dqkv %.2e dproj %.2e\n", where.c_str(), relative_error(b.y, a.y),
              relative_error(b.dx, a.dx), relative_error(b.dqkv, a.dqkv), relative_error(b.dproj, a.dproj));
  // 2e-5: the weights (normal, std 0.5) give attention logits near 30, where one float ulp is
  // 3.8e-6; any other order of the QK^T sums (the kernel's per-thread GEMMs with 2 threads block
  // differently from LibTorch's) moves the softmax by that much relative. Measured: 2e-7 with one
  // thread, 4.4e-6 (y) and 7.9e-6 (dqkv) with two; a wrong kernel is off by 1e-3 or more.
  EXPECT_LT(relative_error(b.y, a.y), 2e-5) << where;
  EXPECT_LT(relative_error(b.dx, a.dx), 2e-5) << where;
  EXPECT_LT(relative_error(b.dqkv, a.dqkv), 2e-5) << where;
  EXPECT_LT(relative_error(b.dproj, a.dproj), 2e-5) << where;
}

TEST(FusedAttention, MatchesExplicitAtTheTinyPresetShape) { expect_match(4, 128, 128, 4, 0.0); }
TEST(FusedAttention, MatchesExplicitAtTheSmallPresetHeadDim) { expect_match(2, 64, 512, 8, 0.0); }
TEST(FusedAttention, MatchesExplicitWithDropout) { expect_match(3, 37, 64, 4, 0.25); }
TEST(FusedAttention, MatchesExplicitAtOddAndOneLengths) {
  expect_match(2, 1, 32, 4, 0.0);
  expect_match(5, 7, 48, 6, 0.0);
}

TEST(FusedAttention, IsCausal) {
  torch::manual_seed(1);
  auto qkv = torch::randn({2, 9, 3 * 32});
  auto changed = qkv.clone();
  changed.index_put_({torch::indexing::Slice(), torch::indexing::Slice(5)}, 7.0);  // the future
  const auto a = fused_causal_attention(qkv, 4, 0.0), b = fused_causal_attention(changed, 4, 0.0);
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::equal(a.index({Slice(), Slice(0, 5)}), b.index({Slice(), Slice(0, 5)})));
  EXPECT_FALSE(torch::allclose(a.index({Slice(), Slice(5)}), b.index({Slice(), Slice(5)})));
}

TEST(FusedAttention, RefusesWhatItCannotRun) {
  EXPECT_THROW(fused_causal_attention(torch::randn({2, 4, 96}, torch::kFloat64), 4, 0.0), c10::Error);
  EXPECT_THROW(fused_causal_attention(torch::randn({2, 4, 95}), 4, 0.0), c10::Error);  // not 3C
  EXPECT_THROW(fused_causal_attention(torch::randn({8, 96}), 4, 0.0), c10::Error);     // not [B, T, 3C]
}

TEST(FusedAttention, OtherDtypesTakeTheExplicitMath) {
  // A float64 module with attention=fused runs (the explicit path) and matches float64 explicit.
  CausalSelfAttention fused(attention_dims(32, 4, 0.0, "fused")),
      plain(attention_dims(32, 4, 0.0, "explicit"));
  fused->to(torch::kFloat64);
  plain->to(torch::kFloat64);
  {
    torch::NoGradGuard no_grad;
    plain->qkv->weight.copy_(fused->qkv->weight);
    plain->proj->weight.copy_(fused->proj->weight);
  }
  const auto x = torch::randn({2, 6, 32}, torch::kFloat64);
  EXPECT_TRUE(torch::equal(fused->forward(x), plain->forward(x)));
}

// auto stays "auto" in the dims (it is decided per call): the fused kernel on float32 CPU
// tensors, where it is measured faster than LibTorch 2.11's SDPA, and SDPA on anything else.
TEST(FusedAttention, AutoIsFusedOnFloat32CpuAndSdpaElsewhere) {
  ModelConfig c;
  EXPECT_EQ(resolve_model_dims(c, 100, 4).attention, "auto");
  c.attention = "explicit";
  EXPECT_EQ(resolve_model_dims(c, 100, 4).attention, "explicit");
  ASSERT_TRUE(fused_attention_available());
  torch::manual_seed(8);
  const auto qkv = torch::randn({2, 9, 3 * 32});
  torch::Tensor mask;
  const auto automatic = causal_attention(qkv, 4, 0.0, AttentionKernel::kAuto, mask);
  EXPECT_TRUE(torch::equal(automatic, causal_attention(qkv, 4, 0.0, AttentionKernel::kFused, mask)));
  const auto qkv64 = qkv.to(torch::kFloat64);
  EXPECT_TRUE(torch::equal(causal_attention(qkv64, 4, 0.0, AttentionKernel::kAuto, mask),
                           causal_attention(qkv64, 4, 0.0, AttentionKernel::kSdpa, mask)));
}

}  // namespace
}  // namespace clinfm
