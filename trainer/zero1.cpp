#include "trainer/zero1.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "trainer/optim.h"

namespace clinfm {

Zero1AdamW::Zero1AdamW(const std::vector<std::pair<std::string, torch::Tensor>>& named_params,
                       const OptimConfig& config, Communicator& comm, AdamWKernel kernel)
    : config_(config), comm_(comm) {
  std::vector<torch::Tensor> masks;
  std::vector<DecayRun> param_runs;  // in the whole optimizer vector
  for (const auto& [name, p] : named_params) {
    if (!p.requires_grad()) continue;
    params_.push_back(p);
    const bool decay = applies_weight_decay(name, p, config);
    masks.push_back(torch::full({p.numel()}, decay ? 1.0f : 0.0f, p.options()));
    param_runs.push_back({total_, total_ + p.numel(), decay});
    total_ += p.numel();
  }
  // Shard, moments and gathered vectors live where the parameters do (a GPU under NCCL).
  options_ = params_.empty() ? torch::TensorOptions(torch::kFloat32) : params_.front().options();
  std::tie(begin_, end_) = shard_range(total_, comm.rank(), comm.size());
  for (const DecayRun& run : param_runs) {
    const int64_t begin = std::max(run.begin, begin_), end = std::min(run.end, end_);
    if (begin < end) runs_.push_back({begin - begin_, end - begin_, run.decay});
  }
  fused_ = kernel == AdamWKernel::kFused || (kernel == AdamWKernel::kAuto && options_.device().is_cuda());
  if (fused_) fused_steps_ = torch::zeros({}, options_.dtype(torch::kFloat32));
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
  if (fused_) fused_steps_.fill_(double(steps));
}

int64_t Zero1AdamW::steps() const { return fused_ ? int64_t(fused_steps_.item<float>()) : steps_; }

double Zero1AdamW::finish_backward() {
  comm_wait_ms_ = 0;
  return 0;
}

OptimizerRange Zero1AdamW::state(SnapshotMode mode) const {
  OptimizerRange range = layout_;
  range.begin = begin_;
  range.end = end_;
  range.updates = steps();
  range.exp_avg = host_tensor(exp_avg_, mode);
  range.exp_avg_sq = host_tensor(exp_avg_sq_, mode);
  return range;
}

void Zero1AdamW::load_state(const OptimizerRange& state) {
  load_state(state.exp_avg, state.exp_avg_sq, state.updates);
}

torch::Tensor Zero1AdamW::step(double lr, double max_norm, const torch::Tensor& loss_finite) {
  const auto started = std::chrono::steady_clock::now();
  torch::Tensor grad_norm = update(lr, max_norm, loss_finite);
  comm_wait_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return grad_norm;
}

torch::Tensor Zero1AdamW::update(double lr, double max_norm, const torch::Tensor& loss_finite) {
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
  const torch::Tensor norm = squared.to(torch::kFloat64).sqrt().reshape({});
  const torch::Tensor apply = loss_finite.logical_and(norm.isfinite());  // the same on every rank
  const torch::Tensor reported = torch::where(loss_finite, norm, std::numeric_limits<double>::quiet_NaN());
  if (!fused_ && !apply.item<bool>()) return reported;  // per element: a CPU path, the flag is free to read
  scale_to_max_norm({grad}, norm, max_norm);
  auto shard = torch::cat(values).narrow(0, begin_, end_ - begin_).clone();
  if (fused_)
    fused_update(shard, grad, lr, apply);
  else
    per_element_update(shard, grad, lr);
  auto full = torch::empty({total_}, options_);
  comm_.all_gather(shard, full);
  int64_t offset = 0;
  for (auto& p : params_) {
    p.detach().copy_(full.narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
  return reported;
}

// AdamW's arithmetic (trainer/optim.cpp, per tensor) element for element over the shard.
void Zero1AdamW::per_element_update(torch::Tensor& shard, const torch::Tensor& grad, double lr) {
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
}

// ATen's fused kernel over views of the shard, one list per weight-decay group; skipped on the
// device when `apply` is false (the step count then stays too).
void Zero1AdamW::fused_update(torch::Tensor& shard, const torch::Tensor& grad, double lr,
                              const torch::Tensor& apply) {
  fused_steps_.add_(apply.to(torch::kFloat32));
  const torch::Tensor found_inf = apply.logical_not().to(torch::kFloat32);
  for (const bool decay : {true, false}) {
    std::vector<torch::Tensor> values, grads, exp_avgs, exp_avg_sqs;
    for (const DecayRun& run : runs_) {
      if (run.decay != decay) continue;
      values.push_back(shard.narrow(0, run.begin, run.end - run.begin));
      grads.push_back(grad.narrow(0, run.begin, run.end - run.begin));
      exp_avgs.push_back(exp_avg_.narrow(0, run.begin, run.end - run.begin));
      exp_avg_sqs.push_back(exp_avg_sq_.narrow(0, run.begin, run.end - run.begin));
    }
    fused_adamw_update(values, grads, exp_avgs, exp_avg_sqs, fused_steps_, lr,
                       decay ? config_.weight_decay : 0.0, config_, found_inf);
  }
}

}  // namespace clinfm
