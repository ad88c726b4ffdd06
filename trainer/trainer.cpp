#include "trainer/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <thread>

#include "common/check.h"
#include "common/config/dump.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/sha256.h"
#include "models/losses.h"
#include "models/model_dims.h"
#include "models/runtime.h"
#include "models/weights_io.h"
#include "trainer/checkpoint/layout.h"
#include "trainer/comm/launch.h"
#include "trainer/signals.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Test-only fault injection: CLINFM_FAULT_NAN_STEPS="3,4" makes the loss of those (1-based)
// steps NaN on rank 0, as a numerical blow-up would.
bool injected_nan_step(int64_t step) {
  const char* spec = std::getenv("CLINFM_FAULT_NAN_STEPS");
  if (spec == nullptr) return false;
  for (const char* p = spec; *p;) {
    char* end = nullptr;
    const long long v = std::strtoll(p, &end, 10);
    if (end == p) break;
    if (v == step) return true;
    p = (*end == ',') ? end + 1 : end;
  }
  return false;
}

torch::Tensor host_tensor(const std::vector<int64_t>& v, int64_t rows, int64_t cols) {
  return torch::from_blob(const_cast<int64_t*>(v.data()), {rows, cols}, torch::kInt64).clone();
}
torch::Tensor host_tensor(const std::vector<float>& v, int64_t rows, int64_t cols) {
  return torch::from_blob(const_cast<float*>(v.data()), {rows, cols}, torch::kFloat32).clone();
}

}  // namespace

Trainer::Trainer(const ResolvedConfig& resolved, const std::string& resume_mode)
    : config_(resolved.config), config_yaml_(config_to_yaml(resolved.config)) {
  const Config& c = config_;
  const WorldInfo& w = world();
  if (c.run.device == "cuda") {
    throw NotBuiltError("run.device=cuda: the CUDA training path lands with issue #8",
                        "use run.device=cpu (or auto) on this build");
  }
  if (c.train.precision == "bf16") {
    throw InputError("train.precision=bf16 needs CUDA; on CPU clinfm trains in fp32",
                     "set train.precision=fp32");
  }
  install_preemption_handlers();
  threads_ = choose_torch_threads(static_cast<int>(c.run.threads), w.local_size,
                                  static_cast<int>(std::thread::hardware_concurrency()));
  apply_torch_threads(threads_);
  torch::manual_seed(static_cast<uint64_t>(c.run.seed) + 1000003ULL * static_cast<uint64_t>(w.rank));

  dataset_ = std::make_unique<Dataset>(c.data.dataset);
  manifest_sha256_ = sha256_hex(read_file((fs::path(c.data.dataset) / "manifest.json").string()));
  const Vocabulary& vocab = dataset_->vocab();
  for (const auto& code : c.train.ignore_target_codes) {
    const int32_t token = vocab.find(code);
    if (token < 0) {
      throw InputError(
          fmt::format("train.ignore_target_codes: '{}' is not a token of {}", code, c.data.dataset),
          "`clinfm inspect DATASET --json` lists the data set's codes");
    }
    ignored_targets_.push_back(token);
  }
  double total_events = 0;
  for (int32_t t = 0; t < vocab.size(); ++t) total_events += double(vocab.token(t).train_events) + 1.0;
  for (int32_t t = 0; t < vocab.size(); ++t)
    unigram_nll_.push_back(-std::log((double(vocab.token(t).train_events) + 1.0) / total_events));
  const ModelDims dims =
      resolve_model_dims(c.model, vocab.size(), vocab.max_value_bins() + 1, sdpa_available());
  model_ = ClinicalTransformer(dims);
  model_->reset_parameters(static_cast<uint64_t>(c.run.seed));
  model_->to(device_);
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (const auto& item : model_->named_parameters()) {
    named.emplace_back(item.key(), item.value());
    if (!item.value().requires_grad()) continue;
    param_names_.push_back(item.key());
    params_.push_back(item.value());
  }
  if (c.dist.backend == "nccl") {
    throw InputError("dist.backend=nccl needs a CUDA model; this run is on CPU",
                     "use dist.backend=auto or mpi");
  }
  if (w.world_size > 1) {
    comm_ = make_mpi_communicator(c.dist.timeout_s);
    broadcast_parameters(params_, *comm_);
    if (c.dist.zero1) {
      zero1_ = std::make_unique<Zero1AdamW>(named, c.optim, *comm_);
      log_info("ZeRO-1: optimizer state of {} of {} parameters on each rank", zero1_->state_elements() / 2,
               zero1_->total_elements());
    } else {
      reducer_ = std::make_unique<GradReducer>(params_, *comm_, c.dist.bucket_mb, c.dist.overlap);
    }
  }
  if (!zero1_) optimizer_ = std::make_unique<AdamW>(named, c.optim);

  checkpointer_ = std::make_unique<CheckpointWriter>(c.run.out_dir, c.checkpoint, comm_.get());
  resume(resume_mode);  // restores the state and sets start_step_ (0 when starting fresh)
  make_train_loader(start_step_);

  peak_flops_ = c.train.peak_tflops > 0 ? c.train.peak_tflops * 1e12 : measure_matmul_flops() * w.local_size;
  if (w.rank == 0) {
    fs::create_directories(c.run.out_dir);
    write_file_atomic((fs::path(c.run.out_dir) / "config.yaml").string(),
                      fmt::format("# resolved config of run '{}', hash sha256:{}\n{}", c.run.name,
                                  config_hash(c), config_yaml_));
    const std::string metrics_path = (fs::path(c.run.out_dir) / "metrics.jsonl").string();
    // A resumed run continues the file from its checkpoint: lines of steps after it (written
    // before the run was killed) would be duplicates of what this run computes again.
    truncate_metrics_after(metrics_path, start_step_);
    metrics_ = std::make_unique<MetricsWriter>(c.log.jsonl ? metrics_path : "");
  }
  log_info("model: {}", dims.describe());
  log_info(
      "data: {} training patients, {} micro-batches of {} per rank and step, {} threads per rank, "
      "peak {:.1f} GFLOP/s per rank{}",
      loader_->patients(), loader_->accumulation_steps(), c.train.micro_batch_size, threads_,
      peak_flops_ / w.local_size / 1e9, c.train.peak_tflops > 0 ? " (configured)" : " (measured sgemm)");
}

