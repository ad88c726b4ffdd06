// `clinfm prep`, `clinfm synth`, `clinfm inspect`.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "app/cli.h"
#include "common/config/resolve.h"
#include "common/error.h"
#include "common/log.h"
#include "common/text.h"
#include "data/inspect.h"
#include "data/prep.h"
#include "data/synth/synth_cohort.h"
#include "trainer/comm/launch.h"

namespace clinfm {
namespace {

struct PrepCommand {
  PrepOptions options;
  std::string config;
  std::vector<std::string> overrides;
  std::string on_bad_row = "error";
  std::string command_line;
  bool no_event_years_given = false;
};

struct SynthCommand {
  int64_t patients = 1000;
  int64_t seed = 1;
  int64_t codes = 0;
  std::string out;
};

struct InspectCommand {
  std::string dataset;
  bool json = false;
  std::string patient;
};

int run_prep_command(PrepCommand& c) {
  // The data set being written is the config's data.dataset; the config supplies data.* prep settings.
  std::vector<std::string> overrides = c.overrides;
  overrides.push_back("data.dataset=" + c.options.output);
  const ResolvedConfig resolved = resolve_config(c.config, overrides);
  c.options.data = resolved.config.data;
  c.options.skip_bad_rows = c.on_bad_row == "skip";
  if (c.no_event_years_given && c.options.format != "delphi")
    throw InputError("--no-event-years applies to --format delphi only", "drop it, or use --format delphi");
  c.options.command_line = c.command_line;
  if (launcher_size_from_env() > 1) {  // mpirun/srun -n N: one prep over N processes
    const WorldInfo w = init_distributed(nullptr, nullptr);
    c.options.ranks.rank = w.rank;
    c.options.ranks.size = w.world_size;
    c.options.ranks.broadcast = broadcast_text_from_rank0;
    c.options.ranks.gather = gather_text_to_rank0;
    c.options.ranks.max = max_over_ranks;
  }
  const PrepSummary s = run_prep(c.options);
  if (c.options.ranks.rank != 0) return 0;  // rank 0 reports for all
  log_info("prep: wrote {} ({} shards, vocabulary {} tokens) in {:.1f} s; import {:.1f} s, {:.0f} events/s",
           c.options.output, s.shards, s.vocabulary_size, s.total_seconds, s.import_seconds,
           s.import_seconds > 0 ? double(s.input_records) / s.import_seconds : 0.0);
  for (const std::string split : {"train", "tuning", "held_out"}) {
    const auto p = s.patients.count(split) ? s.patients.at(split) : 0;
    const auto e = s.events.count(split) ? s.events.at(split) : 0;
    log_info("  {:<9} {:>9} patients {:>12} events", split, p, e);
  }
  log_info("  audit: {}/audit.md", c.options.output);
  if (!s.canary_file.empty())
    log_info(
        "  canaries: {} x {} in the training split; which patients they are: {} (secret, mode 0600: keep "
        "it with the salt; `clinfm eval --canaries` reads it)",
        c.options.data.canaries, c.options.data.canary_copies, s.canary_file);
  return 0;
}

int run_synth_command(const SynthCommand& c) {
  SynthOptions options;
  options.patients = c.patients;
  options.seed = static_cast<uint64_t>(c.seed);
  options.out = c.out;
  options.codes = c.codes;
  const SynthSummary summary = write_synthetic_cohort(options);  // logs what it wrote
  if (options.codes > 0) {
    log_info("synth: {} background events from {} codes ({:.1f} per patient)", summary.background_events,
             options.codes, double(summary.background_events) / double(summary.patients));
  }
  return 0;
}

int run_inspect_command(const InspectCommand& c) {
  if (!c.patient.empty()) {
    std::cout << decode_patient(c.dataset, c.patient) << std::flush;
  } else if (c.json) {
    std::cout << inspect_dataset(c.dataset).dump(2) << "\n" << std::flush;
  } else {
    std::cout << format_inspection(inspect_dataset(c.dataset)) << std::flush;
  }
  return 0;
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
  prep_cmd->add_option("--config", prep->config,
                       "YAML config whose data.* keys set prep (see docs/config.md)");
  prep_cmd->add_flag("--overwrite", prep->options.overwrite,
                     "Replace an existing data set at --output (only once the new one is complete)");
  prep_cmd
      ->add_option("--on-bad-row", prep->on_bad_row,
                   "A malformed row: stop with an error, or skip and count it")
      ->check(CLI::IsMember({"error", "skip"}));
  prep_cmd
      ->add_option("--no-event-years", prep->options.no_event_years,
                   "--format delphi: a \"No event\" token every N years of age, as Delphi-2M's "
                   "no_event_token_rate (0: none)")
      ->check(CLI::Range(0.0, 100.0));
  prep_cmd->add_flag("--resplit", prep->options.resplit,
                     "Ignore the splits the export fixes (MEDS metadata/subject_splits.parquet, Delphi's "
                     "train.bin/val.bin) and draw every patient's split from its key with data.split_*");
  prep_cmd->add_option("overrides", prep->overrides,
                       "section.key=value config overrides, e.g. data.value_bins=5");
  // The callbacks own the options: CLI11 writes into them during parsing.
  prep_cmd->callback([action, prep, prep_cmd] {
    prep->no_event_years_given = prep_cmd->count("--no-event-years") > 0;
    prep->command_line = "clinfm prep --format " + prep->options.format + " --input " + prep->options.input +
                         " --output " + prep->options.output;
    if (prep->options.format == "delphi")
      prep->command_line += fmt::format(" --no-event-years {}", prep->options.no_event_years);
    if (prep->options.resplit) prep->command_line += " --resplit";
    *action = [prep] { return run_prep_command(*prep); };
  });

  auto synth = std::make_shared<SynthCommand>();
  CLI::App* synth_cmd =
      app.add_subcommand("synth", "Generate the built-in synthetic cohort as MEDS CSV plus a truth file");
  synth_cmd->add_option("--patients", synth->patients, "Number of patients")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  synth_cmd->add_option("--seed", synth->seed, "Random seed")->check(CLI::NonNegativeNumber);
  // Range checked by write_synthetic_cohort, whose message says where the limit comes from.
  synth_cmd->add_option("--codes", synth->codes,
                        "Extra background diagnosis/procedure/medication codes: Zipf-distributed, "
                        "ICD-like hierarchy (0: none)");
  synth_cmd->add_option("--out", synth->out, "Output file (.csv or .csv.gz)")->required();
  synth_cmd->callback([action, synth] { *action = [synth] { return run_synth_command(*synth); }; });

  auto inspect = std::make_shared<InspectCommand>();
  CLI::App* inspect_cmd =
      app.add_subcommand("inspect", "Summarise a prepared data set or decode one patient");
  inspect_cmd->add_option("dataset", inspect->dataset, "Data set folder")->required();
  inspect_cmd->add_flag("--json", inspect->json, "Print JSON instead of tables");
  inspect_cmd->add_option("--patient", inspect->patient, "Decode the timeline of this pseudonymous key");
  inspect_cmd->callback([action, inspect] { *action = [inspect] { return run_inspect_command(*inspect); }; });
}

}  // namespace clinfm
