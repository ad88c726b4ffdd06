// The shape of a clinical transformer: named presets ("flavors") in one registry, config
// overrides applied on top, parameter and FLOP counts. No LibTorch here, so the CLI, the
// trainer's MFU and the docs can use it cheaply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/config.h"

namespace clinfm {

struct ModelDims {
  std::string preset;
  int64_t vocab_size = 0;  // V: tokens, incl. <pad> and <unk>
  int64_t value_bins = 0;  // number of value-bin embeddings (bin 0 = no value)
  int64_t n_layers = 0;    // L
  int64_t n_heads = 0;     // H
  int64_t d_model = 0;     // C
  int64_t d_ff = 0;        // hidden width of the SwiGLU MLP
  double dropout = 0.0;
  std::string attention = "explicit";  // explicit | fused | sdpa (resolved from "auto")

  int64_t head_dim() const { return d_model / n_heads; }
  // Parameters of the model (tied output embedding counted once).
  int64_t parameter_count() const;
  // Training FLOPs per token at sequence length T: 6 x (parameters in matmuls) + attention
  // (12 x L x T x C: QK^T and AV, forward and backward), the PaLM/nanoGPT convention.
  double training_flops_per_token(int64_t seq_len) const;
  std::string describe() const;
};

struct PresetInfo {
  std::string name;
  int64_t n_layers, n_heads, d_model, d_ff;
  std::string approximate_size;
};
const std::vector<PresetInfo>& model_presets();

// Preset + non-zero overrides from `config`, with the data set's vocabulary and value bins.
// Throws InputError naming the model.* key when the result is inconsistent.
ModelDims resolve_model_dims(const ModelConfig& config, int64_t vocab_size, int64_t value_bins);

}  // namespace clinfm
