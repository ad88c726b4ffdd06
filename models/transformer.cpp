// The clinical transformer's layers as their math (models/transformer.h has the equations).
// Each operation goes through models/cpu/dispatch.h, which picks clinfm's CPU kernel or
// LibTorch's op; nothing here tests devices or dtypes.
// Shapes: B batch, T time steps, C channels (d_model), V vocabulary, H heads, F SwiGLU width.
#include "models/transformer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace clinfm {


RMSNormImpl::RMSNormImpl(int64_t channels, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({channels}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) { return rms_norm(x, weight, eps); }

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const ModelDims& dims)
    : n_heads(dims.n_heads), dropout(dims.dropout), kernel(attention_kernel_named(dims.attention)) {
  qkv = register_module(
      "qkv", torch::nn::Linear(torch::nn::LinearOptions(dims.d_model, 3 * dims.d_model).bias(false)));
  proj = register_module("proj",
                         torch::nn::Linear(torch::nn::LinearOptions(dims.d_model, dims.d_model).bias(false)));
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x) {
  const double dropout_p = is_training() ? dropout : 0.0;
  const auto qkv_out = linear_no_bias(x, qkv->weight);                                         // [B, T, 3C]
  const auto heads_out = causal_attention(qkv_out, n_heads, dropout_p, kernel, causal_mask_);  // [B, T, C]
  return linear_no_bias(heads_out, proj->weight);
}

SwiGLUImpl::SwiGLUImpl(int64_t channels, int64_t hidden) {
  gate = register_module("gate", torch::nn::Linear(torch::nn::LinearOptions(channels, hidden).bias(false)));
  up = register_module("up", torch::nn::Linear(torch::nn::LinearOptions(channels, hidden).bias(false)));
  down = register_module("down", torch::nn::Linear(torch::nn::LinearOptions(hidden, channels).bias(false)));
}

torch::Tensor SwiGLUImpl::forward(const torch::Tensor& x) {
  const auto gate_out = linear_no_bias(x, gate->weight);  // [B, T, F]
  const auto up_out = linear_no_bias(x, up->weight);      // [B, T, F]
  return linear_no_bias(swiglu(gate_out, up_out), down->weight);
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
           linear_no_bias(age_features(batch.ages), age_proj->weight);  // [B, T, C]
  h = embedding_dropout(h);
  for (const auto& block : *blocks) h = block->as<Block>()->forward(h);
  ModelOutput out;
  out.hidden = final_norm(h);                                     // [B, T, C]
  out.logits = tied_logits(out.hidden, token_embedding->weight);  // [B, T, V]: tied output embedding
  out.log_rate = time_head(out.hidden).squeeze(-1);               // [B, T]
  return out;
}

}  // namespace clinfm
