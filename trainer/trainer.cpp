// Set-up of a run and its training step; run() reads top to bottom: the step, then the parts
// of trainer_parts.cpp.
#include "trainer/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <thread>
#include <type_traits>

#include "common/check.h"
#include "common/config/dump.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/sha256.h"
#include "models/losses.h"
#include "models/model_dims.h"
#include "models/runtime.h"
#include "trainer/comm/launch.h"
#include "trainer/device.h"
#include "trainer/grad_reducer.h"
#include "trainer/optim.h"
#include "trainer/run_formulas.h"
#include "trainer/signals.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// A [rows, cols] tensor on `device` holding `values`. For CUDA the copy goes through pinned
// host memory and does not block the host (the stream orders it before the forward).
template <typename T>
torch::Tensor device_tensor(const std::vector<T>& values, int64_t rows, int64_t cols,
                            const torch::Device& device) {
  const auto dtype = std::is_same_v<T, float> ? torch::kFloat32 : torch::kInt64;
  const torch::Tensor host = torch::from_blob(const_cast<T*>(values.data()), {rows, cols}, dtype);
  if (!device.is_cuda()) return host.clone();
  torch::Tensor pinned = torch::empty({rows, cols}, torch::TensorOptions().dtype(dtype).pinned_memory(true));
  pinned.copy_(host);
  return pinned.to(device, /*non_blocking=*/true);
}

// CPU tensors travel over MPI, CUDA tensors over NCCL. A world of one needs no collectives: auto
// picks the local communicator there, while an explicit mpi or nccl is used even then (one GPU
// can run NCCL's buckets, streams and ZeRO-1 collectives, tests/gpu/train_resume_across_devices.sh).
std::unique_ptr<Communicator> make_communicator(const Config& config, const torch::Device& device) {
  const bool cuda = device.is_cuda();
  const std::string& backend = config.dist.backend;
  if (backend == "nccl" && !cuda)
    throw InputError("dist.backend=nccl needs a CUDA model; this run is on CPU",
                     "use dist.backend=auto or mpi");
  if (backend == "mpi" && cuda)
    throw InputError("dist.backend=mpi cannot reduce CUDA tensors", "use dist.backend=auto or nccl");
  if (world().world_size == 1 && backend == "auto") return make_local_communicator();
#ifdef CLINFM_WITH_CUDA
  if (cuda) return make_nccl_communicator(config.dist.timeout_s);
#endif
  return make_mpi_communicator(config.dist.timeout_s);
}

}  // namespace

Trainer::Trainer(const ResolvedConfig& resolved, const std::string& resume_mode, bool overwrite)
    : config_(resolved.config), config_yaml_(config_to_yaml(resolved.config)) {
  const WorldInfo& world_info = world();
  device_ = choose_device(config_, world_info, visible_gpus());
  use_device(device_, config_.train.tf32);
  install_preemption_handlers();
  threads_ = choose_torch_threads(static_cast<int>(config_.run.threads), world_info.local_size,
                                  static_cast<int>(std::thread::hardware_concurrency()));
  apply_torch_threads(threads_);
  torch::manual_seed(rank_seed(config_.run.seed, world_info.rank));
  load_data();
  build_model();
  comm_ = make_communicator(config_, device_);
  control_ = comm_.get();
  if (comm_->backend() == "nccl") {
    control_owned_ = make_mpi_communicator(config_.dist.timeout_s);
    control_ = control_owned_.get();
  }
  broadcast_parameters(params_, *comm_);
  optimizer_ = make_optimizer(named_params_, config_, *comm_);
  if (optimizer_->sharded()) {
    const auto [begin, end] = optimizer_->state_range();
    int64_t total = 0;
    for (const auto& param : params_) total += param.numel();
    log_info("ZeRO-1: optimizer state of {} of {} parameters on each rank", end - begin, total);
  }
  checkpointer_ = std::make_unique<CheckpointWriter>(config_.run.out_dir, config_.checkpoint, *control_);
  lock_run_folder();               // before anything in the folder is read or written
  resume(resume_mode, overwrite);  // restores the state and sets start_step_ (0 when starting fresh)
  verify_shards_once();
  loader_ = std::make_unique<BatchLoader>(*dataset_, loader_options(/*training=*/true));
  peak_flops_ = std::make_unique<PeakFlops>(config_.train.peak_tflops, world_info.world_size,
                                            [device = device_, bf16 = config_.train.precision == "bf16"] {
                                              return measure_device_matmul_flops(device, bf16);
                                            });
  flops_per_token_ = model_->dims.training_flops_per_token(config_.data.seq_len);
  open_run_folder();
  log_info("model: {} on {}{}, {} communicator", model_->dims.describe(), device_.str(),
           config_.train.precision == "bf16" ? " (bf16 autocast)" : "",
           comm_->backend() + std::string(control_owned_ ? " (host agreements over mpi)" : ""));
  log_info(
      "data: {} training patients, {} micro-batches of {} per rank and step, {} threads per rank; MFU peak "
      "{}",
      loader_->patients(), loader_->accumulation_steps(), config_.train.micro_batch_size, threads_,
      peak_flops_->describe());
  const CheckpointConfig& ck = config_.checkpoint;
  if (ck.keep_best && (ck.every <= 0 || ck.every % config_.train.validation_every != 0))
    log_warn(
        "checkpoint.keep_best: checkpoint.every={} is not a multiple of train.validation_every={}: only the "
        "checkpoints at steps that are multiples of both (and the last) have a tuning loss to compare",
        ck.every, config_.train.validation_every);
}

