// The truth file of a `clinfm synth` cohort joined to a data set: the generator's exact
// outcome probabilities at some visits, for comparing zero-shot risks with the best possible
// ones. The truth file holds raw subject ids and calendar times, the data set pseudonymous keys
// and ages; the join recomputes keys with the prep salt (data/deid.h) and ages from the cohort's
// MEDS_BIRTH rows. Raw ids stay in memory here and are never written anywhere.
// compare_with_truth puts a task's held-out scores beside those true probabilities.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "eval/results.h"

namespace clinfm {

struct TruthPoint {
  double age_days = 0;  // prediction time as an age
  double probability = 0;
};

class TruthTable {
 public:
  // Throws InputError naming the file (and line) on a missing file, column or bad row, and
  // when the salt file does not exist (it is never created here).
  static TruthTable load(const std::string& truth_path, const std::string& cohort_path,
                         const std::string& salt_path);
  // "x/cohort.truth.csv" -> "x/cohort.csv.gz" if it exists, else "x/cohort.csv".
  static std::string default_cohort_path(const std::string& truth_path);

  // Probability of `outcome` for the patient at that age (within 1e-4 days), or nullptr.
  const TruthPoint* find(const std::string& outcome, uint64_t key, double age_days) const;
  int64_t rows() const { return rows_; }
  std::vector<std::string> outcomes() const;

 private:
  std::map<std::string, std::unordered_map<uint64_t, std::vector<TruthPoint>>> points_;
  int64_t rows_ = 0;
};

// The held-out rows of `task` that `truth` knows for `outcome`: how many matched, the mean true
// probability, the observed rate, the AUROC and Brier of the true probabilities themselves, and
// per method the Pearson and Spearman correlations of its scores with them. Only the count when
// fewer than 3 rows matched; null for a correlation that is undefined.
nlohmann::json compare_with_truth(const TaskResult& task, const TruthTable& truth,
                                  const std::string& outcome);

}  // namespace clinfm
