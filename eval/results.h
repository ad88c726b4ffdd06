// What an evaluation found, in memory, and the files it is written to:
//   results.json     everything below, machine-readable
//   predictions.csv  task, method, subject_key, prediction_time (age in days), y_true, y_score
//   report.md        tables of methods with 95% intervals, subgroups, label counts
//   report.html      the same, self-contained, with per-task ROC and calibration plots (inline SVG)
//   meds_dev/TASK/METHOD.parquet   MEDS label-file tasks only: MEDS-DEV's prediction schema
// Every file is written atomically. Plain C++: nothing here runs a model or fits anything.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/delphi_protocol.h"
#include "eval/labeler.h"
#include "eval/metrics.h"
#include "eval/privacy.h"

namespace clinfm {

struct SubgroupResult {
  std::string name;  // "sex=female", "age=40-64"
  MetricSummary metrics;
};

struct MethodResult {
  std::string method;          // probe | zero_shot | count_baseline
  std::vector<double> scores;  // [held-out rows]
  MetricSummary overall;
  std::vector<SubgroupResult> subgroups;
  nlohmann::json details;  // chosen l2, features, k-shot curve, ...
};

struct TaskResult {
  std::string name, description, kind;
  nlohmann::json definition;
  LabelCounts train_counts, tuning_counts, held_out_counts;
  int64_t train_rows_used = 0;  // after max_train_examples
  // Held-out rows.
  std::vector<uint64_t> keys;
  std::vector<double> prediction_age_days;
  std::vector<int> y;
  // A MEDS label-file task's held-out rows as its file names them (raw ids: written only to the
  // MEDS-DEV prediction files, whose schema needs them); empty for other tasks.
  std::vector<int64_t> meds_subject_ids, meds_prediction_times_us;
  std::vector<MethodResult> methods;
  nlohmann::json truth;  // zero-shot vs the synth truth file, when joined
};

struct SuiteResult {
  std::string suite_name, suite_file, checkpoint, dataset;
  nlohmann::json settings;
  std::vector<TaskResult> tasks;
  std::vector<std::string> notes;
  bool has_privacy = false;  // the suite asked for a privacy audit, or --canaries was given
  PrivacyResult privacy;
  bool has_delphi = false;  // the suite asked for Delphi-2M's AUC protocol
  DelphiResult delphi;
};

nlohmann::json results_to_json(const SuiteResult& result);
std::string predictions_csv(const SuiteResult& result);
std::string report_markdown(const SuiteResult& result);
std::string report_html(const SuiteResult& result);
// Writes the four files into `out_dir` (created when missing).
void write_outputs(const SuiteResult& result, const std::string& out_dir);

// The privacy audit's section of report.md and report.html (eval/report_privacy.cpp).
std::string privacy_markdown(const PrivacyResult& privacy);
std::string privacy_html(const PrivacyResult& privacy);

// Delphi-2M's protocol: its results.json object and its section of report.md and report.html
// (eval/report_delphi.cpp).
nlohmann::json delphi_to_json(const DelphiResult& delphi);
std::string delphi_markdown(const DelphiResult& delphi);
std::string delphi_html(const DelphiResult& delphi);

// "0.812 (0.771-0.850)" or "n=12, too few patients".
std::string format_interval(const Interval& interval);

}  // namespace clinfm
