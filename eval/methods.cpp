// Linear methods, k-shot curve and per-method statistics.
#include "eval/methods.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace clinfm {

MethodResult fit_linear_method(const std::string& name, const FitRows& rows) {
  MethodResult m;
  m.method = name;
  const TunedLogistic fit = fit_logistic_tuned(rows.train, rows.train_y, rows.tuning, rows.tuning_y);
  m.scores = predict_logistic(fit.model, rows.held_out);
  nlohmann::json grid = nlohmann::json::array();
  for (size_t i = 0; i < fit.grid.size(); ++i) {
    const double auc = fit.tuning_auroc[i];
    grid.push_back(
        {{"l2", fit.grid[i]}, {"tuning_auroc", std::isfinite(auc) ? nlohmann::json(auc) : nlohmann::json()}});
  }
  m.details = {{"features", rows.train.cols},
               {"train_rows", rows.train.rows},
               {"chosen_l2", fit.model.l2},
               {"lbfgs_iterations", fit.model.iterations},
               {"l2_grid", grid}};
  if (!std::isfinite(fit.tuning_auroc.front()))
    m.details["note"] = "the tuning split has one class: l2 is the middle of the grid, not tuned";
  return m;
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
      std::vector<int64_t> p = positives, n = negatives;
      std::shuffle(p.begin(), p.end(), rng);
      std::shuffle(n.begin(), n.end(), rng);
      chosen.assign(p.begin(), p.begin() + k);
      chosen.insert(chosen.end(), n.begin(), n.begin() + k);
    }
    std::vector<int> y;
    for (int64_t i : chosen) y.push_back(rows.train_y[size_t(i)]);
    if (std::count(y.begin(), y.end(), 1) == 0 || std::count(y.begin(), y.end(), 0) == 0) continue;
    const TunedLogistic fit =
        fit_logistic_tuned(rows.train.select_rows(chosen), y, rows.tuning, rows.tuning_y);
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
  for (size_t g = 0; g < subgroups.size(); ++g) {
    std::vector<int> gy;
    std::vector<double> gs;
    std::vector<uint64_t> gp;
    for (size_t i = 0; i < y.size(); ++i) {
      if (!subgroups[g].member[i]) continue;
      gy.push_back(y[i]);
      gs.push_back(method.scores[i]);
      gp.push_back(patient[i]);
    }
    BootstrapOptions options = overall;
    options.seed = overall.seed + 0x9E3779B97F4A7C15ULL * (g + 1);  // same draws for every method
    options.min_patients = min_subgroup_patients;
    method.subgroups.push_back({subgroups[g].name, summarize_metrics(gy, gs, gp, options)});
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

}  // namespace clinfm
