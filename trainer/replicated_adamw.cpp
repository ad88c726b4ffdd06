#include "trainer/replicated_adamw.h"

#include <cmath>
#include <limits>

#include "trainer/zero1.h"

namespace clinfm {

void describe_optimizer_vector(const NamedParameters& named_params, OptimizerRange* range) {
  range->names.clear();
  range->numels.clear();
  range->total = 0;
  for (const auto& [name, param] : named_params) {
    if (!param.requires_grad()) continue;
    range->names.push_back(name);
    range->numels.push_back(param.numel());
    range->total += param.numel();
  }
}

std::unique_ptr<Optimizer> make_optimizer(const NamedParameters& named_params, const Config& config,
                                          Communicator& comm) {
  if (config.dist.zero1 && comm.size() > 1)
    return std::make_unique<Zero1AdamW>(named_params, config.optim, comm);
  return std::make_unique<ReplicatedAdamW>(named_params, config, comm);
}

ReplicatedAdamW::ReplicatedAdamW(const NamedParameters& named_params, const Config& config,
                                 Communicator& comm)
    : adamw_(named_params, config.optim) {
  for (const auto& entry : adamw_.params()) params_.push_back(entry.param);
  describe_optimizer_vector(named_params, &layout_);
  if (comm.size() > 1)
    reducer_ = std::make_unique<GradReducer>(params_, comm, config.dist.bucket_mb, config.dist.overlap);
}

void ReplicatedAdamW::begin_micro_step(bool final_micro_step) {
  if (reducer_) reducer_->begin_micro_step(final_micro_step);
}

double ReplicatedAdamW::finish_backward() {
  comm_wait_ms_ = reducer_ ? reducer_->finish() : 0.0;
  return comm_wait_ms_;
}

torch::Tensor ReplicatedAdamW::step(double lr, double max_norm, const torch::Tensor& loss_finite) {
  const torch::Tensor norm = clip_grad_norm_on_device(params_, max_norm);
  adamw_.step(lr, loss_finite.logical_and(norm.isfinite()));
  return torch::where(loss_finite, norm, std::numeric_limits<double>::quiet_NaN());
}

OptimizerRange ReplicatedAdamW::state(SnapshotMode mode) const {
  OptimizerRange range = layout_;
  range.begin = 0;
  range.end = layout_.total;
  range.updates = adamw_.steps();
  if (adamw_.flat_exp_avg().defined()) {  // the live flat buffers (optim.h), in layout order
    range.exp_avg = host_tensor(adamw_.flat_exp_avg(), mode);
    range.exp_avg_sq = host_tensor(adamw_.flat_exp_avg_sq(), mode);
    return range;
  }
  std::vector<torch::Tensor> exp_avg, exp_avg_sq;
  for (const auto& entry : adamw_.params()) {
    exp_avg.push_back(entry.exp_avg.reshape({-1}));
    exp_avg_sq.push_back(entry.exp_avg_sq.reshape({-1}));
  }
  range.exp_avg = torch::cat(exp_avg).cpu();  // a copy, on the host (checkpoint files are device-free)
  range.exp_avg_sq = torch::cat(exp_avg_sq).cpu();
  return range;
}

void ReplicatedAdamW::load_state(const OptimizerRange& state) {
  int64_t offset = 0;
  for (auto& entry : adamw_.params()) {
    const int64_t numel = entry.param.numel();
    entry.exp_avg.copy_(state.exp_avg.narrow(0, offset, numel).view(entry.exp_avg.sizes()));
    entry.exp_avg_sq.copy_(state.exp_avg_sq.narrow(0, offset, numel).view(entry.exp_avg_sq.sizes()));
    offset += numel;
  }
  adamw_.set_steps(state.updates);
}

}  // namespace clinfm
