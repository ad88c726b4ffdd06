// Truth file + cohort births + salt -> (outcome, key, age) -> probability.
#include "eval/truth.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/deid.h"
#include "data/timestamp.h"

namespace clinfm {

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
  std::unordered_map<std::string, int64_t> births;
  {
    CsvReader cohort(cohort_path);
    const int subject = cohort.require_column("subject_id"), time = cohort.require_column("time"),
              code = cohort.require_column("code");
    std::vector<std::string_view> f;
    while (cohort.next(f)) {
      if (f[size_t(code)] != "MEDS_BIRTH") continue;
      int64_t seconds = 0;
      if (!parse_timestamp(f[size_t(time)], &seconds))
        throw InputError(fmt::format("{}: unparsable MEDS_BIRTH time '{}'", cohort.where(), f[size_t(time)]));
      births.emplace(std::string(f[size_t(subject)]), seconds);
    }
  }
  TruthTable table;
  CsvReader reader(truth_path);
  const int subject = reader.require_column("subject_id"), time = reader.require_column("prediction_time"),
            outcome = reader.require_column("outcome"), prob = reader.require_column("probability");
  std::vector<std::string_view> f;
  while (reader.next(f)) {
    const std::string id(f[size_t(subject)]);
    auto birth = births.find(id);
    int64_t seconds = 0;
    double p = 0;
    if (birth == births.end())
      throw InputError(
          fmt::format("{}: subject {} has no MEDS_BIRTH row in {}", reader.where(), id, cohort_path),
          "the truth file and the cohort must come from the same `clinfm synth` run");
    if (!parse_timestamp(f[size_t(time)], &seconds) || !parse_double(f[size_t(prob)], &p) || p < 0 || p > 1)
      throw InputError(fmt::format("{}: bad prediction_time or probability", reader.where()));
    TruthPoint point;
    point.age_days = static_cast<double>(seconds - birth->second) / kSecondsPerDay;
    point.probability = p;
    table.points_[std::string(f[size_t(outcome)])][subject_key(salt, id)].push_back(point);
    table.rows_ += 1;
  }
  return table;
}

const TruthPoint* TruthTable::find(const std::string& outcome, uint64_t key, double age_days) const {
  auto o = points_.find(outcome);
  if (o == points_.end()) return nullptr;
  auto k = o->second.find(key);
  if (k == o->second.end()) return nullptr;
  for (const TruthPoint& point : k->second)
    if (std::fabs(point.age_days - age_days) < 1e-4) return &point;
  return nullptr;
}

std::vector<std::string> TruthTable::outcomes() const {
  std::vector<std::string> names;
  for (const auto& [name, rows] : points_) names.push_back(name);
  return names;
}

}  // namespace clinfm
