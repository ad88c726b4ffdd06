// The optimizer of data parallelism without sharding (trainer/optimizer.h): the GradReducer sums
// the gradients over ranks while backward runs, then global-norm clipping and AdamW on every
// parameter. In a world of one there is nothing to sum, so no reducer is made and the
// gradients stay where backward wrote them (no copies through bucket buffers).
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "trainer/grad_reducer.h"
#include "trainer/optim.h"
#include "trainer/optimizer.h"

namespace clinfm {

class ReplicatedAdamW final : public Optimizer {
 public:
  ReplicatedAdamW(const NamedParameters& named_params, const Config& config, Communicator& comm);
  void begin_micro_step(bool final_micro_step) override;
  double finish_backward() override;
  torch::Tensor step(double lr, double max_norm, const torch::Tensor& loss_finite) override;
  double comm_wait_ms() const override { return comm_wait_ms_; }
  int64_t updates() const override { return adamw_.steps(); }
  bool sharded() const override { return false; }
  std::pair<int64_t, int64_t> state_range() const override { return {0, layout_.total}; }
  OptimizerRange state(SnapshotMode mode) const override;
  void load_state(const OptimizerRange& state) override;

 private:
  AdamW adamw_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<GradReducer> reducer_;  // only with several ranks
  OptimizerRange layout_;                 // names, numels and total of the optimizer vector
  double comm_wait_ms_ = 0;
};

}  // namespace clinfm
