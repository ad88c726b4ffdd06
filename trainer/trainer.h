// The training loop. A Trainer owns the model, the optimizer, the loaders and the metrics of one
// run; features live in their components (models/, data/loader, trainer/optimizer.h, metrics).
// Per step (train_step): the loader gives this rank's micro-batches; the loss of each is
// normalised by the number of targets in the whole global batch, so gradients summed over
// micro-batches and ranks are exactly the gradient of the global mean loss; then the optimizer
// (replicated AdamW or ZeRO-1, one interface) reduces, clips and updates.
// A step takes no host synchronisation: its loss sums and gradient norm stay on the device,
// and a step whose loss or gradient norm is NaN/Inf (the same on every rank) is skipped there.
// At log steps (log.every, the first, the last), before validation and checkpoints, read_steps()
// reads the steps done since the last read in one copy and, for each in order, applies the
// bad-step policy (skipped steps are counted; train.max_consecutive_bad_steps in a row stop the
// run) and writes its metrics.jsonl line, then the console line. After each step run() also
// calls the cross-rank parameter checksum, validation (the loss on the tuning split every
// train.validation_every steps), and the step boundary (the ranks agree on preemption, an
// asynchronous checkpoint is published, a checkpoint is written every checkpoint.every steps,
// at the end, and on preemption).
// A Trainer built with a resume mode restores the whole training state first. Rank 0 holds the
// run folder's lock (trainer/checkpoint/run_folder.h) for the Trainer's lifetime; a fresh run
// refuses a folder holding another run unless `overwrite` moves that run aside.
// The file is split by concern: trainer.cpp (set-up, the loop, the step), trainer_parts.cpp (what
// run() calls after each step), trainer_validation.cpp, trainer_checkpoint.cpp.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/config/resolve.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "models/transformer.h"
#include "trainer/checkpoint/layout.h"
#include "trainer/checkpoint/run_folder.h"
#include "trainer/checkpoint/writer.h"
#include "trainer/comm/communicator.h"
#include "trainer/fault_injection.h"
#include "trainer/metrics.h"
#include "trainer/optimizer.h"

namespace clinfm {

// The loss on the tuning split during training ("validation"; eval/ evaluates finished models).
struct ValidationResult {
  double loss = 0, token_loss = 0, time_loss = 0, perplexity = 0, top1 = 0, top10 = 0;
  // Cross-entropy of the same targets under the training split's token frequencies (add-one
  // smoothed): what a model that ignores the timeline would score.
  double unigram_token_loss = 0;
  int64_t targets = 0;
};

// One training step. train_step() fills the host fields it knows and leaves the loss sums and
// the gradient norm on the device (device_values); read_steps() reads them (at log steps, before
// validation and checkpoints, at the end) and fills loss, token_loss, time_loss, grad_norm and
// skipped.
struct StepResult {
  int64_t step = 0;  // 1-based: the number of steps done
  double loss = 0, token_loss = 0, time_loss = 0, grad_norm = 0, lr = 0;
  double comm_wait_ms = 0;  // host time waiting for gradient communication after backward
  double data_wait_ms = 0;  // host time waiting for the loader
  // Host time of the step; once read, with its share of the wait for the device's backlog.
  double step_ms = 0;
  int64_t targets = 0, positions = 0, padded_positions = 0;
  bool skipped = false;         // NaN/Inf loss or gradient: no update was applied
  torch::Tensor device_values;  // float64 [token NLL sum, time NLL sum, gradient norm], until read
};

class Trainer {
 public:
  // `resume`: none | auto | latest | PATH (trainer/checkpoint/layout.h, choose_checkpoint).
  // `overwrite`: a fresh run may move another run's files out of run.out_dir (--overwrite).
  explicit Trainer(const ResolvedConfig& resolved, const std::string& resume = "none",
                   bool overwrite = false);
  ~Trainer();
  // Trains to train.max_steps; returns the last step's result (read).
  StepResult run();
  // Loss and next-event accuracy on train.validation_batches batches of the tuning split (the
  // same batches at every validation).
  ValidationResult validate();
  // Test-only fault injection (trainer/fault_injection.h).
  void set_loss_hook(LossHook hook) { loss_hook_ = std::move(hook); }
  ClinicalTransformer& model() { return model_; }
  // The result of the last periodic validation of run() (zeros when none ran).
  const ValidationResult& last_validation() const { return last_validation_; }
  const ModelDims& dims() const { return model_->dims; }
  // The step the run starts from (0, or the checkpoint's step when resumed).
  int64_t start_step() const { return start_step_; }
  // Whether run() stopped early on a preemption signal (after saving a checkpoint).
  bool preempted() const { return preempted_; }
  int64_t skipped_steps() const { return skipped_steps_; }
  // The run's lineage (CheckpointMeta::run_id): new for a fresh run, the checkpoint's on resume.
  const std::string& run_id() const { return run_id_; }

