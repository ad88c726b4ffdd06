#include "trainer/zero1.h"

#include <chrono>
#include <cmath>

#include "trainer/optim.h"

namespace clinfm {

Zero1AdamW::Zero1AdamW(const std::vector<std::pair<std::string, torch::Tensor>>& named_params,
                       const OptimConfig& config, Communicator& comm)
    : config_(config), comm_(comm) {
  std::vector<torch::Tensor> masks;
  for (const auto& [name, p] : named_params) {
    if (!p.requires_grad()) continue;
    params_.push_back(p);
    masks.push_back(
        torch::full({p.numel()}, applies_weight_decay(name, p, config) ? 1.0f : 0.0f, p.options()));
    total_ += p.numel();
  }
  // Shard, moments and gathered vectors live where the parameters do (a GPU under NCCL).
  options_ = params_.empty() ? torch::TensorOptions(torch::kFloat32) : params_.front().options();
  std::tie(begin_, end_) = shard_range(total_, comm.rank(), comm.size());
  describe_optimizer_vector(named_params, &layout_);
  decay_mask_ = torch::cat(masks).narrow(0, begin_, end_ - begin_).clone();
  exp_avg_ = torch::zeros({end_ - begin_}, options_);
  exp_avg_sq_ = torch::zeros({end_ - begin_}, options_);
}

void Zero1AdamW::zero_grad() {
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();  // as AdamW::zero_grad
}

void Zero1AdamW::load_state(const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq, int64_t steps) {
  TORCH_CHECK(exp_avg.numel() == end_ - begin_ && exp_avg_sq.numel() == end_ - begin_,
              "ZeRO-1 state of the wrong size for this rank's shard");
  exp_avg_.copy_(exp_avg.reshape({-1}));
  exp_avg_sq_.copy_(exp_avg_sq.reshape({-1}));
  steps_ = steps;
}

double Zero1AdamW::finish_backward() {
  comm_wait_ms_ = 0;
  return 0;
}

OptimizerRange Zero1AdamW::state() const {
  OptimizerRange range = layout_;
  range.begin = begin_;
  range.end = end_;
  range.updates = steps_;
  range.exp_avg = exp_avg_.to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);  // a host copy
  range.exp_avg_sq = exp_avg_sq_.to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);
  return range;
}

void Zero1AdamW::load_state(const OptimizerRange& state) {
  load_state(state.exp_avg, state.exp_avg_sq, state.updates);
}

double Zero1AdamW::step(double lr, double max_norm) {
  const auto started = std::chrono::steady_clock::now();
  const double grad_norm = update(lr, max_norm);
  comm_wait_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return grad_norm;
}

double Zero1AdamW::update(double lr, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads, values;
  for (const auto& p : params_) {
    grads.push_back(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros({p.numel()}, options_));
    values.push_back(p.detach().reshape({-1}));
  }
  const auto flat_grad = torch::cat(grads);  // [total], this rank's
  auto grad = torch::empty({end_ - begin_}, options_);
  comm_.reduce_scatter(flat_grad, grad, ReduceOp::kSum);  // [shard], summed over ranks
  auto squared = grad.pow(2).sum().reshape({1});
  comm_.all_reduce(squared, ReduceOp::kSum);
  const double norm = std::sqrt(squared.item<double>());
  if (!std::isfinite(norm)) return norm;  // every rank sees the same norm: all skip this update
  if (max_norm > 0) {
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) grad.mul_(coef);
  }
  auto shard = torch::cat(values).narrow(0, begin_, end_ - begin_).clone();
  ++steps_;
  const double bias_correction1 = 1.0 - std::pow(config_.beta1, double(steps_));
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(config_.beta2, double(steps_)));
  if (config_.weight_decay != 0) {
    // The factor as AdamW computes it (a double rounded to float), so decayed elements match it bitwise.
    const auto factor = torch::full({}, static_cast<float>(1.0 - lr * config_.weight_decay), options_);
    shard.mul_(torch::where(decay_mask_ > 0, factor, torch::ones({}, options_)));
  }
  exp_avg_.lerp_(grad, 1.0 - config_.beta1);
  exp_avg_sq_.mul_(config_.beta2).addcmul_(grad, grad, 1.0 - config_.beta2);
  const auto denom = (exp_avg_sq_.sqrt() / bias_correction2_sqrt).add_(config_.eps);
  shard.addcdiv_(exp_avg_, denom, -lr / bias_correction1);
  auto full = torch::empty({total_}, options_);
  comm_.all_gather(shard, full);
  int64_t offset = 0;
  for (auto& p : params_) {
    p.detach().copy_(full.narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
  return norm;
}

}  // namespace clinfm
