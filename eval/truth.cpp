// Truth file + cohort births + salt -> (outcome, key, age) -> probability; and the comparison
// of a task's held-out scores with those probabilities.
#include "eval/truth.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/deid.h"
#include "data/timestamp.h"
#include "eval/meds_labels.h"

namespace clinfm {
namespace {

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double count = double(a.size());
  const double mean_a = std::accumulate(a.begin(), a.end(), 0.0) / count,
               mean_b = std::accumulate(b.begin(), b.end(), 0.0) / count;
  double cross = 0, square_a = 0, square_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    cross += (a[i] - mean_a) * (b[i] - mean_b);
    square_a += (a[i] - mean_a) * (a[i] - mean_a);
    square_b += (b[i] - mean_b) * (b[i] - mean_b);
  }
  return square_a > 0 && square_b > 0 ? cross / std::sqrt(square_a * square_b) : NAN;
}

nlohmann::json json_number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

}  // namespace

std::string TruthTable::default_cohort_path(const std::string& truth_path) {
  const std::string suffix = ".truth.csv";
  if (truth_path.size() <= suffix.size() ||
      truth_path.compare(truth_path.size() - suffix.size(), suffix.size(), suffix))
    return {};
  const std::string stem = truth_path.substr(0, truth_path.size() - suffix.size());
  if (std::filesystem::exists(stem + ".csv.gz")) return stem + ".csv.gz";
  return stem + ".csv";
}

TruthTable TruthTable::load(const std::string& truth_path, const std::string& cohort_path,
                            const std::string& salt_path) {
  const std::string salt_file = expand_home(salt_path);
  if (!std::filesystem::is_regular_file(salt_file)) {
    throw InputError(fmt::format("--salt {}: no such file", salt_path),
                     "pass the data.salt_file that `clinfm prep` used for this data set");
  }
  const Salt salt = load_or_create_salt(salt_file, "");
  if (cohort_path.empty() || !std::filesystem::is_regular_file(cohort_path)) {
    throw InputError(
        fmt::format("--cohort {}: no such file (needed for the birth times of the truth file {})",
                    cohort_path.empty() ? "(none)" : cohort_path, truth_path),
        "pass --cohort with the MEDS file that `clinfm synth` wrote beside the truth file");
  }
  const std::unordered_map<std::string, int64_t> births = read_meds_births(cohort_path);
  TruthTable table;
  CsvReader reader(truth_path);
  const int subject = reader.require_column("subject_id"), time = reader.require_column("prediction_time"),
            outcome = reader.require_column("outcome"), probability = reader.require_column("probability");
  std::vector<std::string_view> fields;
  while (reader.next(fields)) {
    const std::string id(fields[size_t(subject)]);
    auto birth = births.find(id);
    int64_t seconds = 0;
    double value = 0;
    if (birth == births.end())
      throw InputError(
          fmt::format("{}: subject {} has no MEDS_BIRTH row in {}", reader.where(), id, cohort_path),
          "the truth file and the cohort must come from the same `clinfm synth` run");
    if (!parse_timestamp(fields[size_t(time)], &seconds) ||
        !parse_double(fields[size_t(probability)], &value) || value < 0 || value > 1)
      throw InputError(fmt::format("{}: bad prediction_time or probability", reader.where()));
    TruthPoint point;
    point.age_days = static_cast<double>(seconds - birth->second) / kSecondsPerDay;
    point.probability = value;
    table.points_[std::string(fields[size_t(outcome)])][subject_key(salt, id)].push_back(point);
    table.rows_ += 1;
  }
  return table;
}

const TruthPoint* TruthTable::find(const std::string& outcome, uint64_t key, double age_days) const {
  auto of_outcome = points_.find(outcome);
  if (of_outcome == points_.end()) return nullptr;
  auto of_patient = of_outcome->second.find(key);
  if (of_patient == of_outcome->second.end()) return nullptr;
  for (const TruthPoint& point : of_patient->second)
    if (std::fabs(point.age_days - age_days) < 1e-4) return &point;
  return nullptr;
}

std::vector<std::string> TruthTable::outcomes() const {
  std::vector<std::string> names;
  for (const auto& [name, rows] : points_) names.push_back(name);
  return names;
}

nlohmann::json compare_with_truth(const TaskResult& task, const TruthTable& truth,
                                  const std::string& outcome) {
  std::vector<size_t> rows;
  std::vector<double> true_probability;
  for (size_t i = 0; i < task.y.size(); ++i) {
    if (const TruthPoint* point = truth.find(outcome, task.keys[i], task.prediction_age_days[i])) {
      rows.push_back(i);
      true_probability.push_back(point->probability);
    }
  }
  nlohmann::json comparison = {{"outcome", outcome}, {"held_out_rows_matched", rows.size()}};
  if (rows.size() < 3) return comparison;
  std::vector<int> labels;
  for (size_t i : rows) labels.push_back(task.y[i]);
  comparison["mean_true_probability"] =
      std::accumulate(true_probability.begin(), true_probability.end(), 0.0) / double(rows.size());
  comparison["observed_rate"] =
      double(std::accumulate(labels.begin(), labels.end(), 0)) / double(rows.size());
  const BinaryMetrics oracle = compute_metrics(labels, true_probability);
  comparison["truth_auroc"] = json_number(oracle.auroc);
  comparison["truth_brier"] = json_number(oracle.brier);
  for (const MethodResult& method : task.methods) {
    std::vector<double> scores;
    for (size_t i : rows) scores.push_back(method.scores[i]);
    comparison[method.method] = {
        {"pearson_with_truth", json_number(pearson(scores, true_probability))},
        {"spearman_with_truth", json_number(pearson(midranks(scores), midranks(true_probability)))},
        {"mean_score", std::accumulate(scores.begin(), scores.end(), 0.0) / double(scores.size())},
        {"auroc_on_matched_rows", json_number(compute_metrics(labels, scores).auroc)}};
  }
  return comparison;
}

}  // namespace clinfm
