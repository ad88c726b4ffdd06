// results.json, predictions.csv and report.md from a SuiteResult (report.html: report_html.cpp).
// report.md opens with the summary of every task (eval/report_format.h), then the run's settings,
// then per task its methods, subgroups and the comparison with the synth truth.
#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "common/fs.h"
#include "data/deid.h"
#include "data/parquet/parquet_file.h"
#include "eval/report_format.h"
#include "eval/results.h"

namespace clinfm {
namespace {

nlohmann::json number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json interval_json(const Interval& interval) {
  return {{"value", number(interval.point)}, {"ci95", {number(interval.lo), number(interval.hi)}}};
}

nlohmann::json summary_json(const MetricSummary& summary) {
  nlohmann::json json = {
      {"n", summary.n}, {"n_positive", summary.n_positive}, {"n_patients", summary.n_patients}};
  if (!summary.reported) {
    json["reported"] = false;
    json["reason"] = summary.reason;
    return json;
  }
  json["reported"] = true;
  json["auroc"] = interval_json(summary.auroc);
  json["auprc"] = interval_json(summary.auprc);
  json["brier"] = interval_json(summary.brier);
  json["ece"] = interval_json(summary.ece);
  json["bootstrap_resamples"] = summary.resamples;
  json["bootstrap_resamples_skipped_one_class"] = summary.resamples_skipped;
  return json;
}

nlohmann::json counts_json(const LabelCounts& counts) {
  return {{"candidates", counts.candidates},
          {"kept", counts.kept},
          {"positives", counts.positives},
          {"excluded",
           {{"no_history", counts.no_history},
            {"horizon_past_top_coded_age", counts.past_top_age},
            {"outcome_already_in_history", counts.prior_outcome},
            {"censored", counts.censored},
            {"death", counts.death_excluded},
            {"stay_over_before_prediction_time", counts.stay_over},
            {"not_first_of_patient", counts.not_first}}}};
}

std::string cell(const MetricSummary& summary, const Interval MetricSummary::*metric) {
  if (!summary.reported) return fmt::format("n={}, {}", summary.n, summary.reason);
  return format_interval(summary.*metric);
}

// AUROC per subgroup, one column per method; empty without subgroups.
std::string subgroup_table(const TaskResult& task) {
  if (task.methods.empty() || task.methods.front().subgroups.empty()) return {};
  std::string md = "\nAUROC by subgroup:\n\n| subgroup |";
  for (const MethodResult& method : task.methods) md += " " + method.method + " |";
  md += "\n|---|";
  for (size_t i = 0; i < task.methods.size(); ++i) md += "---|";
  md += "\n";
  for (size_t group = 0; group < task.methods.front().subgroups.size(); ++group) {
    const MetricSummary& first = task.methods.front().subgroups[group].metrics;
    md += fmt::format("| {} (n={}, pos={}) |", task.methods.front().subgroups[group].name, first.n,
                      first.n_positive);
    for (const MethodResult& method : task.methods)
      md += " " + cell(method.subgroups[group].metrics, &MetricSummary::auroc) + " |";
    md += "\n";
  }
  return md;
}

// The comparison with the synth truth; empty when it was not made.
std::string truth_section(const TaskResult& task) {
  const std::string caption = truth_caption(task);
  if (caption.empty()) return {};
  const ReportTable table = truth_table(task);
  return "\n" + caption + "\n" + (table.rows.empty() ? "" : "\n" + markdown_table(table));
}

}  // namespace

std::string format_interval(const Interval& interval) {
  if (!std::isfinite(interval.point)) return "n/a";
  return fmt::format("{:.3f} ({:.3f}-{:.3f})", interval.point, interval.lo, interval.hi);
}

nlohmann::json results_to_json(const SuiteResult& result) {
  nlohmann::json tasks = nlohmann::json::array();
  for (const TaskResult& task : result.tasks) {
    nlohmann::json methods = nlohmann::json::object();
    for (const MethodResult& method : task.methods) {
      nlohmann::json sub = nlohmann::json::object();
      for (const SubgroupResult& group : method.subgroups) sub[group.name] = summary_json(group.metrics);
      methods[method.method] = {
          {"held_out", summary_json(method.overall)}, {"subgroups", sub}, {"details", method.details}};
    }
    tasks.push_back({{"name", task.name},
                     {"description", task.description},
                     {"kind", task.kind},
                     {"definition", task.definition},
                     {"labels",
                      {{"train", counts_json(task.train_counts)},
                       {"tuning", counts_json(task.tuning_counts)},
                       {"held_out", counts_json(task.held_out_counts)},
                       {"train_rows_used", task.train_rows_used}}},
                     {"methods", methods},
                     {"truth", task.truth}});
  }
  nlohmann::json out = {{"format", "clinfm-eval-results"},
                        {"version", 1},
                        {"suite", result.suite_name},
                        {"suite_file", result.suite_file},
                        {"checkpoint", result.checkpoint},
                        {"dataset", result.dataset},
                        {"settings", result.settings},
                        {"notes", result.notes},
                        {"tasks", tasks}};
  if (result.has_privacy) out["privacy"] = privacy_to_json(result.privacy);
  if (result.has_delphi) out["delphi"] = delphi_to_json(result.delphi);
  return out;
}

// Scores are written as the shortest text that reads back as the same double, so the metrics in
// results.json can be recomputed exactly from this file: with a fixed 9 digits, two scores that
// differ only beyond them read back as a tie (an AUROC recomputed in CI moved by 5e-5).
std::string predictions_csv(const SuiteResult& result) {
  std::string out = "task,method,subject_key,prediction_time,y_true,y_score\n";
  for (const TaskResult& task : result.tasks)
    for (const MethodResult& method : task.methods)
      for (size_t i = 0; i < task.y.size(); ++i)
        out += fmt::format("{},{},{},{:.6f},{},{}\n", task.name, method.method, subject_key_hex(task.keys[i]),
                           task.prediction_age_days[i], task.y[i], method.scores[i]);
  return out;
}

std::string report_markdown(const SuiteResult& result) {
  std::string md = fmt::format("# Evaluation: {}\n\n", result.suite_name);
  if (!result.tasks.empty())  // a suite of only a privacy audit or Delphi's protocol has no task summary
    md += "## Summary\n\n" + summary_caption(result) + "\n\n" + markdown_table(summary_table(result));
  md += fmt::format("\n## Run\n\n- suite: `{}`\n- checkpoint: `{}`\n- data set: `{}`\n", result.suite_file,
                    result.checkpoint, result.dataset);
  md += fmt::format(
      "- scored on `held_out`; l2 picked on `tuning`; fitted on `train`. Intervals: patient-level "
      "bootstrap 95% ({} resamples, seed {}).\n",
      result.settings.value("bootstrap_samples", 0), result.settings.value("bootstrap_seed", 0));
  md += "- prediction_time in predictions.csv is the age in days (absolute dates never reach a data set).\n";
  for (const std::string& note : result.notes) md += "- " + note + "\n";
  for (const TaskResult& task : result.tasks) {
    md += fmt::format("\n## {}\n\n{}\n\n", task.name, task.description);
    const LabelCounts& held_out = task.held_out_counts;
    md += fmt::format(
        "held-out: {} prediction times ({} positive) of {} candidates; excluded: no history {}, "
        "horizon past top-coded age {}, outcome already present {}, censored {}, death {}, stay over "
        "{}, not first {}. Train rows used: {}.\n\n",
        held_out.kept, held_out.positives, held_out.candidates, held_out.no_history, held_out.past_top_age,
        held_out.prior_outcome, held_out.censored, held_out.death_excluded, held_out.stay_over,
        held_out.not_first, task.train_rows_used);
    md += "| method | n (pos) | AUROC | AUPRC | Brier | ECE |\n|---|---|---|---|---|---|\n";
    for (const MethodResult& method : task.methods) {
      const MetricSummary& summary = method.overall;
      md +=
          fmt::format("| {} | {} ({}) | {} | {} | {} | {} |\n", method.method, summary.n, summary.n_positive,
                      cell(summary, &MetricSummary::auroc), cell(summary, &MetricSummary::auprc),
                      cell(summary, &MetricSummary::brier), cell(summary, &MetricSummary::ece));
    }
    md += subgroup_table(task);
    md += truth_section(task);
  }
  if (result.has_delphi) md += delphi_markdown(result.delphi);
  if (result.has_privacy) md += privacy_markdown(result.privacy);
  return md;
}

namespace {
// MEDS-DEV's prediction schema (meds-evaluation's PredictionSchema: the MEDS label schema plus
// predicted_boolean_value and predicted_boolean_probability), one file per label-file task and
// method: meds_dev/<task>/<method>.parquet. predicted_boolean_value is probability >= 0.5.
void write_meds_dev_predictions(const SuiteResult& result, const std::filesystem::path& dir) {
  for (const TaskResult& task : result.tasks) {
    if (task.meds_subject_ids.empty()) continue;
    const std::filesystem::path task_dir = dir / "meds_dev" / task.name;
    std::error_code ec;
    std::filesystem::remove_all(task_dir, ec);  // no file of an earlier run into the same --out stays
    if (task.methods.empty()) continue;
    std::filesystem::create_directories(task_dir, ec);
    if (ec) throw Error(fmt::format("{}: cannot create the folder: {}", task_dir.string(), ec.message()));
    std::vector<char> truth(task.y.begin(), task.y.end());
    for (const MethodResult& method : task.methods) {
      ParquetTableWriter writer;
      writer.add_int64("subject_id", task.meds_subject_ids);
      writer.add_timestamp_us("prediction_time", task.meds_prediction_times_us);
      writer.add_bool("boolean_value", truth);
      std::vector<char> predicted;
      std::vector<double> probability;
      for (double score : method.scores) {
        predicted.push_back(score >= 0.5 ? 1 : 0);
        probability.push_back(score);
      }
      writer.add_bool("predicted_boolean_value", std::move(predicted));
      writer.add_float64("predicted_boolean_probability", std::move(probability));
      writer.write((task_dir / (method.method + ".parquet")).string());
    }
  }
}
}  // namespace

void write_outputs(const SuiteResult& result, const std::string& out_dir) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw InputError(fmt::format("--out {}: cannot create the folder: {}", out_dir, ec.message()));
  const std::filesystem::path dir(out_dir);
  write_file_atomic((dir / "results.json").string(), results_to_json(result).dump(2) + "\n");
  write_file_atomic((dir / "predictions.csv").string(), predictions_csv(result));
  write_file_atomic((dir / "report.md").string(), report_markdown(result));
  write_file_atomic((dir / "report.html").string(), report_html(result));
  write_meds_dev_predictions(result, dir);
}

}  // namespace clinfm
