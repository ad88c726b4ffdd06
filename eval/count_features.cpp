// Token counts over the history of each prediction time.
#include "eval/count_features.h"

#include <cmath>

namespace clinfm {

std::vector<int32_t> select_count_columns(const std::vector<HistoryRef>& train_rows, int32_t vocab_size,
                                          int64_t min_rows) {
  std::vector<int64_t> rows_with(size_t(vocab_size), 0);
  std::vector<int64_t> seen_in_row(size_t(vocab_size), -1);
  for (size_t i = 0; i < train_rows.size(); ++i) {
    const HistoryRef& history = train_rows[i];
    for (int64_t j = 0; j < history.history_events; ++j) {
      const int32_t token = history.patient->tokens[size_t(j)];
      if (token < 0 || token >= vocab_size || seen_in_row[size_t(token)] == int64_t(i)) continue;
      seen_in_row[size_t(token)] = int64_t(i);
      rows_with[size_t(token)] += 1;
    }
  }
  std::vector<int32_t> columns;
  for (int32_t token = 1; token < vocab_size; ++token)  // <pad> never occurs in a history
    if (rows_with[size_t(token)] >= min_rows) columns.push_back(token);
  return columns;
}

FeatureMatrix count_features(const std::vector<HistoryRef>& rows, const std::vector<int32_t>& columns,
                             int32_t vocab_size) {
  std::vector<int32_t> column_of(size_t(vocab_size), -1);
  for (size_t i = 0; i < columns.size(); ++i) column_of[size_t(columns[i])] = int32_t(i);
  FeatureMatrix features;
  features.rows = static_cast<int64_t>(rows.size());
  features.cols = static_cast<int64_t>(columns.size()) + 1;
  features.values.assign(size_t(features.rows * features.cols), 0.0f);
  for (int64_t i = 0; i < features.rows; ++i) {
    const HistoryRef& history = rows[size_t(i)];
    float* row = features.values.data() + i * features.cols;
    for (int64_t j = 0; j < history.history_events; ++j) {
      const int32_t token = history.patient->tokens[size_t(j)];
      if (token >= 0 && token < vocab_size && column_of[size_t(token)] >= 0)
        row[column_of[size_t(token)]] += 1.0f;
    }
    for (int64_t j = 0; j + 1 < features.cols; ++j) row[j] = std::log1p(row[j]);
    row[features.cols - 1] = static_cast<float>(history.prediction_age_days / 365.25 / 10.0);
  }
  return features;
}

}  // namespace clinfm
