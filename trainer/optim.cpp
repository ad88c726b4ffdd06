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
  for (const auto& [name, p] : named_params) {
    if (!p.requires_grad()) continue;
    OptimParam entry;
    entry.name = name;
    entry.param = p;
    entry.decay = applies_weight_decay(name, p, config);
    entry.exp_avg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    entry.exp_avg_sq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    params_.push_back(std::move(entry));
  }
  const bool on_cuda = !params_.empty() && params_.front().param.is_cuda();
  fused_ = kernel == AdamWKernel::kFused || (kernel == AdamWKernel::kAuto && on_cuda);
}

void AdamW::step(double lr) {
  if (fused_) return fused_step(lr);
  torch::NoGradGuard no_grad;
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

// Two calls of ATen's fused kernel, one per weight-decay group. The kernel reads the step count
// from a float tensor on the parameters' device (torch.optim.AdamW(fused=True) keeps one per
// parameter; all of ours agree, so one tensor serves the list).
void AdamW::fused_step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  for (const bool decay : {true, false}) {
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
    for (auto& p : params_) {
      if (p.decay != decay || !p.param.grad().defined()) continue;
      params.push_back(p.param);
      grads.push_back(p.param.grad());
      exp_avgs.push_back(p.exp_avg);
      exp_avg_sqs.push_back(p.exp_avg_sq);
    }
    if (params.empty()) continue;
    const torch::Tensor step =
        torch::full({}, double(steps_), params.front().options().dtype(torch::kFloat32));
    steps.assign(params.size(), step);
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, lr, config_.beta1,
                      config_.beta2, decay ? config_.weight_decay : 0.0, config_.eps, /*amsgrad=*/false,
                      /*maximize=*/false);
  }
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
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& p : params)
    if (p.grad().defined()) norms.push_back(p.grad().norm(2));
  if (norms.empty()) return 0.0;
  const double total = torch::stack(norms).norm(2).item<double>();
  if (max_norm > 0) {
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1.0)
      for (const auto& p : params)
        if (p.grad().defined()) p.grad().mul_(coef);
  }
  return total;
}

}  // namespace clinfm