 private:
  // trainer.cpp: set-up and the step.
  void load_data();
  void build_model();
  void open_run_folder();
  // Training reads data.train_split; validation reads tuning.
  LoaderOptions loader_options(bool training) const;
  StepResult train_step(int64_t step);
  StepResult count_targets(const std::vector<HostBatch>& micro_batches);
  ModelBatch to_device(const HostBatch& batch) const;
  LossSums forward_loss_sums(const ModelBatch& batch);
  // trainer_parts.cpp: what run() calls after each step (`step` is 1-based there).
  bool is_log_step(int64_t step) const;
  void read_steps();
  void apply_bad_step_policy(const StepResult& result);
  void check_parameters_agree(int64_t step);
  void report_progress(const StepResult& result);
  void validate_if_due(int64_t step);
  bool at_step_boundary(int64_t step);  // true when preempted (a checkpoint is written)
  void finish_run();
  // trainer_run_folder.cpp: the lock, the shared-folder check, and agreement on rank 0's verdicts.
  void lock_run_folder();
  void claim_run_folder_if_new(const std::string& resumed_from, bool overwrite);
  void verify_shards_once();
  void run_on_rank0(const std::function<void()>& action);
  [[noreturn]] void stop_for_lost_lock();
  // trainer_checkpoint.cpp
  void resume(const std::string& mode, bool overwrite);
  void restore(const std::string& dir);
  void restore_generators(const std::string& dir, const CheckpointMeta& meta);
  std::vector<CheckpointFile> checkpoint_files(int64_t step);
  void save_checkpoint(int64_t step);

  Config config_;
  std::string config_yaml_;
  RunLock lock_;  // rank 0 only; destroyed last, after the checkpoint writer has finished
  std::string run_id_;
  std::unique_ptr<Dataset> dataset_;
  std::string manifest_sha256_;  // of the data set's manifest.json
  std::vector<int32_t> ignored_targets_;
  std::vector<double> unigram_nll_;  // per token: -log p_train(token)
  ClinicalTransformer model_{nullptr};
  NamedParameters named_params_;          // every parameter, registration order
  std::vector<std::string> param_names_;  // trainable parameters, optimizer order
  std::vector<torch::Tensor> params_;
  // comm_ carries the model's tensors (NCCL on CUDA, MPI on CPU; the local communicator in a
  // world of one); control_ the host-side agreements (target counts, loss sums, flags,
  // checksums, checkpoint votes): comm_ itself unless comm_ is NCCL, then an MPI communicator.
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<Communicator> control_owned_;
  Communicator* control_ = nullptr;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<BatchLoader> loader_;
  std::unique_ptr<MetricsWriter> metrics_;  // writes nothing on ranks other than 0
  std::unique_ptr<CheckpointWriter> checkpointer_;
  LossHook loss_hook_;
  torch::Device device_{torch::kCPU};
  ValidationResult last_validation_;
  int64_t last_validation_step_ = -1;  // the step last_validation_ was measured at
  std::vector<StepResult> pending_;    // steps whose device values are not read yet
  StepResult last_read_;
  int64_t start_step_ = 0, skipped_steps_ = 0, consecutive_bad_steps_ = 0, last_checkpoint_step_ = -1;
  int64_t run_positions_ = 0, run_padded_positions_ = 0;  // since run() started
  bool preempted_ = false;
  std::unique_ptr<PeakFlops> peak_flops_;
  double flops_per_token_ = 0;
  int threads_ = 1;
};

}  // namespace clinfm
