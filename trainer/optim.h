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
  // The same, applied only where `apply` (a bool scalar on the parameters' device) is true. The
  // fused kernel decides on the device (its found_inf argument, as torch.amp's GradScaler uses
  // it): no host synchronisation. The per-tensor path reads the flag on the host.
  void step(double lr, const torch::Tensor& apply);
  bool fused() const { return fused_; }
  void zero_grad();
  // Updates applied so far (read from the device when fused: a synchronisation).
  int64_t steps() const;
  std::vector<OptimParam>& params() { return params_; }
  const std::vector<OptimParam>& params() const { return params_; }
  void set_steps(int64_t steps);
  // The moments of every parameter, concatenated in params() order, as the live buffers the
  // per-parameter moments are views of; undefined when the parameters are not contiguous or mix
  // dtypes or devices (each moment then has a buffer of its own).
  const torch::Tensor& flat_exp_avg() const { return flat_exp_avg_; }
  const torch::Tensor& flat_exp_avg_sq() const { return flat_exp_avg_sq_; }

 private:
  OptimConfig config_;
  std::vector<OptimParam> params_;
  int64_t steps_ = 0;
  bool fused_ = false;
  torch::Tensor fused_steps_;  // fused: the update count, float32 on the parameters' device
  torch::Tensor flat_exp_avg_, flat_exp_avg_sq_;

  void fused_step(double lr, const torch::Tensor& apply);
};

// ATen's fused AdamW update over lists of tensors with one weight decay, skipped on the device
// when `found_inf` (float32 scalar, 0 or 1) is 1. `step` counts the updates including this one.
void fused_adamw_update(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads,
                        const std::vector<torch::Tensor>& exp_avgs,
                        const std::vector<torch::Tensor>& exp_avg_sqs, const torch::Tensor& step, double lr,
                        double weight_decay, const OptimConfig& config, const torch::Tensor& found_inf);

// Learning rate of the update with 0-based index `step`.
double learning_rate(int64_t step, const OptimConfig& config, int64_t max_steps);

// Scales gradients so that their global L2 norm is at most max_norm (no-op when max_norm <= 0);
// returns the norm before clipping.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);
// The same on the gradients' device without a host synchronisation (torch.nn.utils.clip_grad_norm_:
// the gradients are multiplied by min(1, max_norm / (norm + 1e-6)), by 1.0 when not clipped).
// Returns the norm before clipping as a float64 scalar on that device (0 without gradients).
torch::Tensor clip_grad_norm_on_device(const std::vector<torch::Tensor>& params, double max_norm);
// Multiplies `grads` by min(1, max_norm / (norm + 1e-6)) when max_norm > 0; `norm` a float64 scalar.
void scale_to_max_norm(const std::vector<torch::Tensor>& grads, const torch::Tensor& norm, double max_norm);

}  // namespace clinfm
