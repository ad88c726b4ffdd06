// The three ways a task is scored, on rows already labelled and featurised by the runner:
//   probe           L2 logistic regression on the model embedding (l2 picked on tuning)
//   zero_shot       the model's own risk from its next-event heads (formula in docs/eval.md)
//   count_baseline  L2 logistic regression on history token counts (count_features.h)
// plus the optional k-shot curve of probe and baseline, the statistics of one method's held-out
// scores (overall and per subgroup) and the subgroups themselves. Plain C++: features arrive as
// matrices.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/shard.h"
#include "eval/logistic.h"
#include "eval/results.h"

namespace clinfm {

struct FitRows {
  FeatureMatrix train, tuning, held_out;
  std::vector<int> train_y, tuning_y;
};

// Fits on train, picks l2 on tuning, returns held-out scores and details (chosen l2, grid).
MethodResult fit_linear_method(const std::string& name, const FitRows& rows);

// k = 1, 2, 4, ..., 128 positives and as many negatives drawn from train (seeded; one draw per
// k), plus "all"; l2 picked on the full tuning split; held-out AUROC point estimates.
nlohmann::json k_shot_curve(const FitRows& rows, const std::vector<int>& held_out_y, uint64_t seed);

struct SubgroupDefinition {
  std::string name;
  std::vector<char> member;  // [held-out rows]
};

// Overall and per-subgroup summaries of `method.scores` (filled in place).
void score_method(MethodResult& method, const std::vector<int>& y, const std::vector<uint64_t>& patient,
                  const std::vector<SubgroupDefinition>& subgroups, const BootstrapOptions& overall,
                  int64_t min_subgroup_patients);

// The subgroups named in eval.subgroups ("sex": female, male and, when present, unknown;
// "age_band": one per band of `age_bands`, by the age at the prediction time), in that order.
std::vector<SubgroupDefinition> define_subgroups(const std::vector<std::string>& subgroups,
                                                 const std::vector<Sex>& sexes,
                                                 const std::vector<double>& prediction_age_days,
                                                 const std::vector<double>& age_bands);

// Age bands from lower edges in years: {18, 40, 65} -> "<18", "18-39", "40-64", "65+".
std::vector<std::string> age_band_names(const std::vector<double>& edges);
int age_band_of(double age_years, const std::vector<double>& edges);  // index into age_band_names

}  // namespace clinfm