Trainer::~Trainer() = default;

void Trainer::make_train_loader(int64_t start_step) {
  const Config& c = config_;
  LoaderOptions lo;
  lo.split = "train";
  lo.seq_len = c.data.seq_len;
  lo.micro_batch = c.train.micro_batch_size;
  lo.global_batch = c.train.global_batch_size;
  lo.rank = world().rank;
  lo.world_size = world().world_size;
  lo.seed = static_cast<uint64_t>(c.run.seed);
  lo.ignored_targets = ignored_targets_;
  lo.start_step = start_step;
  const int64_t accumulation = std::max<int64_t>(
      1, c.train.global_batch_size / std::max<int64_t>(1, int64_t(lo.world_size) * c.train.micro_batch_size));
  lo.prefetch_steps =
      c.data.prefetch_batches == 0 ? 0 : std::max<int64_t>(1, c.data.prefetch_batches / accumulation);
  loader_ = std::make_unique<BatchLoader>(*dataset_, lo);
}

ModelBatch Trainer::to_device(const HostBatch& b) const {
  ModelBatch m;
  m.tokens = host_tensor(b.tokens, b.rows, b.seq_len).to(device_);
  m.value_bins = host_tensor(b.value_bins, b.rows, b.seq_len).to(device_);
  m.targets = host_tensor(b.targets, b.rows, b.seq_len).to(device_);
  m.ages = host_tensor(b.ages, b.rows, b.seq_len).to(device_);
  m.target_dt = host_tensor(b.target_dt, b.rows, b.seq_len).to(device_);
  m.loss_mask = host_tensor(b.loss_mask, b.rows, b.seq_len).to(device_);
  return m;
}

