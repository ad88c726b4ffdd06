// AdamW (decoupled weight decay, Loshchilov & Hutter), the learning-rate schedule (linear warmup,
// cosine decay to min_lr) and global-norm gradient clipping, with PyTorch's exact arithmetic
// (torch.optim.AdamW, single-tensor path; torch.nn.utils.clip_grad_norm_), so that the
// reference test can compare step by step. The state is plain tensors so that ZeRO-1 can shard
// it and checkpoints can save it.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "common/config/config.h"

namespace clinfm {

struct OptimParam {
  std::string name;
  torch::Tensor param;
  bool decay = true;
  torch::Tensor exp_avg;     // m
  torch::Tensor exp_avg_sq;  // v
};

// No weight decay on norms, biases and embeddings unless optim.decay_embeddings_and_norms.
bool applies_weight_decay(const std::string& name, const torch::Tensor& param, const OptimConfig& config);

// How AdamW::step runs the update: per tensor with PyTorch's single-tensor arithmetic (the CPU
// default, compared step by step with torch.optim.AdamW), or ATen's fused multi-tensor kernel
// (_fused_adamw_: one launch per parameter group instead of ~6 per tensor; the CUDA default,
// equal to the per-tensor path up to float rounding).
enum class AdamWKernel { kAuto, kPerTensor, kFused };

class AdamW {
 public:
  // kAuto: fused when the parameters live on a CUDA device, per tensor otherwise.
  AdamW(const std::vector<std::pair<std::string, torch::Tensor>>& named_params, const OptimConfig& config,
        AdamWKernel kernel = AdamWKernel::kAuto);
  // One update with learning rate `lr` using the gradients in .grad(); parameters whose grad is
  // undefined are skipped.
  void step(double lr);
  bool fused() const { return fused_; }
  void zero_grad();
  int64_t steps() const { return steps_; }
  std::vector<OptimParam>& params() { return params_; }
  const std::vector<OptimParam>& params() const { return params_; }
  void set_steps(int64_t steps) { steps_ = steps; }

 private:
  OptimConfig config_;
  std::vector<OptimParam> params_;
  int64_t steps_ = 0;
  bool fused_ = false;

  void fused_step(double lr);
};

// Learning rate of the update with 0-based index `step`.
double learning_rate(int64_t step, const OptimConfig& config, int64_t max_steps);

// Scales gradients so that their global L2 norm is at most max_norm (no-op when max_norm <= 0);
// returns the norm before clipping.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace clinfm
