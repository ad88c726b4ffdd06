// `clinfm eval SUITE --checkpoint PATH --dataset DIR --out DIR [--truth F --salt F] [--canaries F]
// [eval.*=...]`: resolves PATH to a weights file by the rule `clinfm export` shares
// (trainer/checkpoint/weights_path.h), runs the suite (eval/runner.h), writes results.json,
// predictions.csv, report.md and report.html into --out and prints the table of methods with
// 95% intervals.
// One process only: embedding extraction of a suite on the built-in cohort takes a minute or
// two on a laptop, so the multi-rank split the issue allows ("may use several MPI ranks") is
// not built; run it without mpirun.
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "app/cli.h"
#include "common/config/resolve.h"
#include "common/error.h"
#include "common/log.h"
#include "eval/runner.h"
#include "trainer/checkpoint/weights_path.h"

namespace clinfm {
namespace {

// A correlation for the console table: three decimals, or what the JSON holds (null: too few rows).
std::string three_digits(const nlohmann::json& value) {
  return value.is_number() ? fmt::format("{:.3f}", value.get<double>()) : value.dump();
}

struct EvalOptions {
  std::string suite;
  std::string checkpoint;
  std::string dataset;
  std::string out;
  std::string truth, cohort, salt, canaries;
  int threads = 0;
  std::vector<std::string> overrides;
};

void check_options(const EvalOptions& options) {
  for (const std::string& override_text : options.overrides) {
    if (override_text.rfind("eval.", 0) != 0 && override_text.rfind("log.", 0) != 0) {
      throw InputError(
          fmt::format("override '{}': `clinfm eval` takes only eval.* and log.* overrides", override_text),
          "e.g. eval.bootstrap_samples=200");
    }
  }
  if (!options.truth.empty() && options.salt.empty()) {
    throw InputError("--truth needs --salt: the truth file holds raw ids, the data set keyed hashes of them",
                     "pass the data.salt_file that `clinfm prep` used");
  }
}

// The table of methods with 95% intervals (and the zero-shot truth correlations) for stdout.
std::string console_table(const SuiteResult& result) {
  std::string table = fmt::format("{:<28} {:<15} {:>6} {:>5}  {:<22} {:<22}\n", "task", "method", "n", "pos",
                                  "AUROC (95% CI)", "AUPRC (95% CI)");
  for (const TaskResult& task : result.tasks) {
    for (const MethodResult& method : task.methods) {
      const MetricSummary& summary = method.overall;
      table +=
          fmt::format("{:<28} {:<15} {:>6} {:>5}  {:<22} {:<22}\n", task.name, method.method, summary.n,
                      summary.n_positive, summary.reported ? format_interval(summary.auroc) : summary.reason,
                      summary.reported ? format_interval(summary.auprc) : "");
    }
    if (task.truth.contains("zero_shot"))
      table += fmt::format("{:<28} zero-shot vs truth: pearson {}, spearman {} over {} rows\n", task.name,
                           three_digits(task.truth["zero_shot"]["pearson_with_truth"]),
                           three_digits(task.truth["zero_shot"]["spearman_with_truth"]),
                           task.truth["held_out_rows_matched"].dump());
  }
  return table;
}

int evaluate(const EvalOptions& options) {
  check_options(options);
  // Only eval.* and log.* matter here; data.dataset is required by the schema, so it is passed on.
  std::vector<std::string> overrides = options.overrides;
  overrides.push_back("data.dataset=" + options.dataset);
  const ResolvedConfig resolved = resolve_config("", overrides);
  set_log_level(parse_log_level(resolved.config.log.level, "log.level"));
  EvalRequest request;
  request.suite = options.suite;
  request.weights = resolve_weights_path(options.checkpoint);
  request.dataset = options.dataset;
  request.truth = options.truth;
  request.cohort = options.cohort;
  request.salt = options.salt;
  request.canaries = options.canaries;
  request.config = resolved.config.eval;
  request.threads = options.threads;
  const SuiteResult result = run_evaluation(request);
  write_outputs(result, options.out);
  if (!result.tasks.empty()) std::fputs(console_table(result).c_str(), stdout);
  for (const std::string& line : result.privacy.findings) std::printf("privacy: %s\n", line.c_str());
  log_info("eval: wrote results.json, predictions.csv, report.md, report.html to {}", options.out);
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, CommandAction* action) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Score a checkpoint on a suite of clinical prediction tasks");
  cmd->add_option("suite", options->suite, "Suite YAML (a list of tasks, see configs/eval/)")->required();
  cmd->add_option("--checkpoint", options->checkpoint,
                  "Weights file, checkpoint folder (checkpoints/step-N) or run folder")
      ->required();
  cmd->add_option("--dataset", options->dataset, "Prepared data set folder")->required();
  cmd->add_option(
         "--out", options->out,
         "Output folder for results.json, predictions.csv, reports (and meds_dev/ for MEDS label-file tasks)")
      ->required();
  cmd->add_option("--truth", options->truth,
                  "Truth file of a `clinfm synth` cohort (compare zero-shot risks)");
  cmd->add_option("--cohort", options->cohort,
                  "The MEDS data prep read (file or folder): birth times for --truth (default: the synth "
                  "cohort beside it) and for MEDS label-file tasks");
  cmd->add_option("--salt", options->salt,
                  "The salt file prep used (to join --truth and MEDS label files to the data set)");
  cmd->add_option("--canaries", options->canaries,
                  "The data set's secret canary file (data.canary_file): adds canary exposure to the privacy "
                  "audit (docs/privacy.md)");
  cmd->add_option("--threads", options->threads, "LibTorch threads (0: all cores)");
  cmd->add_option("overrides", options->overrides,
                  "eval.key=value overrides, e.g. eval.bootstrap_samples=200");
  cmd->callback([action, options] { *action = [options] { return evaluate(*options); }; });
}

}  // namespace clinfm