StepResult Trainer::train_step(int64_t step) {
  const Config& c = config_;
  model_->train();
  const std::vector<HostBatch> micro = loader_->next_step();
  StepResult r;
  for (const auto& b : micro) {
    r.targets += b.targets_kept;
    r.positions += b.rows * b.seq_len;
    r.padded_positions += b.rows * b.seq_len - b.positions_used;
  }
  // The loss is normalised by the targets of the whole global batch, so that gradients summed
  // over micro-batches and ranks are the gradient of the global mean loss.
  if (comm_) {
    auto counts = torch::tensor({r.targets, r.positions, r.padded_positions}, torch::kInt64);
    comm_->all_reduce(counts, ReduceOp::kSum);
    r.targets = counts[0].item<int64_t>();
    r.positions = counts[1].item<int64_t>();
    r.padded_positions = counts[2].item<int64_t>();
  }
  const double global_targets = std::max<int64_t>(1, r.targets);
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();  // set_to_none, as AdamW::zero_grad
  double token_sum = 0, time_sum = 0;
  const bool poison = injected_nan_step(step + 1) && world().rank == 0;
  for (size_t m = 0; m < micro.size(); ++m) {
    const ModelBatch batch = to_device(micro[m]);
    const LossSums s = loss_sums(model_->forward(batch), batch);
    auto loss =
        (c.model.token_loss_weight * s.token_nll + c.model.time_loss_weight * s.time_nll) / global_targets;
    if (poison) loss = loss * std::numeric_limits<double>::quiet_NaN();
    if (reducer_) reducer_->begin_micro_step(m + 1 == micro.size());
    loss.backward();
    token_sum += poison ? std::numeric_limits<double>::quiet_NaN() : s.token_nll.item<double>();
    time_sum += s.time_nll.item<double>();
  }
  if (reducer_) r.comm_wait_ms = reducer_->finish();
  if (comm_) {
    auto sums = torch::tensor({token_sum, time_sum}, torch::kFloat32);
    comm_->all_reduce(sums, ReduceOp::kSum);
    token_sum = sums[0].item<double>();
    time_sum = sums[1].item<double>();
  }
  r.token_loss = token_sum / global_targets;
  r.time_loss = time_sum / global_targets;
  r.loss = c.model.token_loss_weight * r.token_loss + c.model.time_loss_weight * r.time_loss;
  r.lr = learning_rate(step, c.optim, c.train.max_steps);
  // The loss sums and (after the all-reduce) the gradients are the same on every rank, so every
  // rank takes the same decision to skip.
  if (!std::isfinite(r.loss)) {
    r.skipped = true;
    r.grad_norm = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  if (zero1_) {
    const auto started = std::chrono::steady_clock::now();
    r.grad_norm = zero1_->step(r.lr, c.optim.grad_clip);
    r.comm_wait_ms = ms_since(started);  // reduce-scatter, update and all-gather: none of it overlapped
    r.skipped = !std::isfinite(r.grad_norm);
    return r;
  }
  r.grad_norm = clip_grad_norm(params_, c.optim.grad_clip);
  if (!std::isfinite(r.grad_norm)) {
    r.skipped = true;
    return r;
  }
  optimizer_->step(r.lr);
  return r;
}

void Trainer::check_parameters_agree(int64_t step) {
  std::vector<int64_t> checksums;
  if (parameters_agree(params_, *comm_, &checksums)) return;
  std::string list;
  for (size_t r = 0; r < checksums.size(); ++r)
    list += fmt::format("{}rank {}: {:016x}", r ? ", " : "", r, uint64_t(checksums[r]));
  throw Error(
      fmt::format("the ranks' parameters have diverged at step {} (checksums {})", step, list),
      "ranks must run the same clinfm build, threads and data; rerun with dist.checksum_every=1 to find the "
      "first step, and check for hardware faults on the rank that differs");
}

EvalResult Trainer::evaluate() {
  const Config& c = config_;
  LoaderOptions lo;
  lo.split = "tuning";
  lo.seq_len = c.data.seq_len;
  lo.micro_batch = c.train.micro_batch_size;
  lo.global_batch = c.train.micro_batch_size;
  lo.seed = static_cast<uint64_t>(c.run.seed) + 17;
  lo.prefetch_steps = 0;
  lo.ignored_targets = ignored_targets_;
  BatchLoader tuning(*dataset_, lo);
  torch::NoGradGuard no_grad;
  model_->eval();
  double token = 0, time = 0, top1 = 0, top10 = 0, targets = 0, unigram = 0;
  for (int64_t i = 0; i < c.train.eval_batches; ++i) {
    for (const auto& b : tuning.next_step()) {
      for (size_t k = 0; k < b.targets.size(); ++k)
        if (b.loss_mask[k] > 0) unigram += unigram_nll_[static_cast<size_t>(b.targets[k])];
      const ModelBatch batch = to_device(b);
      const ModelOutput out = model_->forward(batch);
      const LossSums s = loss_sums(out, batch);
      token += s.token_nll.item<double>();
      time += s.time_nll.item<double>();
      targets += s.targets.item<double>();
      const auto top = std::get<1>(out.logits.topk(10, -1));                     // [B, T, 10]
      const auto hit = top.eq(batch.targets.unsqueeze(-1)).to(torch::kFloat32);  // [B, T, 10]
      top1 += (hit.select(-1, 0) * batch.loss_mask).sum().item<double>();
      top10 += (hit.sum(-1) * batch.loss_mask).sum().item<double>();
    }
  }
  EvalResult e;
  e.targets = static_cast<int64_t>(targets);
  const double n = std::max(1.0, targets);
  e.token_loss = token / n;
  e.time_loss = time / n;
  e.loss = c.model.token_loss_weight * e.token_loss + c.model.time_loss_weight * e.time_loss;
  e.perplexity = std::exp(e.token_loss);
  e.unigram_token_loss = unigram / n;
  e.top1 = top1 / n;
  e.top10 = top10 / n;
  return e;
}

StepResult Trainer::run() {
  const Config& c = config_;
  const double flops_per_token = model_->dims.training_flops_per_token(c.data.seq_len);
  StepResult last;
  last_eval_ = EvalResult{};
  preempted_ = false;
  int64_t padded = 0, positions = 0;
  if (start_step_ >= c.train.max_steps)
    log_info("the run is already at step {} of train.max_steps={}: nothing to train", start_step_,
             c.train.max_steps);
  for (int64_t step = start_step_; step < c.train.max_steps; ++step) {
    const auto started = Clock::now();
    last = train_step(step);
    const double step_ms = ms_since(started);
    positions += last.positions;
    padded += last.padded_positions;
    if (last.skipped) {
      ++skipped_steps_;
      ++consecutive_bad_steps_;
      log_warn(
          "step {}: loss {} / gradient norm {} is not finite: step skipped (no update; {} in a row, {} in "
          "all)",
          step + 1, last.loss, last.grad_norm, consecutive_bad_steps_, skipped_steps_);
      if (consecutive_bad_steps_ >= c.train.max_consecutive_bad_steps) {
        checkpointer_->finish();  // an asynchronous save of good state still completes
        throw Error(
            fmt::format("{} consecutive steps had a NaN/Inf loss or gradient (last: step {}); stopping",
                        consecutive_bad_steps_, step + 1),
            last_checkpoint_step_ >= 0
                ? fmt::format("the last good checkpoint (step {}) is intact: lower optim.lr or raise "
                              "optim.warmup_steps, then resume with --resume auto",
                              last_checkpoint_step_)
                : std::string("no checkpoint was written yet; lower optim.lr or raise optim.warmup_steps"));
      }
    } else {
      consecutive_bad_steps_ = 0;
    }
    if (comm_ && c.dist.checksum_every > 0 && (step + 1) % c.dist.checksum_every == 0)
      check_parameters_agree(step + 1);
    const bool log_step =
        (step + 1) % c.log.every == 0 || step == start_step_ || step + 1 == c.train.max_steps;
    const double tokens_per_s = double(last.positions) / (step_ms / 1000.0);  // all ranks' positions
    const double mfu = flops_per_token * tokens_per_s / peak_flops_;
    if (metrics_) {
      metrics_->write({{"step", double(step + 1)},
                       {"loss", last.loss},
                       {"token_loss", last.token_loss},
                       {"time_loss", last.time_loss},
                       {"lr", last.lr},
                       {"grad_norm", last.grad_norm},
                       {"tokens_per_s", tokens_per_s},
                       {"mfu", mfu},
                       {"data_wait_ms", loader_->last_wait_ms()},
                       {"step_ms", step_ms},
                       {"comm_wait_ms", last.comm_wait_ms},
                       {"padding_fraction", double(last.padded_positions) / double(last.positions)},
                       {"skipped", last.skipped ? 1.0 : 0.0},
                       {"skipped_steps", double(skipped_steps_)}});
    }
    if (log_step) {
      log_info(
          "step {:>6}/{} loss {:.4f} (token {:.4f}, time {:.4f}) lr {:.2e} grad_norm {:.3f} {:.0f} tok/s "
          "MFU {:.1f}% data_wait {:.1f} ms step {:.0f} ms",
          step + 1, c.train.max_steps, last.loss, last.token_loss, last.time_loss, last.lr, last.grad_norm,
          tokens_per_s, 100 * mfu, loader_->last_wait_ms(), step_ms);
    }
    if (c.train.eval_every > 0 && ((step + 1) % c.train.eval_every == 0 || step + 1 == c.train.max_steps)) {
      const EvalResult e = evaluate();
      last_eval_ = e;
      log_info(
          "eval  {:>6} tuning loss {:.4f} (token {:.4f}, unigram baseline {:.4f}; time {:.4f}) perplexity "
          "{:.2f} top-1 {:.1f}% top-10 {:.1f}% over {} targets",
          step + 1, e.loss, e.token_loss, e.unigram_token_loss, e.time_loss, e.perplexity, 100 * e.top1,
          100 * e.top10, e.targets);
      if (metrics_) {
        metrics_->write({{"step", double(step + 1)},
                         {"eval_loss", e.loss},
                         {"eval_token_loss", e.token_loss},
                         {"eval_time_loss", e.time_loss},
                         {"eval_perplexity", e.perplexity},
                         {"eval_top1", e.top1},
                         {"eval_top10", e.top10},
                         {"eval_unigram_token_loss", e.unigram_token_loss}});
      }
    }
    // Step boundary: the ranks agree whether any of them was asked to stop, and publish an
    // asynchronous checkpoint once every rank has written its part.
    auto flags =
        torch::tensor({int64_t(preemption_signal() != 0), int64_t(checkpointer_->busy())}, torch::kInt64);
    if (comm_) comm_->all_reduce(flags, ReduceOp::kSum);
    const bool stop = flags[0].item<int64_t>() > 0;
    checkpointer_->publish_if_done(flags[1].item<int64_t>() > 0);
    const bool at_interval = c.checkpoint.every > 0 && (step + 1) % c.checkpoint.every == 0;
    if (at_interval || stop || step + 1 == c.train.max_steps) save_checkpoint(step + 1);
    if (stop) {
      checkpointer_->finish();
      preempted_ = true;
      log_info(
          "preemption signal {} received: stopped at step {} with checkpoint {}; resume with --resume auto",
          preemption_signal() ? preemption_signal() : 0, step + 1, checkpoint_name(step + 1));
      return last;
    }
  }
  checkpointer_->finish();
  log_info("padding: {:.1f}% of input positions were padding",
           100.0 * double(padded) / double(std::max<int64_t>(1, positions)));
  if (world().rank == 0) {
    const std::string path = (fs::path(c.run.out_dir) / "model.pt").string();
    save_model(model_, path);
    log_info("weights: {}", path);
  }
  return last;
}

}  // namespace clinfm
