// `clinfm train CONFIG [overrides...]`. The config is resolved and checked on every rank before
// MPI starts (a bad config exits 2 with nothing started); then MPI gives the rank and world and
// the Trainer runs, from a checkpoint when --resume says so (trainer/checkpoint/layout.h).
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "app/cli.h"
#include "common/config/dump.h"
#include "common/config/resolve.h"
#include "common/error.h"
#include "common/log.h"
#include "trainer/comm/launch.h"
#include "trainer/fault_injection.h"
#include "trainer/trainer.h"

namespace clinfm {
namespace {

struct TrainOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string resume = "none";
  bool overwrite = false;
};

int train(const TrainOptions& options) {
  const ResolvedConfig resolved = resolve_config(options.config, options.overrides);
  set_log_level(parse_log_level(resolved.config.log.level, "log.level"));
  set_log_all_ranks(resolved.config.log.all_ranks);
  const WorldInfo w = init_distributed(nullptr, nullptr);
  log_info("config {} resolved, hash sha256:{}; {} rank(s)", options.config, config_hash(resolved.config),
           w.world_size);
  Trainer trainer(resolved, options.resume, options.overwrite);
  trainer.set_loss_hook(loss_hook_from_env(w.rank));  // tests only: trainer/fault_injection.h
  trainer.run();
  return 0;  // also after a preemption signal: the checkpoint is saved, a requeue resumes it
}

}  // namespace

void add_train_command(CLI::App& app, CommandAction* action) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model (run it under mpirun/srun for several ranks)");
  cmd->add_option("config", options->config, "YAML config file")->required()->check(CLI::ExistingFile);
  cmd->add_option("overrides", options->overrides, "section.key=value overrides, applied after the file");
  cmd->add_option(
         "--resume", options->resume,
         "none: start fresh; auto: resume from the newest valid checkpoint of run.out_dir, or start "
         "fresh when there is none; latest: the same, but an error when there is none; or a checkpoint "
         "PATH")
      ->default_val("none");
  cmd->add_flag(
      "--overwrite", options->overwrite,
      "Start fresh in a run.out_dir that holds another run: its config.yaml, metrics.jsonl, model.pt "
      "and checkpoints/ are first moved into RUN/previous-<time>/ (nothing is deleted)");
  cmd->callback([action, options] { *action = [options] { return train(*options); }; });
}

}  // namespace clinfm
