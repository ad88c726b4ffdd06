// The clinical transformer: a decoder-only model over event timelines (as Delphi-2M).
// Shapes: B batch, T time steps (events), C channels (d_model), V vocabulary, H heads,
// D head dim (C / H), F SwiGLU hidden width.
//   input at step t: token x_t, value bin b_t, age a_t (days)
//   h_0 = E_tok[x_t] + E_bin[b_t] + W_age * sinusoid(a_t)
//   h_l = h_{l-1} + Attn(RMSNorm(h_{l-1})); h_l += SwiGLU(RMSNorm(h_l))     (pre-norm)
//   logits = RMSNorm(h_L) E_tok^T          (tied output embedding: next-event distribution)
//   log_rate = w_time . RMSNorm(h_L) + b   (log rate, per year, of the exponential waiting time)
// Parameter names are checkpoint keys and match tests/models/reference_model.py.
// Knows nothing of data loading, parallelism, MPI or HDF5.
#pragma once

#include <torch/torch.h>

#include "models/cpu/dispatch.h"
#include "models/model_dims.h"

namespace clinfm {

// One micro-batch on the model's device. Padding positions have token 0 and loss_mask 0.
struct ModelBatch {
  torch::Tensor tokens;      // [B, T] int64
  torch::Tensor value_bins;  // [B, T] int64
  torch::Tensor ages;        // [B, T] float32, age in days at each input event
  torch::Tensor targets;     // [B, T] int64, the next event's token (0 where there is none)
  torch::Tensor target_dt;   // [B, T] float32, years until the next event
  torch::Tensor loss_mask;   // [B, T] float32, 1 where the next event counts in the loss
};

struct ModelOutput {
  torch::Tensor logits;    // [B, T, V]
  torch::Tensor log_rate;  // [B, T]
  torch::Tensor hidden;    // [B, T, C] after the final norm (embeddings for probes)
};

struct RMSNormImpl : torch::nn::Module {
  explicit RMSNormImpl(int64_t channels, double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;  // [C]
  double eps;
};
TORCH_MODULE(RMSNorm);

struct CausalSelfAttentionImpl : torch::nn::Module {
  CausalSelfAttentionImpl(const ModelDims& dims);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, C] -> [B, T, C]
  torch::nn::Linear qkv{nullptr};                 // C -> 3C
  torch::nn::Linear proj{nullptr};                // C -> C
  int64_t n_heads;
  double dropout;
  AttentionKernel kernel;      // from ModelDims::attention (models/cpu/dispatch.h)
  torch::Tensor causal_mask_;  // [T, T] bool, cached for the last sequence length and device
};
TORCH_MODULE(CausalSelfAttention);

struct SwiGLUImpl : torch::nn::Module {
  SwiGLUImpl(int64_t channels, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);  // down(silu(gate(x)) * up(x))
  torch::nn::Linear gate{nullptr}, up{nullptr}, down{nullptr};
};
TORCH_MODULE(SwiGLU);

struct BlockImpl : torch::nn::Module {
  explicit BlockImpl(const ModelDims& dims);
  torch::Tensor forward(const torch::Tensor& x);
  RMSNorm attn_norm{nullptr}, mlp_norm{nullptr};
  CausalSelfAttention attn{nullptr};
  SwiGLU mlp{nullptr};
  torch::nn::Dropout residual_dropout{nullptr};
};
TORCH_MODULE(Block);

struct ClinicalTransformerImpl : torch::nn::Module {
  explicit ClinicalTransformerImpl(const ModelDims& dims);
  ModelOutput forward(const ModelBatch& batch);
  // Sinusoidal features of age in days: [.., C]; frequencies 10000^(-2i/C) per day.
  torch::Tensor age_features(const torch::Tensor& age_days) const;
  // GPT-2 initialisation from a seed: N(0, 0.02), residual projections / sqrt(2L), norms 1.
  void reset_parameters(uint64_t seed);

  ModelDims dims;
  torch::nn::Embedding token_embedding{nullptr};  // [V, C], also the output projection
  torch::nn::Embedding value_embedding{nullptr};  // [value_bins, C]
  torch::nn::Linear age_proj{nullptr};            // C -> C, no bias
  torch::nn::ModuleList blocks;
  RMSNorm final_norm{nullptr};
  torch::nn::Linear time_head{nullptr};  // C -> 1
  torch::nn::Dropout embedding_dropout{nullptr};
  torch::Tensor age_frequencies;  // [C/2] buffer: derived from C, saved with the weights
};
TORCH_MODULE(ClinicalTransformer);

}  // namespace clinfm
