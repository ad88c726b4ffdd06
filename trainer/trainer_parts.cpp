// What Trainer::run() calls after each step, one concern each: the bad-step policy, the
// cross-rank checksum, the progress report, validation, and the step boundary (preemption and
// checkpoints). `step` is 1-based here: the number of steps done.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "common/log.h"
#include "models/weights_io.h"
#include "trainer/checkpoint/layout.h"
#include "trainer/comm/launch.h"
#include "trainer/grad_reducer.h"
#include "trainer/run_formulas.h"
#include "trainer/signals.h"
#include "trainer/trainer.h"

namespace clinfm {
namespace fs = std::filesystem;

bool Trainer::is_log_step(int64_t step) const {
  return step % config_.log.every == 0 || step == start_step_ + 1 || step == config_.train.max_steps;
}

// The device values of the steps since the last read, in one copy: the host synchronisation
// of training. The wait for the device's backlog is shared out over those steps' times in
// proportion to their host times (on a CPU it is nothing).
void Trainer::read_steps() {
  if (pending_.empty()) return;
  const auto started = std::chrono::steady_clock::now();
  std::vector<torch::Tensor> values;
  for (const StepResult& result : pending_) values.push_back(result.device_values);
  const torch::Tensor host = torch::stack(values).to(torch::kCPU).contiguous();
  const double wait_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  double host_ms = 0;
  for (const StepResult& result : pending_) host_ms += result.step_ms;
  const double scale = host_ms > 0 ? (host_ms + wait_ms) / host_ms : 1.0;
  const auto* row = host.data_ptr<double>();
  std::vector<StepResult> steps = std::move(pending_);
  pending_.clear();
  for (StepResult& result : steps) {
    const double global_targets = std::max<int64_t>(1, result.targets);
    result.token_loss = row[0] / global_targets;
    result.time_loss = row[1] / global_targets;
    result.loss = weighted_loss(config_.model, result.token_loss, result.time_loss);
    result.grad_norm = row[2];  // NaN when the loss was not finite
    result.skipped = !std::isfinite(result.loss) || !std::isfinite(result.grad_norm);
    result.step_ms *= scale;
    result.device_values = torch::Tensor();
    row += 3;
    apply_bad_step_policy(result);
    report_progress(result);
    last_read_ = result;
  }
}

// A skipped step (NaN/Inf loss or gradient norm: no update) is counted; too many in a row
// stop the run, with the last good checkpoint intact.
void Trainer::apply_bad_step_policy(const StepResult& result) {
  if (!result.skipped) {
    consecutive_bad_steps_ = 0;
    return;
  }
  ++skipped_steps_;
  ++consecutive_bad_steps_;
  log_warn(
      "step {}: loss {} / gradient norm {} is not finite: step skipped (no update; {} in a row, {} in all)",
      result.step, result.loss, result.grad_norm, consecutive_bad_steps_, skipped_steps_);
  if (consecutive_bad_steps_ < config_.train.max_consecutive_bad_steps) return;
  checkpointer_->finish();  // an asynchronous save of good state still completes
  throw Error(fmt::format("{} consecutive steps had a NaN/Inf loss or gradient (last: step {}); stopping",
                          consecutive_bad_steps_, result.step),
              last_checkpoint_step_ >= 0
                  ? fmt::format("the last good checkpoint (step {}) is intact: lower optim.lr or raise "
                                "optim.warmup_steps, then resume with --resume auto",
                                last_checkpoint_step_)
                  : std::string("no checkpoint was written yet; lower optim.lr or raise optim.warmup_steps"));
}

// Every dist.checksum_every steps the ranks compare a checksum of their parameters; a world of
// one has nothing to compare.
void Trainer::check_parameters_agree(int64_t step) {
  const int64_t every = config_.dist.checksum_every;
  if (comm_->size() == 1 || every <= 0 || step % every != 0) return;
  std::vector<int64_t> checksums;
  if (parameters_agree(params_, *control_, &checksums)) return;
  std::string listing;
  for (size_t rank = 0; rank < checksums.size(); ++rank)
    listing += fmt::format("{}rank {}: {:016x}", rank ? ", " : "", rank, uint64_t(checksums[rank]));
  throw Error(
      fmt::format("the ranks' parameters have diverged at step {} (checksums {})", step, listing),
      "ranks must run the same clinfm build, threads and data; rerun with dist.checksum_every=1 to find the "
      "first step, and check for hardware faults on the rank that differs");
}

// One metrics.jsonl line per step; a console line at log steps.
void Trainer::report_progress(const StepResult& result) {
  const int64_t step = result.step;
  run_positions_ += result.positions;
  run_padded_positions_ += result.padded_positions;
  const double tokens_per_s = double(result.positions) / (result.step_ms / 1000.0);  // all ranks' positions
  const double mfu = peak_flops_->mfu(flops_per_token_ * tokens_per_s, step);
  metrics_->write({{"step", double(step)},
                   {"loss", result.loss},
                   {"token_loss", result.token_loss},
                   {"time_loss", result.time_loss},
                   {"lr", result.lr},
                   {"grad_norm", result.grad_norm},
                   {"tokens_per_s", tokens_per_s},
                   {"mfu", mfu},
                   {"data_wait_ms", result.data_wait_ms},
                   {"step_ms", result.step_ms},
                   {"comm_wait_ms", result.comm_wait_ms},
                   {"padding_fraction", double(result.padded_positions) / double(result.positions)},
                   {"skipped", result.skipped ? 1.0 : 0.0},
                   {"skipped_steps", double(skipped_steps_)}});
  if (!is_log_step(step)) return;
  log_info(
      "step {:>6}/{} loss {:.4f} (token {:.4f}, time {:.4f}) lr {:.2e} grad_norm {:.3f} {:.0f} tok/s "
      "MFU {:.1f}% data_wait {:.1f} ms step {:.0f} ms",
      step, config_.train.max_steps, result.loss, result.token_loss, result.time_loss, result.lr,
      result.grad_norm, tokens_per_s, 100 * mfu, result.data_wait_ms, result.step_ms);
}

// Validation every train.validation_every steps and at the last step.
void Trainer::validate_if_due(int64_t step) {
  const int64_t every = config_.train.validation_every;
  if (every <= 0 || (step % every != 0 && step != config_.train.max_steps)) return;
  read_steps();  // the steps' lines before the validation line
  const ValidationResult result = validate();
  last_validation_ = result;
  last_validation_step_ = step;
  log_info(
      "valid {:>6} tuning loss {:.4f} (token {:.4f}, unigram baseline {:.4f}; time {:.4f}) perplexity "
      "{:.2f} top-1 {:.1f}% top-10 {:.1f}% over {} targets",
      step, result.loss, result.token_loss, result.unigram_token_loss, result.time_loss, result.perplexity,
      100 * result.top1, 100 * result.top10, result.targets);
  metrics_->write({{"step", double(step)},
                   {"validation_loss", result.loss},
                   {"validation_token_loss", result.token_loss},
                   {"validation_time_loss", result.time_loss},
                   {"validation_perplexity", result.perplexity},
                   {"validation_top1", result.top1},
                   {"validation_top10", result.top10},
                   {"validation_unigram_token_loss", result.unigram_token_loss}});
}

// The ranks agree whether any of them was asked to stop (or rank 0 lost the run folder's lock), publish an
// asynchronous checkpoint once every rank has written its part, and save at the interval, the end, or on
// preemption.
bool Trainer::at_step_boundary(int64_t step) {
  auto flags = torch::tensor(
      {int64_t(preemption_signal() != 0), int64_t(checkpointer_->busy()), int64_t(lock_.lost())},
      torch::kInt64);
  control_->all_reduce(flags, ReduceOp::kSum);
  if (flags[2].item<int64_t>() > 0) stop_for_lost_lock();  // before anything more is written
  const bool stop = flags[0].item<int64_t>() > 0;
  checkpointer_->publish_if_done(flags[1].item<int64_t>() > 0);
  const bool at_interval = config_.checkpoint.every > 0 && step % config_.checkpoint.every == 0;
  if (at_interval || stop || step == config_.train.max_steps) {
    read_steps();  // the bad-step policy and the skipped-step counts before they are saved
    save_checkpoint(step);
  }
  if (!stop) return false;
  checkpointer_->finish();
  preempted_ = true;
  log_info("preemption signal {} received: stopped at step {} with checkpoint {}; resume with --resume auto",
           preemption_signal() ? preemption_signal() : 0, step, checkpoint_name(step));
  return true;
}

// After the last step: the checkpoint is published, and rank 0 writes the final weights.
void Trainer::finish_run() {
  read_steps();
  checkpointer_->finish();
  log_info("padding: {:.1f}% of input positions were padding",
           100.0 * double(run_padded_positions_) / double(std::max<int64_t>(1, run_positions_)));
  if (world().rank != 0) return;
  const std::string path = (fs::path(config_.run.out_dir) / "model.pt").string();
  save_model(model_, path);
  log_info("weights: {}", path);
}

}  // namespace clinfm
