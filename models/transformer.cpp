#include "models/transformer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "models/cpu_attention.h"
#include "models/cpu_fused_ops.h"
#include "models/cpu_linear.h"
#include "models/cpu_tensor.h"

namespace clinfm {
namespace {

// Whether x W^T goes through cpu_linear (models/cpu_linear.h: the rows split over the threads).
bool use_cpu_linear(const torch::Tensor& x, const torch::Tensor& weight) {
  return is_cpu_float32(x) && is_cpu_float32(weight) && cpu_linear_available();
}

// A bias-free Linear layer: cpu_linear on fp32 CPU, the module's own forward elsewhere.
torch::Tensor linear(torch::nn::Linear& layer, const torch::Tensor& x) {
  if (!layer->bias.defined() && use_cpu_linear(x, layer->weight)) return cpu_linear(x, layer->weight);
  return layer->forward(x);
}

}  // namespace

bool sdpa_available() {
#ifdef CLINFM_TORCH_2
  return true;
#else
  return false;
#endif
}

RMSNormImpl::RMSNormImpl(int64_t channels, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({channels}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  if (is_cpu_float32(x) && is_cpu_float32(weight))
    return fused_rms_norm(x, weight, eps);  // models/cpu_fused_ops.h: the same math in one pass
  // Statistics in fp32 even under bf16 autocast.
  const auto x32 = x.to(torch::kFloat32);
  const auto normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (normed * weight).to(x.scalar_type());
}

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const ModelDims& dims)
    : n_heads(dims.n_heads),
      dropout(dims.dropout),
      use_sdpa(dims.attention == "sdpa"),
      use_fused(dims.attention == "fused") {
  qkv = register_module(
      "qkv", torch::nn::Linear(torch::nn::LinearOptions(dims.d_model, 3 * dims.d_model).bias(false)));
  proj = register_module("proj",
                         torch::nn::Linear(torch::nn::LinearOptions(dims.d_model, dims.d_model).bias(false)));
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2), H = n_heads, D = C / H;
  const double p = is_training() ? dropout : 0.0;
  // The CPU kernel takes fp32 CPU tensors; anything else (CUDA, bf16) takes the explicit math.
  if (use_fused && is_cpu_float32(x)) return linear(proj, fused_causal_attention(linear(qkv, x), H, p));
  const auto qkv_out = linear(qkv, x).view({B, T, 3, H, D}).permute({2, 0, 3, 1, 4});  // [3, B, H, T, D]
  const auto q = qkv_out[0], k = qkv_out[1], v = qkv_out[2];                           // [B, H, T, D]
  torch::Tensor y;                                                                     // [B, H, T, D]
  if (use_sdpa) {
#ifdef CLINFM_TORCH_2
    y = at::scaled_dot_product_attention(q, k, v, {}, p, /*is_causal=*/true);
#else
    TORCH_CHECK(false, "scaled_dot_product_attention needs LibTorch >= 2.0");
#endif
  } else {
    auto scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(double(D)));  // [B, H, T, T]
    if (!causal_mask_.defined() || causal_mask_.size(0) != T || causal_mask_.device() != x.device()) {
      causal_mask_ = torch::ones({T, T}, torch::TensorOptions().dtype(torch::kBool).device(x.device()))
                         .tril()
                         .logical_not();
    }
    // In place: `scores` is a fresh product that no backward formula needs.
    scores.masked_fill_(causal_mask_, -std::numeric_limits<float>::infinity());
    auto weights = torch::softmax(scores, -1);
    if (p > 0) weights = torch::dropout(weights, p, /*train=*/true);
    y = torch::matmul(weights, v);
  }
  return linear(proj, y.transpose(1, 2).reshape({B, T, C}));
}

SwiGLUImpl::SwiGLUImpl(int64_t channels, int64_t hidden) {
  gate = register_module("gate", torch::nn::Linear(torch::nn::LinearOptions(channels, hidden).bias(false)));
  up = register_module("up", torch::nn::Linear(torch::nn::LinearOptions(channels, hidden).bias(false)));
  down = register_module("down", torch::nn::Linear(torch::nn::LinearOptions(hidden, channels).bias(false)));
}

