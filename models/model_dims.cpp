#include "models/model_dims.h"

#include <fmt/format.h>

#include "common/error.h"
#include "models/cpu/attention.h"

namespace clinfm {

const std::vector<PresetInfo>& model_presets() {
  // SwiGLU widths are ~8/3 C rounded to a multiple of 64 (LLaMA's convention), except where a
  // preset aims at a parameter count.
  static const std::vector<PresetInfo> presets = {
      {"tiny", 4, 4, 128, 384, "~1M with a few-thousand-token vocabulary"},
      {"small", 8, 8, 512, 1408, "~25M"},
      {"base", 12, 12, 768, 3072, "~125M"},
      {"large", 24, 16, 1024, 2816, "~350M"},
  };
  return presets;
}

int64_t ModelDims::parameter_count() const {
  const int64_t C = d_model;
  const int64_t per_layer = 4 * C * C + 3 * C * d_ff + 2 * C;  // attention, SwiGLU, two RMSNorm weights
  const int64_t embeddings = vocab_size * C + value_bins * C + C * C;  // tokens (tied), bins, age projection
  return n_layers * per_layer + embeddings + C + C + 1;  // final norm, time head (weight and bias)
}

double ModelDims::training_flops_per_token(int64_t seq_len) const {
  const double C = double(d_model);
  const double matmul_params =
      double(n_layers) * (4 * C * C + 3 * C * double(d_ff)) + double(vocab_size) * C + C * C;
  return 6.0 * matmul_params + 12.0 * double(n_layers) * double(seq_len) * C;
}

std::string ModelDims::describe() const {
  return fmt::format(
      "preset {}: {} layers, {} heads, d_model {}, d_ff {}, vocabulary {}, value bins {}, "
      "attention {}, {:.2f}M parameters",
      preset, n_layers, n_heads, d_model, d_ff, vocab_size, value_bins, attention,
      double(parameter_count()) / 1e6);
}

ModelDims resolve_model_dims(const ModelConfig& config, int64_t vocab_size, int64_t value_bins) {
  const PresetInfo* preset = nullptr;
  for (const auto& p : model_presets())
    if (p.name == config.preset) preset = &p;
  if (!preset) throw InputError(fmt::format("model.preset: unknown preset '{}'", config.preset));
  ModelDims d;
  d.preset = preset->name;
  d.vocab_size = vocab_size;
  d.value_bins = value_bins;
  d.n_layers = config.n_layers > 0 ? config.n_layers : preset->n_layers;
  d.n_heads = config.n_heads > 0 ? config.n_heads : preset->n_heads;
  d.d_model = config.d_model > 0 ? config.d_model : preset->d_model;
  d.d_ff = config.d_ff > 0 ? config.d_ff : preset->d_ff;
  d.dropout = config.dropout;
  if (d.d_model % d.n_heads != 0) {
    throw InputError(
        fmt::format("model.d_model ({}) must be divisible by model.n_heads ({})", d.d_model, d.n_heads),
        "change one of them (0 takes the preset's value)");
  }
  if (d.head_dim() % 2 != 0) {
    throw InputError(fmt::format("model.d_model / model.n_heads = {} must be even", d.head_dim()));
  }
  if (config.attention == "fused" && !fused_attention_available()) {
    throw InputError("model.attention: fused needs the BLAS sgemm LibTorch links, and this process has none",
                     "use model.attention=auto or explicit");
  }
  // auto is decided per call by the tensors' device and dtype (models/cpu/dispatch.h).
  d.attention = config.attention;
  if (vocab_size < 3)
    throw InputError(fmt::format("the vocabulary has {} tokens: nothing to learn", vocab_size));
  return d;
}

}  // namespace clinfm
