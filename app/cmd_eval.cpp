// `clinfm eval SUITE --checkpoint PATH --dataset DIR --out DIR`. Lands with issue #7.
#include <memory>
#include <string>
#include <vector>

#include "app/cli.h"
#include "common/error.h"

namespace clinfm {
namespace {

struct EvalOptions {
  std::string suite;
  std::string checkpoint;
  std::string dataset;
  std::string out;
  std::vector<std::string> overrides;
};

}  // namespace

void add_eval_command(CLI::App& app, CommandAction* action) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Score a checkpoint on a suite of clinical prediction tasks");
  cmd->add_option("suite", options->suite, "Suite YAML (a list of tasks)")->required();
  cmd->add_option("--checkpoint", options->checkpoint, "Checkpoint folder")->required();
  cmd->add_option("--dataset", options->dataset, "Prepared data set folder")->required();
  cmd->add_option("--out", options->out, "Output folder for results.json, predictions.csv and reports")
      ->required();
  cmd->add_option("overrides", options->overrides, "section.key=value overrides of the eval.* settings");
  cmd->callback([action, options] {
    *action = [options] {
      throw NotBuiltError("`clinfm eval` is not built yet",
                          "evaluation suites land with issue #7; nothing was read or written");
      return 3;
    };
  });
}

}  // namespace clinfm
