// `clinfm prep`, `clinfm synth`, `clinfm inspect`. Their options are final; their implementations
// land with the data-pipeline issue (#3) and until then they say so and exit 3.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "app/cli.h"
#include "common/error.h"

namespace clinfm {
namespace {

struct PrepCommand {
  struct {
    std::string format, input, output;
    bool overwrite = false;
  } options;
  std::string config;
  std::vector<std::string> overrides;
  std::string on_bad_row = "error";
  std::string command_line;
};

struct SynthCommand {
  int64_t patients = 1000;
  int64_t seed = 1;
  std::string out;
};

struct InspectCommand {
  std::string dataset;
  bool json = false;
  std::string patient;
};

[[noreturn]] void not_built(const std::string& command) {
  throw NotBuiltError(fmt::format("`clinfm {}` is not built yet", command),
                      "it lands with issue #3 (clinical data pipeline); nothing was read or written");
}

}  // namespace

void add_data_commands(CLI::App& app, CommandAction* action) {
  auto prep = std::make_shared<PrepCommand>();
  CLI::App* prep_cmd =
      app.add_subcommand("prep", "Turn a clinical export into a de-identified, sharded HDF5 data set");
  prep_cmd->add_option("--format", prep->options.format, "Source format")
      ->required()
      ->check(CLI::IsMember({"mimic-iv", "meds", "synthea", "delphi"}));
  prep_cmd->add_option("--input", prep->options.input, "Export folder or file")->required();
  prep_cmd->add_option("--output", prep->options.output, "Data set folder to create")->required();
  prep_cmd->add_option("--config", prep->config, "YAML config whose data.* keys set prep (see docs/config.md)");
  prep_cmd->add_flag("--overwrite", prep->options.overwrite,
                     "Replace an existing data set at --output (only once the new one is complete)");
  prep_cmd->add_option("--on-bad-row", prep->on_bad_row, "A malformed row: stop with an error, or skip and count it")
      ->check(CLI::IsMember({"error", "skip"}));
  prep_cmd->add_option("overrides", prep->overrides, "section.key=value config overrides, e.g. data.value_bins=5");
  // The callbacks own the options: CLI11 writes into them during parsing.
  prep_cmd->callback([action, prep] {
    prep->command_line = "clinfm prep --format " + prep->options.format + " --input " + prep->options.input +
                         " --output " + prep->options.output;
    *action = [prep]() -> int { not_built("prep"); };
  });

  auto synth = std::make_shared<SynthCommand>();
  CLI::App* synth_cmd =
      app.add_subcommand("synth", "Generate the built-in synthetic cohort as MEDS CSV plus a truth file");
  synth_cmd->add_option("--patients", synth->patients, "Number of patients")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  synth_cmd->add_option("--seed", synth->seed, "Random seed")->check(CLI::NonNegativeNumber);
  synth_cmd->add_option("--out", synth->out, "Output file (.csv or .csv.gz)")->required();
  synth_cmd->callback([action, synth] {
    *action = [synth]() -> int { not_built("synth"); };
  });

  auto inspect = std::make_shared<InspectCommand>();
  CLI::App* inspect_cmd = app.add_subcommand("inspect", "Summarise a prepared data set or decode one patient");
  inspect_cmd->add_option("dataset", inspect->dataset, "Data set folder")->required();
  inspect_cmd->add_flag("--json", inspect->json, "Print JSON instead of tables");
  inspect_cmd->add_option("--patient", inspect->patient, "Decode the timeline of this pseudonymous key");
  inspect_cmd->callback([action, inspect] { *action = [inspect]() -> int { not_built("inspect"); }; });
}

}  // namespace clinfm
