// The training loop. A Trainer owns the model, the optimizer, the loaders and the metrics of one
// run; features live in their components (models/, data/loader, trainer/optim, metrics).
// Per step: the loader gives this rank's micro-batches; the loss of each is normalised by the
// number of targets in the whole global batch, so gradients summed over micro-batches (and, with
// several ranks, over ranks) are exactly the gradient of the global mean loss; then global-norm
// clipping, the learning rate of the schedule, and an AdamW update. A step whose loss or
// gradient norm is NaN/Inf (the same on every rank: both are global) is skipped: no update,
// counted; train.max_consecutive_bad_steps in a row stop the run.
// Checkpoints (trainer/checkpoint/) are written every checkpoint.every steps, at the end, and
// when a preemption signal reaches any rank (the ranks agree at the next step boundary, save
// and return). A Trainer built with a resume mode restores the whole training state first.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "common/config/resolve.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "models/transformer.h"
#include "trainer/checkpoint/writer.h"
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
  bool skipped = false;  // NaN/Inf loss or gradient: no update was applied
};

class Trainer {
 public:
  // `resume`: none | auto | latest | PATH (trainer/checkpoint/layout.h, choose_checkpoint).
  explicit Trainer(const ResolvedConfig& resolved, const std::string& resume = "none");
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
  // The step the run starts from (0, or the checkpoint's step when resumed).
  int64_t start_step() const { return start_step_; }
  // Whether run() stopped early on a preemption signal (after saving a checkpoint).
  bool preempted() const { return preempted_; }
  int64_t skipped_steps() const { return skipped_steps_; }

 private:
  StepResult train_step(int64_t step);
  void check_parameters_agree(int64_t step);
  ModelBatch to_device(const HostBatch& batch) const;
  void make_train_loader(int64_t start_step);
  // trainer_checkpoint.cpp
  void resume(const std::string& mode);
  void restore(const std::string& dir);
  std::vector<CheckpointFile> checkpoint_files(int64_t step);
  void save_checkpoint(int64_t step);

  Config config_;
  std::string config_yaml_;
  std::unique_ptr<Dataset> dataset_;
  ClinicalTransformer model_{nullptr};
  std::vector<std::string> param_names_;  // trainable parameters, optimizer order
  std::vector<torch::Tensor> params_;
  std::unique_ptr<AdamW> optimizer_;  // null with ZeRO-1
  std::unique_ptr<BatchLoader> loader_;
  std::unique_ptr<MetricsWriter> metrics_;
  std::unique_ptr<Communicator> comm_;    // null in a world of one
  std::unique_ptr<GradReducer> reducer_;  // null in a world of one and with ZeRO-1
  std::unique_ptr<Zero1AdamW> zero1_;     // dist.zero1 with several ranks: replaces optimizer_
  torch::Device device_{torch::kCPU};
  std::vector<int32_t> ignored_targets_;
  std::vector<double> unigram_nll_;  // per token: -log p_train(token)
  EvalResult last_eval_;
  std::unique_ptr<CheckpointWriter> checkpointer_;
  std::string manifest_sha256_;  // of the data set's manifest.json
  int64_t start_step_ = 0, skipped_steps_ = 0, consecutive_bad_steps_ = 0, last_checkpoint_step_ = -1;
  bool preempted_ = false;
  double peak_flops_ = 0;
  int threads_ = 1;
};

}  // namespace clinfm
