#include "trainer/optim.h"

#include <cmath>

namespace clinfm {

bool applies_weight_decay(const std::string& name, const torch::Tensor& param, const OptimConfig& config) {
  if (config.decay_embeddings_and_norms) return true;
  const bool norm = name.find("norm") != std::string::npos;
  const bool bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
  const bool embedding = name.find("embedding") != std::string::npos;
  return !norm && !bias && !embedding && param.dim() >= 2;
}

AdamW::AdamW(const std::vector<std::pair<std::string, torch::Tensor>>& named_params,
             const OptimConfig& config, AdamWKernel kernel)
    : config_(config) {
  // The moments of all parameters are views of two flat buffers, in the optimizer's order, when the
  // parameters allow it (contiguous, one dtype and device): the flat optimizer vector a checkpoint
  // holds is then the buffer itself, and a synchronous save writes it without a copy.
  int64_t total = 0;
  bool flat = true;
  for (const auto& [name, p] : named_params) {
    if (!p.requires_grad()) continue;
    const auto& first = named_params.front().second;
    flat = flat && p.is_contiguous() && p.dtype() == first.dtype() && p.device() == first.device();
    total += p.numel();
  }
  if (flat && total > 0) {
    const auto options = named_params.front().second.options().requires_grad(false);
    flat_exp_avg_ = torch::zeros({total}, options);
    flat_exp_avg_sq_ = torch::zeros({total}, options);
  }
  int64_t offset = 0;
  for (const auto& [name, p] : named_params) {
    if (!p.requires_grad()) continue;
    OptimParam entry;
    entry.name = name;
    entry.param = p;
    entry.decay = applies_weight_decay(name, p, config);
    if (flat_exp_avg_.defined()) {
      entry.exp_avg = flat_exp_avg_.narrow(0, offset, p.numel()).view(p.sizes());
      entry.exp_avg_sq = flat_exp_avg_sq_.narrow(0, offset, p.numel()).view(p.sizes());
      offset += p.numel();
    } else {
      entry.exp_avg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
      entry.exp_avg_sq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    }
    params_.push_back(std::move(entry));
  }
  const bool on_cuda = !params_.empty() && params_.front().param.is_cuda();
  fused_ = kernel == AdamWKernel::kFused || (kernel == AdamWKernel::kAuto && on_cuda);
}

void AdamW::step(double lr) {
  const auto options = torch::TensorOptions().dtype(torch::kBool);
  step(lr, torch::ones({}, params_.empty() ? options : options.device(params_.front().param.device())));
}

void AdamW::step(double lr, const torch::Tensor& apply) {
  if (fused_) return fused_step(lr, apply);
  torch::NoGradGuard no_grad;
  if (!apply.item<bool>()) return;  // per tensor: a CPU path, where reading the flag costs nothing
  ++steps_;
  const double beta1 = config_.beta1, beta2 = config_.beta2;
  const double bias_correction1 = 1.0 - std::pow(beta1, double(steps_));
  const double bias_correction2 = 1.0 - std::pow(beta2, double(steps_));
  const double step_size = lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);
  for (auto& p : params_) {
    const torch::Tensor& grad = p.param.grad();
    if (!grad.defined()) continue;
    if (p.decay && config_.weight_decay != 0) p.param.mul_(1.0 - lr * config_.weight_decay);
    p.exp_avg.lerp_(grad, 1.0 - beta1);
    p.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
    const auto denom = (p.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(config_.eps);
    p.param.addcdiv_(p.exp_avg, denom, -step_size);
  }
}

// Two calls of ATen's fused kernel, one per weight-decay group. The step count lives on the
// device and counts only applied updates (torch.optim.AdamW(fused=True) with a GradScaler adds
// found_inf back; here it is incremented by `apply`), so a skipped step needs no host decision.
void AdamW::fused_step(double lr, const torch::Tensor& apply) {
  torch::NoGradGuard no_grad;
  if (params_.empty()) return;
  if (!fused_steps_.defined()) set_steps(steps_);
  fused_steps_.add_(apply.to(torch::kFloat32));
  const torch::Tensor found_inf = apply.logical_not().to(torch::kFloat32);
  for (const bool decay : {true, false}) {
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    for (auto& p : params_) {
      if (p.decay != decay || !p.param.grad().defined()) continue;
      params.push_back(p.param);
      grads.push_back(p.param.grad());
      exp_avgs.push_back(p.exp_avg);
      exp_avg_sqs.push_back(p.exp_avg_sq);
    }
    fused_adamw_update(params, grads, exp_avgs, exp_avg_sqs, fused_steps_, lr,
                       decay ? config_.weight_decay : 0.0, config_, found_inf);
  }
}

int64_t AdamW::steps() const {
  return fused_ && fused_steps_.defined() ? int64_t(fused_steps_.item<float>()) : steps_;
}

void AdamW::set_steps(int64_t steps) {
  steps_ = steps;
  if (!fused_ || params_.empty()) return;
  fused_steps_ = torch::full({}, double(steps), params_.front().param.options().dtype(torch::kFloat32));
}

void fused_adamw_update(const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads,
                        const std::vector<torch::Tensor>& exp_avgs,
                        const std::vector<torch::Tensor>& exp_avg_sqs, const torch::Tensor& step, double lr,
                        double weight_decay, const OptimConfig& config, const torch::Tensor& found_inf) {
  if (params.empty()) return;
  // The kernel reads one step tensor per parameter; ours all count the same updates.
  const std::vector<torch::Tensor> steps(params.size(), step);
  at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, lr, config.beta1,
                    config.beta2, weight_decay, config.eps, /*amsgrad=*/false, /*maximize=*/false,
                    /*grad_scale=*/std::nullopt, found_inf);
}

void AdamW::zero_grad() {
  // Undefined, not zero: backward then moves its gradient into .grad instead of adding it to
  // a zeroed tensor (PyTorch's set_to_none=True), which saves two passes over the parameters.
  for (auto& p : params_) p.param.mutable_grad() = torch::Tensor();
}

double learning_rate(int64_t step, const OptimConfig& c, int64_t max_steps) {
  if (c.warmup_steps > 0 && step < c.warmup_steps) return c.lr * double(step + 1) / double(c.warmup_steps);
  const int64_t decay_steps = std::max<int64_t>(1, max_steps - c.warmup_steps);
  const double progress = std::min(1.0, std::max(0.0, double(step - c.warmup_steps) / double(decay_steps)));
  return c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + std::cos(M_PI * progress));
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  return clip_grad_norm_on_device(params, max_norm).item<double>();
}

torch::Tensor clip_grad_norm_on_device(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads, norms;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    grads.push_back(p.grad());
    norms.push_back(p.grad().norm(2));
  }
  if (norms.empty()) return torch::zeros({}, torch::kFloat64);
  const torch::Tensor total = torch::stack(norms).norm(2).to(torch::kFloat64);
  scale_to_max_norm(grads, total, max_norm);
  return total;
}

void scale_to_max_norm(const std::vector<torch::Tensor>& grads, const torch::Tensor& norm, double max_norm) {
  if (max_norm <= 0) return;
  // In float64, then applied as a float32 factor: the arithmetic of the host version this
  // replaced (a double coefficient), and exactly 1.0 when the norm is within max_norm.
  const torch::Tensor coef = (max_norm / (norm + 1e-6)).clamp_max(1.0);
  for (const auto& grad : grads) grad.mul_(coef);
}

}  // namespace clinfm
