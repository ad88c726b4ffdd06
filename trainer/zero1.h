// ZeRO stage 1: the optimizer state is sharded over ranks. All parameters are laid out in one
// flat vector (optimizer order); rank r owns shard_range(total, r, size) of it. Per step:
// gradients are reduce-scattered (summed) into the local shard, clipped by the global norm
// (squared shard norms all-reduced), AdamW updates the local shard of the parameters with a
// local shard of m and v, and the parameter shards are all-gathered back into every rank's
// model. The update is element for element the arithmetic of AdamW (trainer/optim.h), so a
// ZeRO-1 run matches a non-sharded one up to the summation order of the reductions.
// Optimizer-state memory per rank: 2 x total / size floats.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "trainer/comm/communicator.h"
#include "trainer/optim.h"
#include "trainer/optimizer.h"

namespace clinfm {

class Zero1AdamW final : public Optimizer {
 public:
  // kAuto: ATen's fused kernel over the shard when the parameters live on a CUDA device (the
  // skip decided there: no host synchronisation), AdamW's per-element arithmetic otherwise.
  Zero1AdamW(const std::vector<std::pair<std::string, torch::Tensor>>& named_params,
             const OptimConfig& config, Communicator& comm, AdamWKernel kernel = AdamWKernel::kAuto);
  // Gradients stay this rank's during backward: all communication happens in step().
  void begin_micro_step(bool) override {}
  double finish_backward() override;
  // Uses the gradients in .grad (this rank's, not yet reduced); returns the global gradient
  // norm before clipping (NaN when the loss was not finite). A NaN/Inf norm or loss (the same on
  // every rank) skips the update.
  torch::Tensor step(double lr, double max_norm, const torch::Tensor& loss_finite) override;
  // The whole of step(): reduce-scatter, update and all-gather, none of it overlapped.
  double comm_wait_ms() const override { return comm_wait_ms_; }
  int64_t updates() const override { return steps(); }
  bool sharded() const override { return true; }
  std::pair<int64_t, int64_t> state_range() const override { return {begin_, end_}; }
  OptimizerRange state(SnapshotMode mode) const override;
  void load_state(const OptimizerRange& state) override;
  void zero_grad();
  int64_t state_elements() const { return exp_avg_.numel() + exp_avg_sq_.numel(); }
  int64_t total_elements() const { return total_; }
  // The local shard [begin, end) of the optimizer vector and its state (checkpoints).
  int64_t shard_begin() const { return begin_; }
  int64_t shard_end() const { return end_; }
  int64_t steps() const;
  bool fused() const { return fused_; }
  const torch::Tensor& exp_avg() const { return exp_avg_; }
  const torch::Tensor& exp_avg_sq() const { return exp_avg_sq_; }
  // Restores the shard's state: [end - begin] each, and the updates applied so far.
  void load_state(const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq, int64_t steps);

 private:
  torch::Tensor update(double lr, double max_norm, const torch::Tensor& loss_finite);
  void per_element_update(torch::Tensor& shard, const torch::Tensor& grad, double lr);
  void fused_update(torch::Tensor& shard, const torch::Tensor& grad, double lr, const torch::Tensor& apply);
  // Where one parameter's decay flag runs [begin, end) within the shard (fused: one list each).
  struct DecayRun {
    int64_t begin = 0, end = 0;
    bool decay = true;
  };

  OptimConfig config_;
  Communicator& comm_;
  std::vector<torch::Tensor> params_;
  int64_t total_ = 0, begin_ = 0, end_ = 0;
  torch::TensorOptions options_;  // the parameters' dtype and device
  int64_t steps_ = 0;
  bool fused_ = false;
  torch::Tensor fused_steps_;  // fused: the update count, float32 on the device
  std::vector<DecayRun> runs_;
  double comm_wait_ms_ = 0;
  OptimizerRange layout_;               // names, numels and total of the optimizer vector
  torch::Tensor decay_mask_;            // [end - begin] 1 where weight decay applies
  torch::Tensor exp_avg_, exp_avg_sq_;  // [end - begin]
};

}  // namespace clinfm
