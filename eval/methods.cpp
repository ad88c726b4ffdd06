// Linear methods, k-shot curve, per-method statistics and the subgroups they are reported for.
#include "eval/methods.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "data/timestamp.h"

namespace clinfm {

MethodResult fit_linear_method(const std::string& name, const FitRows& rows) {
  MethodResult method;
  method.method = name;
  const TunedLogistic fit = fit_logistic_tuned(rows.train, rows.train_y, rows.tuning, rows.tuning_y);
  method.scores = predict_logistic(fit.model, rows.held_out);
  nlohmann::json grid = nlohmann::json::array();
  for (size_t i = 0; i < fit.grid.size(); ++i) {
    const double auc = fit.tuning_auroc[i];
    grid.push_back(
        {{"l2", fit.grid[i]}, {"tuning_auroc", std::isfinite(auc) ? nlohmann::json(auc) : nlohmann::json()}});
  }
  method.details = {{"features", rows.train.cols},
                    {"train_rows", rows.train.rows},
                    {"chosen_l2", fit.model.l2},
                    {"lbfgs_iterations", fit.model.iterations},
                    {"l2_grid", grid}};
  if (!std::isfinite(fit.tuning_auroc.front()))
    method.details["note"] = "the tuning split has one class: l2 is the middle of the grid, not tuned";
  return method;
}

nlohmann::json k_shot_curve(const FitRows& rows, const std::vector<int>& held_out_y, uint64_t seed) {
  std::vector<int64_t> positives, negatives;
  for (size_t i = 0; i < rows.train_y.size(); ++i)
    (rows.train_y[i] ? positives : negatives).push_back(int64_t(i));
  nlohmann::json curve = nlohmann::json::array();
  const bool scorable = std::count(held_out_y.begin(), held_out_y.end(), 1) > 0 &&
                        std::count(held_out_y.begin(), held_out_y.end(), 0) > 0;
  for (int64_t k : {1, 2, 4, 8, 16, 32, 64, 128, -1}) {
    std::vector<int64_t> chosen;
    if (k < 0) {
      chosen.resize(rows.train_y.size());
      for (size_t i = 0; i < chosen.size(); ++i) chosen[i] = int64_t(i);
    } else {
      if (k > static_cast<int64_t>(std::min(positives.size(), negatives.size()))) continue;
      std::mt19937_64 rng(seed + uint64_t(k));
      std::vector<int64_t> shuffled_positives = positives, shuffled_negatives = negatives;
      std::shuffle(shuffled_positives.begin(), shuffled_positives.end(), rng);
      std::shuffle(shuffled_negatives.begin(), shuffled_negatives.end(), rng);
      chosen.assign(shuffled_positives.begin(), shuffled_positives.begin() + k);
      chosen.insert(chosen.end(), shuffled_negatives.begin(), shuffled_negatives.begin() + k);
    }
    std::vector<int> labels;
    for (int64_t i : chosen) labels.push_back(rows.train_y[size_t(i)]);
    if (std::count(labels.begin(), labels.end(), 1) == 0 || std::count(labels.begin(), labels.end(), 0) == 0)
      continue;
    const TunedLogistic fit =
        fit_logistic_tuned(rows.train.select_rows(chosen), labels, rows.tuning, rows.tuning_y);
    const double auc =
        scorable ? compute_metrics(held_out_y, predict_logistic(fit.model, rows.held_out)).auroc : NAN;
    curve.push_back({{"k", k < 0 ? nlohmann::json("all") : nlohmann::json(k)},
                     {"train_rows", chosen.size()},
                     {"held_out_auroc", std::isfinite(auc) ? nlohmann::json(auc) : nlohmann::json()}});
  }
  return curve;
}

void score_method(MethodResult& method, const std::vector<int>& y, const std::vector<uint64_t>& patient,
                  const std::vector<SubgroupDefinition>& subgroups, const BootstrapOptions& overall,
                  int64_t min_subgroup_patients) {
  method.overall = summarize_metrics(y, method.scores, patient, overall);
  method.subgroups.clear();
  for (size_t k = 0; k < subgroups.size(); ++k) {
    std::vector<int> group_y;
    std::vector<double> group_scores;
    std::vector<uint64_t> group_patients;
    for (size_t i = 0; i < y.size(); ++i) {
      if (!subgroups[k].member[i]) continue;
      group_y.push_back(y[i]);
      group_scores.push_back(method.scores[i]);
      group_patients.push_back(patient[i]);
    }
    BootstrapOptions options = overall;
    options.seed = overall.seed + 0x9E3779B97F4A7C15ULL * (k + 1);  // same draws for every method
    options.min_patients = min_subgroup_patients;
    method.subgroups.push_back(
        {subgroups[k].name, summarize_metrics(group_y, group_scores, group_patients, options)});
  }
}

std::vector<std::string> age_band_names(const std::vector<double>& edges) {
  std::vector<std::string> names;
  if (edges.empty()) return {"all ages"};
  if (edges.front() > 0) names.push_back(fmt::format("<{:g}", edges.front()));
  for (size_t i = 0; i + 1 < edges.size(); ++i)
    names.push_back(fmt::format("{:g}-{:g}", edges[i], edges[i + 1] - 1));
  names.push_back(fmt::format("{:g}+", edges.back()));
  return names;
}

int age_band_of(double age_years, const std::vector<double>& edges) {
  if (edges.empty()) return 0;
  const int offset = edges.front() > 0 ? 1 : 0;
  int band = -1;
  for (size_t i = 0; i < edges.size(); ++i)
    if (age_years >= edges[i]) band = static_cast<int>(i);
  return band + offset;
}

namespace {

std::vector<SubgroupDefinition> sex_subgroups(const std::vector<Sex>& sexes) {
  const std::pair<Sex, const char*> values[] = {
      {Sex::kFemale, "female"}, {Sex::kMale, "male"}, {Sex::kUnknown, "unknown"}};
  std::vector<SubgroupDefinition> groups;
  for (const auto& [sex, name] : values) {
    SubgroupDefinition group{fmt::format("sex={}", name), {}};
    for (Sex patient_sex : sexes) group.member.push_back(patient_sex == sex);
    if (std::count(group.member.begin(), group.member.end(), 1) > 0 || sex != Sex::kUnknown)
      groups.push_back(std::move(group));
  }
  return groups;
}

std::vector<SubgroupDefinition> age_subgroups(const std::vector<double>& prediction_age_days,
                                              const std::vector<double>& age_bands) {
  const std::vector<std::string> names = age_band_names(age_bands);
  std::vector<SubgroupDefinition> groups;
  for (size_t band = 0; band < names.size(); ++band) {
    SubgroupDefinition group{"age=" + names[band], {}};
    for (double age : prediction_age_days)
      group.member.push_back(age_band_of(age / kDaysPerYear, age_bands) == static_cast<int>(band));
    groups.push_back(std::move(group));
  }
  return groups;
}

}  // namespace

std::vector<SubgroupDefinition> define_subgroups(const std::vector<std::string>& subgroups,
                                                 const std::vector<Sex>& sexes,
                                                 const std::vector<double>& prediction_age_days,
                                                 const std::vector<double>& age_bands) {
  std::vector<SubgroupDefinition> groups;
  for (const std::string& subgroup : subgroups) {
    const std::vector<SubgroupDefinition> more =
        subgroup == "sex" ? sex_subgroups(sexes) : age_subgroups(prediction_age_days, age_bands);
    groups.insert(groups.end(), more.begin(), more.end());
  }
  return groups;
}

}  // namespace clinfm
