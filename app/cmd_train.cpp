// `clinfm train CONFIG [overrides...]`. The config is resolved and checked before anything else
// starts, on every rank (a bad config exits 2 with nothing started). The training loop lands
// with issue #4; until then the command stops after the config and says so (exit 3).
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "app/cli.h"
#include "common/config/dump.h"
#include "common/config/resolve.h"
#include "common/error.h"
#include "common/log.h"

namespace clinfm {
namespace {

struct TrainOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string resume = "none";
};

int train(const TrainOptions& options) {
  const ResolvedConfig resolved = resolve_config(options.config, options.overrides);
  log_info("config {} resolved, hash sha256:{}", options.config, config_hash(resolved.config));
  throw NotBuiltError("`clinfm train` is not built yet: the config is valid, but no training was run",
                      "the training loop lands with issue #4; nothing was written");
}

}  // namespace

void add_train_command(CLI::App& app, CommandAction* action) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model (run it under mpirun/srun for several ranks)");
  cmd->add_option("config", options->config, "YAML config file")->required()->check(CLI::ExistingFile);
  cmd->add_option("overrides", options->overrides, "section.key=value overrides, applied after the file");
  cmd->add_option("--resume", options->resume,
                  "none: start fresh; auto: resume if a checkpoint exists; latest; or a checkpoint PATH");
  cmd->callback([=] { *action = [=] { return train(*options); }; });
}

}  // namespace clinfm
