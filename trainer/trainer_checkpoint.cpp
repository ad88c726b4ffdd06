// The Trainer's side of checkpoints: which state goes into a checkpoint, and how a run is
// restored from one. The folder layout, verification and the collective writer live in
// trainer/checkpoint/; this file knows the Trainer's members.
// Same world size: everything is restored (weights, AdamW moments and update count, every
// rank's generator, the step, the skip counters), so the resumed run is bitwise the
// uninterrupted one. Another world size: the optimizer vector is re-cut for the new ranks
// (with or without ZeRO-1) and the global sample order continues; each rank's generator is
// reseeded from (seed, rank, step) because generator states do not map across world sizes.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "common/config/dump.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "models/weights_io.h"
#include "trainer/checkpoint/layout.h"
#include "trainer/checkpoint/resume_policy.h"
#include "trainer/checkpoint/state_io.h"
#include "trainer/comm/launch.h"
#include "trainer/run_formulas.h"
#include "trainer/trainer.h"

#ifndef CLINFM_VERSION
#define CLINFM_VERSION "dev"
#endif

namespace clinfm {
namespace fs = std::filesystem;
void Trainer::resume(const std::string& mode, bool overwrite) {
  start_step_ = 0;
  if (overwrite && (mode == "auto" || mode == "latest"))
    throw InputError(
        fmt::format("--overwrite starts a fresh run; it cannot be combined with --resume {}", mode),
        "drop --overwrite to continue the run, or --resume to start over");
  // Rank 0 chooses (and verifies checksums); every rank fails the same way when it cannot.
  std::string chosen;
  if (mode != "none") {
    run_on_rank0([&] {
      const ResumeChoice choice = choose_checkpoint(config_.run.out_dir, mode);
      for (const auto& w : choice.warnings) log_warn("{}", w);
      chosen = choice.dir;
    });
    chosen = broadcast_text_from_rank0(chosen);
    if (chosen.empty())
      log_info("--resume {}: no checkpoint under {}: starting fresh", mode,
               checkpoints_dir(config_.run.out_dir));
  }
  claim_run_folder_if_new(chosen, overwrite);
  if (!chosen.empty()) restore(chosen);
  if (run_id_.empty()) run_id_ = new_run_id();  // only rank 0's is written (state.json)
  checkpointer_->set_run_id(run_id_);
}

void Trainer::restore(const std::string& dir) {
  const WorldInfo& w = world();
  const CheckpointMeta meta = read_checkpoint_meta(dir);
  const ResolvedConfig saved = resolve_config((fs::path(dir) / "config.yaml").string(), {});
  check_resume_compatible(saved.config, config_, dir);
  if (meta.dataset_manifest_sha256 != manifest_sha256_ || meta.vocab_sha256 != dataset_->vocab_sha256()) {
    throw InputError(
        fmt::format(
            "cannot resume from {}: data set {} is not the one the run was trained on (manifest sha256 "
            "{} there, {} here; vocabulary {} there, {} here)",
            dir, config_.data.dataset, meta.dataset_manifest_sha256.substr(0, 16),
            manifest_sha256_.substr(0, 16), meta.vocab_sha256.substr(0, 16),
            dataset_->vocab_sha256().substr(0, 16)),
        "point data.dataset at the data set of the run (" + saved.config.data.dataset + ")");
  }
  // Weights.
  {
    const std::string path = (fs::path(dir) / "model.pt").string();
    torch::serialize::InputArchive archive;
    try {
      archive.load_from(path, device_);  // a checkpoint of either device type, moved to this one
      model_->load(archive);
    } catch (const std::exception& e) {
      throw InputError(fmt::format("{}: cannot load the weights into this model: {}", path,
                                   std::string(e.what()).substr(0, 300)));
    }
  }
  // Optimizer state: the range this rank keeps, from however many files the run wrote.
  std::vector<int64_t> numels;
  for (const auto& param : params_) numels.push_back(param.numel());
  std::vector<std::string> files;
  for (int64_t file = 0; file < meta.optimizer_files; ++file)
    files.push_back((fs::path(dir) / rank_file("optimizer", int(file))).string());
  const auto [begin, end] = optimizer_->state_range();
  optimizer_->load_state(read_optimizer_range(files, begin, end, param_names_, numels, dir));
  restore_generators(dir, meta);
  start_step_ = meta.step;
  run_id_ = meta.run_id;
  if (run_id_.empty() && w.rank == 0)
    log_info(
        "{} has no run id (written by an older clinfm): the older checkpoints of the run are left to you, "
        "retention only removes those written from now on",
        dir);
  skipped_steps_ = meta.skipped_steps;
  consecutive_bad_steps_ = meta.consecutive_bad_steps;
  last_checkpoint_step_ = meta.step;
  for (const ConfigChange& change : diff_configs(saved.config, config_))
    log_info("resume: {} changed from {} to {}", change.key, change.checkpoint_value, change.new_value);
  log_info("resumed from {} at step {} ({} samples consumed, {} ranks then, {} now)", dir, meta.step,
           meta.consumed_samples, meta.world_size, w.world_size);
}

// Each rank's generator states when the world size is the checkpoint's; otherwise reseeded from
// (seed, rank, step), since the states of N ranks do not map onto M.
void Trainer::restore_generators(const std::string& dir, const CheckpointMeta& meta) {
  const WorldInfo& w = world();
  const std::string rng = (fs::path(dir) / rank_file("rng", w.rank)).string();
  if (meta.world_size == w.world_size && fs::exists(rng)) {
    if (!set_generator_states(read_generator_states_file(rng), device_)) {
      // Written on the CPU, resumed on a GPU: the CPU stream continues, the CUDA one starts anew.
      reseed_generator(device_, static_cast<uint64_t>(rank_seed(config_.run.seed, w.rank, meta.step)));
      log_info(
          "{} has no CUDA generator state (written on the CPU): the CUDA generator of {} is "
          "reseeded",
          rng, device_.str());
    }
  } else {
    torch::manual_seed(rank_seed(config_.run.seed, w.rank, meta.step));
    log_warn(
        "resuming {} rank(s) from a checkpoint of {}: random streams reseeded (dropout differs from the "
        "uninterrupted run; the sample order does not)",
        w.world_size, meta.world_size);
  }
}

std::vector<CheckpointFile> Trainer::checkpoint_files(int64_t step) {
  const WorldInfo& w = world();
  std::vector<CheckpointFile> files;
  // Asynchronous: the weights and the optimizer state are copied now (the file functions run on
  // the writer's thread while training goes on). Synchronous: training waits, so each file's
  // function serialises the live tensors (SnapshotMode::kShare: no copy on the host; a device's
  // are copied to the host on the writer's thread of that file, in parallel).
  const bool copy_now = config_.checkpoint.async;
  if (w.rank == 0) {
    const ModelDims dims = model_->dims;
    if (copy_now) {
      auto weights = std::make_shared<ModuleSnapshot>(snapshot_module(*model_));
      files.push_back(
          {"model.pt", [weights, dims](const ByteWriter& out) { write_weights(*weights, dims, out); }});
    } else {
      files.push_back({"model.pt", [this, dims](const ByteWriter& out) {
                         write_weights(snapshot_module(*model_, SnapshotMode::kShare), dims, out);
                       }});
    }
  }
  // A sharded optimizer writes one file per rank, a replicated one a single file from rank 0.
  const bool sharded = optimizer_->sharded();
  if (sharded || w.rank == 0) {
    const std::string name = rank_file("optimizer", sharded ? w.rank : 0);
    if (copy_now) {
      auto range = std::make_shared<OptimizerRange>(optimizer_->state(SnapshotMode::kCopy));
      files.push_back({name, [range](const ByteWriter& out) { write_optimizer_range(*range, out); }});
    } else {
      files.push_back({name, [this](const ByteWriter& out) {
                         write_optimizer_range(optimizer_->state(SnapshotMode::kShare), out);
                       }});
    }
  }
  files.push_back(bytes_file(rank_file("rng", w.rank), generator_states_bytes(generator_states(device_))));
  if (w.rank == 0) {
    CheckpointMeta meta;
    meta.step = step;
    meta.consumed_samples = step * config_.train.global_batch_size;
    meta.optimizer_updates = optimizer_->updates();
    meta.skipped_steps = skipped_steps_;
    meta.consecutive_bad_steps = consecutive_bad_steps_;
    meta.world_size = w.world_size;
    meta.zero1 = sharded;
    meta.optimizer_files = sharded ? w.world_size : 1;
    meta.global_batch_size = config_.train.global_batch_size;
    meta.config_hash = config_hash(config_);
    meta.dataset_manifest_sha256 = manifest_sha256_;
    meta.vocab_sha256 = dataset_->vocab_sha256();
    meta.clinfm_version = CLINFM_VERSION;
    meta.run_id = run_id_;
    if (last_validation_step_ == step && std::isfinite(last_validation_.loss))
      meta.validation_loss = last_validation_.loss;
    const std::string state = meta.to_json().dump(2) + "\n";
    const std::string config = fmt::format("# resolved config of run '{}' at step {}, hash sha256:{}\n{}",
                                           config_.run.name, step, meta.config_hash, config_yaml_);
    files.push_back(bytes_file("state.json", state));
    files.push_back(bytes_file("config.yaml", config));
  }
  return files;
}

void Trainer::save_checkpoint(int64_t step) {
  if (step == last_checkpoint_step_) return;
  const auto started = std::chrono::steady_clock::now();
  checkpointer_->save(step, checkpoint_files(step));
  const double stall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  last_checkpoint_step_ = step;
  metrics_->write({{"step", double(step)}, {"checkpoint_stall_ms", stall_ms}});
  log_info("checkpoint {}: training stalled {:.1f} ms{}", checkpoint_name(step), stall_ms,
           config_.checkpoint.async ? " (asynchronous: written in the background)" : "");
}

}  // namespace clinfm
