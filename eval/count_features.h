// Count features of the EHRSHOT-style baseline: for each prediction time, log(1 + count) of
// every selected token among the events strictly before it (the whole history, not only the
// model's context), plus age in decades. Columns are chosen on the training rows only (tokens
// present in at least `min_rows` of them) so that the tuning and held-out splits never shape
// the features. Plain C++; no model.
#pragma once

#include <cstdint>
#include <vector>

#include "data/shard.h"
#include "eval/logistic.h"

namespace clinfm {

struct HistoryRef {
  const PatientTimeline* patient = nullptr;
  int64_t history_events = 0;  // events strictly before the prediction time
  double prediction_age_days = 0;
};

std::vector<int32_t> select_count_columns(const std::vector<HistoryRef>& train_rows, int32_t vocab_size,
                                          int64_t min_rows = 5);
// [rows, columns + 1]: the last column is age at the prediction time in decades.
FeatureMatrix count_features(const std::vector<HistoryRef>& rows, const std::vector<int32_t>& columns,
                             int32_t vocab_size);

}  // namespace clinfm
