// The training loop. A Trainer owns the model, the optimizer, the loaders and the metrics of one
// run; features live in their components (models/, data/loader, trainer/optim, metrics).
// Per step: the loader gives this rank's micro-batches; the loss of each is normalised by the
// number of targets in the whole global batch, so gradients summed over micro-batches (and, with
// several ranks, over ranks) are exactly the gradient of the global mean loss; then global-norm
// clipping, the learning rate of the schedule, and an AdamW update.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "common/config/resolve.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "models/transformer.h"
#include "trainer/comm/communicator.h"
#include "trainer/grad_reducer.h"
#include "trainer/metrics.h"
#include "trainer/optim.h"
#include "trainer/zero1.h"

namespace clinfm {

struct EvalResult {
  double loss = 0, token_loss = 0, time_loss = 0, perplexity = 0, top1 = 0, top10 = 0;
  // Cross-entropy of the same targets under the training split's token frequencies (add-one
  // smoothed): what a model that ignores the timeline would score.
  double unigram_token_loss = 0;
  int64_t targets = 0;
};

struct StepResult {
  double loss = 0, token_loss = 0, time_loss = 0, grad_norm = 0, lr = 0;
  double comm_wait_ms = 0;  // time waiting for gradient communication after backward (exposed)
  int64_t targets = 0, positions = 0, padded_positions = 0;
};

class Trainer {
 public:
  explicit Trainer(const ResolvedConfig& resolved);
  ~Trainer();
  // Trains to train.max_steps; returns the last step's result.
  StepResult run();
  // Loss and next-event accuracy on train.eval_batches batches of the tuning split (the same
  // batches at every evaluation).
  EvalResult evaluate();
  ClinicalTransformer& model() { return model_; }
  // The result of the last periodic evaluation of run() (zeros when none ran).
  const EvalResult& last_eval() const { return last_eval_; }
  const ModelDims& dims() const { return model_->dims; }

 private:
  StepResult train_step(int64_t step);
  void check_parameters_agree(int64_t step);
  ModelBatch to_device(const HostBatch& batch) const;

  Config config_;
  std::string config_yaml_;
  std::unique_ptr<Dataset> dataset_;
  ClinicalTransformer model_{nullptr};
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<BatchLoader> loader_;
  std::unique_ptr<MetricsWriter> metrics_;
  std::unique_ptr<Communicator> comm_;    // null in a world of one
  std::unique_ptr<GradReducer> reducer_;  // null in a world of one and with ZeRO-1
  std::unique_ptr<Zero1AdamW> zero1_;     // dist.zero1 with several ranks: replaces optimizer_
  torch::Device device_{torch::kCPU};
  std::vector<int32_t> ignored_targets_;
  std::vector<double> unigram_nll_;  // per token: -log p_train(token)
  EvalResult last_eval_;
  double peak_flops_ = 0;
  int threads_ = 1;
};

}  // namespace clinfm