torch::Tensor SwiGLUImpl::forward(const torch::Tensor& x) {
  const auto g = linear(gate, x), u = linear(up, x);  // [B, T, F]
  if (is_cpu_float32(g)) return linear(down, fused_swiglu(g, u));
  return down(torch::silu(g) * u);
}

BlockImpl::BlockImpl(const ModelDims& dims) {
  attn_norm = register_module("attn_norm", RMSNorm(dims.d_model));
  attn = register_module("attn", CausalSelfAttention(dims));
  mlp_norm = register_module("mlp_norm", RMSNorm(dims.d_model));
  mlp = register_module("mlp", SwiGLU(dims.d_model, dims.d_ff));
  residual_dropout = register_module("residual_dropout", torch::nn::Dropout(dims.dropout));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  auto h = x + residual_dropout(attn(attn_norm(x)));
  return h + residual_dropout(mlp(mlp_norm(h)));
}

ClinicalTransformerImpl::ClinicalTransformerImpl(const ModelDims& d) : dims(d) {
  const int64_t C = d.d_model;
  token_embedding = register_module("token_embedding", torch::nn::Embedding(d.vocab_size, C));
  value_embedding = register_module("value_embedding", torch::nn::Embedding(d.value_bins, C));
  age_proj = register_module("age_proj", torch::nn::Linear(torch::nn::LinearOptions(C, C).bias(false)));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t l = 0; l < d.n_layers; ++l) blocks->push_back(Block(d));
  final_norm = register_module("final_norm", RMSNorm(C));
  time_head = register_module("time_head", torch::nn::Linear(C, 1));
  embedding_dropout = register_module("embedding_dropout", torch::nn::Dropout(d.dropout));
  age_frequencies = register_buffer(
      "age_frequencies",
      torch::pow(10000.0, -torch::arange(0, C, 2, torch::kFloat64) / double(C)).to(torch::kFloat32));
  reset_parameters(0);
}

void ClinicalTransformerImpl::reset_parameters(uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto generator = at::detail::createCPUGenerator(seed);
  const double residual_std = 0.02 / std::sqrt(2.0 * double(dims.n_layers));
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    auto values = torch::empty(p.sizes(), torch::kFloat32);
    if (name.find("norm") != std::string::npos) {
      values.fill_(1.0);
    } else if (name.rfind("time_head", 0) == 0) {
      values.zero_();
    } else {
      const bool residual =
          name.find("attn.proj") != std::string::npos || name.find("mlp.down") != std::string::npos;
      values.normal_(0.0, residual ? residual_std : 0.02, generator);
    }
    p.copy_(values);
  }
}

torch::Tensor ClinicalTransformerImpl::age_features(const torch::Tensor& age_days) const {
  const auto angles = age_days.to(torch::kFloat32).unsqueeze(-1) * age_frequencies;  // [B, T, C/2]
  return torch::cat({torch::sin(angles), torch::cos(angles)}, -1);                   // [B, T, C]
}

ModelOutput ClinicalTransformerImpl::forward(const ModelBatch& batch) {
  auto h = token_embedding(batch.tokens) + value_embedding(batch.value_bins) +
           linear(age_proj, age_features(batch.ages));  // [B, T, C]
  h = embedding_dropout(h);
  for (const auto& block : *blocks) h = block->as<Block>()->forward(h);
  ModelOutput out;
  out.hidden = final_norm(h);               // [B, T, C]
  const auto& E = token_embedding->weight;  // [V, C], the tied output projection
  out.logits = use_cpu_linear(out.hidden, E) ? cpu_linear(out.hidden, E)
                                             : torch::matmul(out.hidden, E.t());  // [B, T, V]
  out.log_rate = time_head(out.hidden).squeeze(-1);                               // [B, T]
  return out;
}

}  // namespace clinfm
