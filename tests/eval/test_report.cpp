// report.md and report.html from a SuiteResult built by hand: the summary table at the top (one
// row per task, the best method marked, the true-risk ceiling, the reason for what was not
// scored), the synth truth comparison as a rounded table instead of JSON, no long raw doubles,
// and calibration plots that say they use quantile bins.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "eval/results.h"

namespace clinfm {
namespace {

MethodResult method(const std::string& name, Interval auroc, const std::vector<double>& scores) {
  MethodResult result;
  result.method = name;
  result.scores = scores;
  MetricSummary& overall = result.overall;
  overall.n = int64_t(scores.size());
  overall.n_positive = 3;
  overall.n_patients = int64_t(scores.size());
  overall.reported = true;
  overall.auroc = auroc;
  overall.auprc = {0.61234567891, 0.4012345678, 0.7798765432};
  overall.brier = {0.1723456789, 0.1401234567, 0.2109876543};
  overall.ece = {0.0812345678, 0.0401234567, 0.1209876543};
  return result;
}

MethodResult unreported(const std::string& name, size_t rows) {
  MethodResult result;
  result.method = name;
  result.scores.assign(rows, 0.25);
  result.overall.n = int64_t(rows);
  result.overall.reason = "one class only";
  return result;
}

// Keys and values as compare_with_truth (eval/truth.cpp) writes them, with unrounded doubles.
nlohmann::json truth_comparison() {
  return {{"outcome", "death_365d"},
          {"held_out_rows_matched", size_t{8}},
          {"mean_true_probability", 0.31234567891},
          {"observed_rate", 0.375},
          {"truth_auroc", 0.8790516586477589},
          {"truth_brier", 0.1823456789},
          {"probe",
           {{"pearson_with_truth", 0.61234567},
            {"spearman_with_truth", 0.5876543},
            {"mean_score", 0.3312345},
            {"auroc_on_matched_rows", 0.81234567891}}},
          {"zero_shot",
           {{"pearson_with_truth", nullptr},
            {"spearman_with_truth", 0.4987654},
            {"mean_score", 0.2901234},
            {"auroc_on_matched_rows", 0.7904444}}},
          {"count_baseline",
           {{"pearson_with_truth", 0.30123456},
            {"spearman_with_truth", 0.3345678},
            {"mean_score", 0.375},
            {"auroc_on_matched_rows", 0.70111}}}};
}

TaskResult scored_task() {
  TaskResult task;
  task.name = "death_365d";
  task.description = "death within a year";
  task.y = {0, 1, 0, 1, 0, 0, 1, 0};
  for (size_t i = 0; i < task.y.size(); ++i) {
    task.keys.push_back(i + 1);
    task.prediction_age_days.push_back(20000.0 + double(i));
  }
  task.held_out_counts.candidates = 10;
  task.held_out_counts.kept = 8;
  task.held_out_counts.positives = 3;
  task.train_rows_used = 40;
  const std::vector<double> scores = {0.1, 0.8, 0.3, 0.7, 0.2, 0.4, 0.9, 0.15};
  task.methods = {method("probe", {0.81234567891, 0.77149, 0.8504444}, scores),
                  method("zero_shot", {0.7904444, 0.7412, 0.8381}, scores),
                  method("count_baseline", {0.70111, 0.65, 0.752}, scores)};
  task.truth = truth_comparison();
  return task;
}

TaskResult task_without_held_out_rows() {
  TaskResult task;
  task.name = "rare_event";
  task.description = "nothing happened in held_out";
  task.train_rows_used = 10;
  return task;
}

TaskResult task_with_one_class() {
  TaskResult task;
  task.name = "tiny";
  task.description = "one class only";
  task.y.assign(12, 0);
  for (uint64_t i = 0; i < 12; ++i) task.keys.push_back(100 + i);
  task.prediction_age_days.assign(12, 15000.0);
  task.train_rows_used = 30;
  task.methods = {unreported("probe", 12), unreported("zero_shot", 12), unreported("count_baseline", 12)};
  return task;
}

SuiteResult suite() {
  SuiteResult result;
  result.suite_name = "hand-made";
  result.suite_file = "configs/eval/hand.yaml";
  result.checkpoint = "run/weights.pt";
  result.dataset = "data/hand";
  result.settings = {{"bootstrap_samples", 1000}, {"bootstrap_seed", 1234}};
  result.tasks = {scored_task(), task_without_held_out_rows(), task_with_one_class()};
  return result;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A number with more than six decimals: a double printed as it is stored.
std::string long_number(const std::string& text) {
  std::smatch match;
  return std::regex_search(text, match, std::regex(R"(\d\.\d{7,})")) ? match.str() : "";
}

TEST(Report, MarkdownOpensWithOneSummaryRowPerTaskAndTheBestMethodInBold) {
  const std::string md = report_markdown(suite());
  EXPECT_TRUE(contains(md, "| task | probe | zero_shot | count_baseline | true risk AUROC (ceiling) |\n"))
      << md;
  EXPECT_TRUE(contains(
      md, "| death_365d | **0.812 (0.771-0.850)** | 0.790 (0.741-0.838) | 0.701 (0.650-0.752) | 0.879 |\n"))
      << md;
  EXPECT_TRUE(contains(md, "| rare_event | not scored: no held-out prediction times | — | — | — |\n")) << md;
  EXPECT_TRUE(
      contains(md, "| tiny | n=12, one class only | n=12, one class only | n=12, one class only | — |\n"))
      << md;
  const size_t summary = md.find("## Summary");
  ASSERT_NE(summary, std::string::npos) << md;
  EXPECT_LT(summary, md.find("## death_365d"));
  EXPECT_LT(summary, md.find("- suite:"));
}

TEST(Report, HtmlSummaryMarksTheBestMethod) {
  const std::string html = report_html(suite());
  const size_t summary = html.find("<h2>Summary</h2>");
  ASSERT_NE(summary, std::string::npos);
  EXPECT_LT(summary, html.find("<h2>death_365d</h2>"));
  EXPECT_TRUE(contains(html,
                       "<tr><td>death_365d</td><td class=\"best\"><b>0.812 (0.771-0.850)</b></td>"
                       "<td>0.790 (0.741-0.838)</td><td>0.701 (0.650-0.752)</td><td>0.879</td></tr>"))
      << html;
  EXPECT_TRUE(contains(html, "<td>not scored: no held-out prediction times</td>")) << html;
}

TEST(Report, TruthComparisonIsARoundedTableNotJson) {
  const SuiteResult result = suite();
  const std::string md = report_markdown(result);
  EXPECT_TRUE(contains(md, "Synth truth (outcome death_365d): 8 held-out rows matched, observed rate 0.3750"))
      << md;
  EXPECT_TRUE(contains(md, "| true risk (ceiling) | — | — | 0.3123 | 0.879 |\n")) << md;
  EXPECT_TRUE(contains(md, "| probe | 0.612 | 0.588 | 0.3312 | 0.812 |\n")) << md;
  EXPECT_TRUE(contains(md, "| zero_shot | n/a | 0.499 | 0.2901 | 0.790 |\n")) << md;

  const std::string html = report_html(result);
  EXPECT_TRUE(contains(html, "<th>Pearson with true risk</th>")) << html;
  EXPECT_TRUE(
      contains(html, "<tr><td>probe</td><td>0.612</td><td>0.588</td><td>0.3312</td><td>0.812</td></tr>"))
      << html;
  EXPECT_FALSE(contains(html, "{&quot;")) << "the truth object is dumped as JSON";
  EXPECT_FALSE(contains(html, "{\"")) << "the truth object is dumped as JSON";
  EXPECT_FALSE(contains(html, "held_out_rows_matched")) << html;
}

TEST(Report, NoNumberInEitherReportHasMoreThanSixDecimals) {
  const SuiteResult result = suite();
  EXPECT_EQ(long_number(report_markdown(result)), "");
  EXPECT_EQ(long_number(report_html(result)), "");
}

TEST(Report, CalibrationPlotSaysItUsesQuantileBins) {
  const std::string html = report_html(suite());
  EXPECT_TRUE(contains(html, "Calibration (10 quantile bins)"));
  EXPECT_FALSE(contains(html, "equal-width bins)"));
  // One dot per bin: death_365d's 8 distinct scores make 8 bins of one prediction per method;
  // the one-class task's 12 tied scores make one bin per method.
  size_t dots = 0;
  for (size_t at = html.find(": scores "); at != std::string::npos; at = html.find(": scores ", at + 1))
    ++dots;
  EXPECT_EQ(dots, 8u * 3u + 3u);
}

TEST(Report, PredictionsCsvScoresReadBackAsTheSameDoubles) {
  SuiteResult result = suite();
  result.tasks = {scored_task()};
  // Scores that a fixed 9-digit format would merge: two just under 1, two a few ulps apart.
  const std::vector<double> scores = {0.99999999971, 0.99999999983, 0.1234567891234,          0.1234567891235,
                                      1e-12,         0.5,           std::nextafter(0.5, 1.0), 0.25};
  for (MethodResult& method : result.tasks[0].methods) method.scores = scores;
  std::istringstream csv(predictions_csv(result));
  std::string line;
  std::getline(csv, line);
  ASSERT_EQ(line, "task,method,subject_key,prediction_time,y_true,y_score");
  size_t rows = 0;
  while (std::getline(csv, line)) {
    const double read = std::strtod(line.substr(line.rfind(',') + 1).c_str(), nullptr);
    EXPECT_EQ(read, scores[rows % scores.size()]) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 3u * scores.size());
}

}  // namespace
}  // namespace clinfm