Trainer::~Trainer() = default;

// The data set, the targets never predicted, and the unigram baseline of validation.
void Trainer::load_data() {
  dataset_ = std::make_unique<Dataset>(config_.data.dataset);
  manifest_sha256_ = sha256_hex(read_file((fs::path(config_.data.dataset) / "manifest.json").string()));
  const Vocabulary& vocab = dataset_->vocab();
  for (const auto& code : config_.train.ignore_target_codes) {
    const int32_t token = vocab.find(code);
    if (token < 0) {
      throw InputError(
          fmt::format("train.ignore_target_codes: '{}' is not a token of {}", code, config_.data.dataset),
          "`clinfm inspect DATASET --json` lists the data set's codes");
    }
    ignored_targets_.push_back(token);
  }
  double total_events = 0;
  for (int32_t token = 0; token < vocab.size(); ++token)
    total_events += double(vocab.token(token).train_events) + 1.0;
  for (int32_t token = 0; token < vocab.size(); ++token)
    unigram_nll_.push_back(-std::log((double(vocab.token(token).train_events) + 1.0) / total_events));
}

void Trainer::build_model() {
  const Vocabulary& vocab = dataset_->vocab();
  const ModelDims dims = resolve_model_dims(config_.model, vocab.size(), vocab.max_value_bins() + 1);
  model_ = ClinicalTransformer(dims);
  model_->reset_parameters(static_cast<uint64_t>(config_.run.seed));
  model_->to(device_);
  for (const auto& item : model_->named_parameters()) {
    named_params_.emplace_back(item.key(), item.value());
    if (!item.value().requires_grad()) continue;
    param_names_.push_back(item.key());
    params_.push_back(item.value());
  }
}

// Rank 0 writes the resolved config and continues metrics.jsonl from the step the run starts at.
void Trainer::open_run_folder() {
  std::string metrics_path;
  if (world().rank == 0) {
    fs::create_directories(config_.run.out_dir);
    write_file_atomic((fs::path(config_.run.out_dir) / "config.yaml").string(),
                      fmt::format("# resolved config of run '{}', hash sha256:{}\n{}", config_.run.name,
                                  config_hash(config_), config_yaml_));
    const std::string path = (fs::path(config_.run.out_dir) / "metrics.jsonl").string();
    // A resumed run continues the file from its checkpoint: lines of steps after it (written
    // before the run was killed) would be duplicates of what this run computes again.
    truncate_metrics_after(path, start_step_);
    if (config_.log.jsonl) metrics_path = path;
  }
  metrics_ = std::make_unique<MetricsWriter>(metrics_path);
}

// Training reads this rank's slice of each global batch, prefetched; validation reads the same
// tuning batches every time, in the calling thread.
LoaderOptions Trainer::loader_options(bool training) const {
  LoaderOptions options;
  options.split = training ? config_.data.train_split : "tuning";
  options.seq_len = config_.data.seq_len;
  options.micro_batch = config_.train.micro_batch_size;
  options.ignored_targets = ignored_targets_;
  if (training) {
    options.global_batch = config_.train.global_batch_size;
    options.rank = world().rank;
    options.world_size = world().world_size;
    options.seed = static_cast<uint64_t>(config_.run.seed);
    options.prefetch_batches = config_.data.prefetch_batches;
    options.start_step = start_step_;
  } else {
    options.global_batch = config_.train.micro_batch_size;
    options.seed = static_cast<uint64_t>(config_.run.seed) + 17;
    options.prefetch_batches = 0;
  }
  return options;
}

