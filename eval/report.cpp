// results.json, predictions.csv and report.md from a SuiteResult (report.html: report_html.cpp).
#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "common/fs.h"
#include "data/deid.h"
#include "eval/results.h"

namespace clinfm {
namespace {

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json interval_json(const Interval& i) {
  return {{"value", number(i.point)}, {"ci95", {number(i.lo), number(i.hi)}}};
}

nlohmann::json summary_json(const MetricSummary& s) {
  nlohmann::json j = {{"n", s.n}, {"n_positive", s.n_positive}, {"n_patients", s.n_patients}};
  if (!s.reported) {
    j["reported"] = false;
    j["reason"] = s.reason;
    return j;
  }
  j["reported"] = true;
  j["auroc"] = interval_json(s.auroc);
  j["auprc"] = interval_json(s.auprc);
  j["brier"] = interval_json(s.brier);
  j["ece"] = interval_json(s.ece);
  j["bootstrap_resamples"] = s.resamples;
  j["bootstrap_resamples_skipped_one_class"] = s.resamples_skipped;
  return j;
}

nlohmann::json counts_json(const LabelCounts& c) {
  return {{"candidates", c.candidates},
          {"kept", c.kept},
          {"positives", c.positives},
          {"excluded",
           {{"no_history", c.no_history},
            {"horizon_past_top_coded_age", c.past_top_age},
            {"outcome_already_in_history", c.prior_outcome},
            {"censored", c.censored},
            {"death", c.death_excluded},
            {"stay_over_before_prediction_time", c.stay_over},
            {"not_first_of_patient", c.not_first}}}};
}

std::string cell(const MetricSummary& s, const Interval MetricSummary::*metric) {
  if (!s.reported) return fmt::format("n={}, {}", s.n, s.reason);
  return format_interval(s.*metric);
}

}  // namespace

std::string format_interval(const Interval& i) {
  if (!std::isfinite(i.point)) return "n/a";
  return fmt::format("{:.3f} ({:.3f}-{:.3f})", i.point, i.lo, i.hi);
}

nlohmann::json results_to_json(const SuiteResult& r) {
  nlohmann::json tasks = nlohmann::json::array();
  for (const TaskResult& t : r.tasks) {
    nlohmann::json methods = nlohmann::json::object();
    for (const MethodResult& m : t.methods) {
      nlohmann::json sub = nlohmann::json::object();
      for (const SubgroupResult& g : m.subgroups) sub[g.name] = summary_json(g.metrics);
      methods[m.method] = {{"held_out", summary_json(m.overall)}, {"subgroups", sub}, {"details", m.details}};
    }
    tasks.push_back({{"name", t.name},
                     {"description", t.description},
                     {"kind", t.kind},
                     {"definition", t.definition},
                     {"labels",
                      {{"train", counts_json(t.train_counts)},
                       {"tuning", counts_json(t.tuning_counts)},
                       {"held_out", counts_json(t.held_out_counts)},
                       {"train_rows_used", t.train_rows_used}}},
                     {"methods", methods},
                     {"truth", t.truth}});
  }
  return {{"format", "clinfm-eval-results"},
          {"version", 1},
          {"suite", r.suite_name},
          {"suite_file", r.suite_file},
          {"checkpoint", r.checkpoint},
          {"dataset", r.dataset},
          {"settings", r.settings},
          {"notes", r.notes},
          {"tasks", tasks}};
}

std::string predictions_csv(const SuiteResult& r) {
  std::string out = "task,method,subject_key,prediction_time,y_true,y_score\n";
  for (const TaskResult& t : r.tasks)
    for (const MethodResult& m : t.methods)
      for (size_t i = 0; i < t.y.size(); ++i)
        out += fmt::format("{},{},{},{:.6f},{},{:.9g}\n", t.name, m.method, subject_key_hex(t.keys[i]),
                           t.prediction_age_days[i], t.y[i], m.scores[i]);
  return out;
}

std::string report_markdown(const SuiteResult& r) {
  std::string md = fmt::format("# Evaluation: {}\n\n", r.suite_name);
  md += fmt::format("- suite: `{}`\n- checkpoint: `{}`\n- data set: `{}`\n", r.suite_file, r.checkpoint,
                    r.dataset);
  md += fmt::format(
      "- scored on `held_out`; l2 picked on `tuning`; fitted on `train`. Intervals: patient-level "
      "bootstrap 95% ({} resamples, seed {}).\n",
      r.settings.value("bootstrap_samples", 0), r.settings.value("bootstrap_seed", 0));
  md += "- prediction_time in predictions.csv is the age in days (absolute dates never reach a data set).\n";
  for (const std::string& note : r.notes) md += "- " + note + "\n";
  for (const TaskResult& t : r.tasks) {
    md += fmt::format("\n## {}\n\n{}\n\n", t.name, t.description);
    const LabelCounts& h = t.held_out_counts;
    md += fmt::format(
        "held-out: {} prediction times ({} positive) of {} candidates; excluded: no history {}, "
        "horizon past top-coded age {}, outcome already present {}, censored {}, death {}, stay over "
        "{}, not first {}. Train rows used: {}.\n\n",
        h.kept, h.positives, h.candidates, h.no_history, h.past_top_age, h.prior_outcome, h.censored,
        h.death_excluded, h.stay_over, h.not_first, t.train_rows_used);
    md += "| method | n (pos) | AUROC | AUPRC | Brier | ECE |\n|---|---|---|---|---|---|\n";
    for (const MethodResult& m : t.methods) {
      const MetricSummary& s = m.overall;
      md += fmt::format("| {} | {} ({}) | {} | {} | {} | {} |\n", m.method, s.n, s.n_positive,
                        cell(s, &MetricSummary::auroc), cell(s, &MetricSummary::auprc),
                        cell(s, &MetricSummary::brier), cell(s, &MetricSummary::ece));
    }
    if (!t.methods.empty() && !t.methods.front().subgroups.empty()) {
      md += "\nAUROC by subgroup:\n\n| subgroup |";
      for (const MethodResult& m : t.methods) md += " " + m.method + " |";
      md += "\n|---|";
      for (size_t i = 0; i < t.methods.size(); ++i) md += "---|";
      md += "\n";
      for (size_t g = 0; g < t.methods.front().subgroups.size(); ++g) {
        const MetricSummary& first = t.methods.front().subgroups[g].metrics;
        md += fmt::format("| {} (n={}, pos={}) |", t.methods.front().subgroups[g].name, first.n,
                          first.n_positive);
        for (const MethodResult& m : t.methods)
          md += " " + cell(m.subgroups[g].metrics, &MetricSummary::auroc) + " |";
        md += "\n";
      }
    }
    if (t.truth.contains("truth_auroc")) {
      md += fmt::format(
          "\nSynth truth (`{}`), {} held-out rows matched: mean true probability {:.4f}, observed rate "
          "{:.4f}, AUROC of the true probabilities {}.\n\n| method | Pearson with truth | Spearman with "
          "truth | AUROC on matched rows |\n|---|---|---|---|\n",
          t.truth["outcome"].get<std::string>(), t.truth["held_out_rows_matched"].get<int64_t>(),
          t.truth["mean_true_probability"].get<double>(), t.truth["observed_rate"].get<double>(),
          t.truth["truth_auroc"].dump());
      for (const MethodResult& m : t.methods) {
        const nlohmann::json& c = t.truth[m.method];
        md += fmt::format("| {} | {} | {} | {} |\n", m.method, c["pearson_with_truth"].dump(),
                          c["spearman_with_truth"].dump(), c["auroc_on_matched_rows"].dump());
      }
    }
  }
  return md;
}

void write_outputs(const SuiteResult& result, const std::string& out_dir) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw InputError(fmt::format("--out {}: cannot create the folder: {}", out_dir, ec.message()));
  const std::filesystem::path dir(out_dir);
  write_file_atomic((dir / "results.json").string(), results_to_json(result).dump(2) + "\n");
  write_file_atomic((dir / "predictions.csv").string(), predictions_csv(result));
  write_file_atomic((dir / "report.md").string(), report_markdown(result));
  write_file_atomic((dir / "report.html").string(), report_html(result));
}

}  // namespace clinfm