StepResult Trainer::run() {
  last_read_ = StepResult{};
  last_validation_ = ValidationResult{};
  last_validation_step_ = -1;
  preempted_ = false;
  run_positions_ = run_padded_positions_ = 0;
  if (start_step_ >= config_.train.max_steps)
    log_info("the run is already at step {} of train.max_steps={}: nothing to train", start_step_,
             config_.train.max_steps);
  for (int64_t step = start_step_; step < config_.train.max_steps; ++step) {
    const auto started = Clock::now();
    StepResult result = train_step(step);
    result.step = step + 1;
    result.step_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    result.data_wait_ms = loader_->last_wait_ms();
    pending_.push_back(std::move(result));
    if (is_log_step(step + 1)) read_steps();  // the bad-step policy, metrics.jsonl, the console line
    check_parameters_agree(step + 1);
    validate_if_due(step + 1);
    if (at_step_boundary(step + 1)) return last_read_;  // preempted, after a checkpoint
  }
  finish_run();
  return last_read_;
}

StepResult Trainer::train_step(int64_t step) {
  model_->train();
  const std::vector<HostBatch> micro_batches = loader_->next_step();
  StepResult result = count_targets(micro_batches);
  // Normalised by the targets of the whole global batch, so that gradients summed over
  // micro-batches and ranks are the gradient of the global mean loss.
  const double global_targets = std::max<int64_t>(1, result.targets);
  for (auto& param : params_) param.mutable_grad() = torch::Tensor();  // set_to_none
  // Token and time NLL sums, accumulated where the model runs. Nothing of the step is read back
  // to the host here: the skip decision is taken on the device (the optimizer's step), and
  // read_steps() copies the values of the steps since the last read at once.
  torch::Tensor nll = torch::zeros({2}, torch::TensorOptions().dtype(torch::kFloat64).device(device_));
  for (size_t index = 0; index < micro_batches.size(); ++index) {
    const ModelBatch batch = to_device(micro_batches[index]);
    LossSums sums = forward_loss_sums(batch);
    if (loss_hook_) loss_hook_(step + 1, sums);
    const torch::Tensor loss = weighted_loss(config_.model, sums.token_nll, sums.time_nll) / global_targets;
    optimizer_->begin_micro_step(index + 1 == micro_batches.size());
    loss.backward();
    nll += torch::stack({sums.token_nll.detach(), sums.time_nll.detach()}).to(torch::kFloat64);
  }
  result.comm_wait_ms = optimizer_->finish_backward();
  comm_->sum_loss_sums(nll);  // the same sums on every rank: every rank takes the same decision to skip
  const torch::Tensor loss_finite = weighted_loss(config_.model, nll[0], nll[1]).isfinite();
  result.lr = learning_rate(step, config_.optim, config_.train.max_steps);
  const torch::Tensor grad_norm = optimizer_->step(result.lr, config_.optim.grad_clip, loss_finite);
  result.comm_wait_ms = optimizer_->comm_wait_ms();
  result.device_values = torch::cat({nll, grad_norm.reshape({1}).to(nll.device())});
  return result;
}

// Targets, positions and padding of the step over every rank.
StepResult Trainer::count_targets(const std::vector<HostBatch>& micro_batches) {
  StepResult result;
  for (const auto& batch : micro_batches) {
    result.targets += batch.targets_kept;
    result.positions += batch.rows * batch.seq_len;
    result.padded_positions += batch.rows * batch.seq_len - batch.positions_used;
  }
  auto counts = torch::tensor({result.targets, result.positions, result.padded_positions}, torch::kInt64);
  control_->all_reduce(counts, ReduceOp::kSum);
  result.targets = counts[0].item<int64_t>();
  result.positions = counts[1].item<int64_t>();
  result.padded_positions = counts[2].item<int64_t>();
  return result;
}

// The forward pass in the run's precision; the loss sums in float32.
LossSums Trainer::forward_loss_sums(const ModelBatch& batch) {
  const AutocastScope autocast(config_.train.precision == "bf16");
  return loss_sums(model_->forward(batch), batch);
}

ModelBatch Trainer::to_device(const HostBatch& batch) const {
  const int64_t rows = batch.rows, cols = batch.seq_len;
  ModelBatch model_batch;
  model_batch.tokens = device_tensor(batch.tokens, rows, cols, device_);
  model_batch.value_bins = device_tensor(batch.value_bins, rows, cols, device_);
  model_batch.targets = device_tensor(batch.targets, rows, cols, device_);
  model_batch.ages = device_tensor(batch.ages, rows, cols, device_);
  model_batch.target_dt = device_tensor(batch.target_dt, rows, cols, device_);
  model_batch.loss_mask = device_tensor(batch.loss_mask, rows, cols, device_);
  return model_batch;
}

}  // namespace clinfm
