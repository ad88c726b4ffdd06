// Token counts over the history of each prediction time.
#include "eval/count_features.h"

#include <cmath>

namespace clinfm {

std::vector<int32_t> select_count_columns(const std::vector<HistoryRef>& train_rows, int32_t vocab_size,
                                          int64_t min_rows) {
  std::vector<int64_t> rows_with(size_t(vocab_size), 0);
  std::vector<int64_t> seen_in_row(size_t(vocab_size), -1);
  for (size_t r = 0; r < train_rows.size(); ++r) {
    const HistoryRef& h = train_rows[r];
    for (int64_t i = 0; i < h.history_events; ++i) {
      const int32_t token = h.patient->tokens[size_t(i)];
      if (token < 0 || token >= vocab_size || seen_in_row[size_t(token)] == int64_t(r)) continue;
      seen_in_row[size_t(token)] = int64_t(r);
      rows_with[size_t(token)] += 1;
    }
  }
  std::vector<int32_t> columns;
  for (int32_t t = 1; t < vocab_size; ++t)  // <pad> never occurs in a history
    if (rows_with[size_t(t)] >= min_rows) columns.push_back(t);
  return columns;
}

FeatureMatrix count_features(const std::vector<HistoryRef>& rows, const std::vector<int32_t>& columns,
                             int32_t vocab_size) {
  std::vector<int32_t> column_of(size_t(vocab_size), -1);
  for (size_t c = 0; c < columns.size(); ++c) column_of[size_t(columns[c])] = int32_t(c);
  FeatureMatrix x;
  x.rows = static_cast<int64_t>(rows.size());
  x.cols = static_cast<int64_t>(columns.size()) + 1;
  x.values.assign(size_t(x.rows * x.cols), 0.0f);
  for (int64_t r = 0; r < x.rows; ++r) {
    const HistoryRef& h = rows[size_t(r)];
    float* row = x.values.data() + r * x.cols;
    for (int64_t i = 0; i < h.history_events; ++i) {
      const int32_t token = h.patient->tokens[size_t(i)];
      if (token >= 0 && token < vocab_size && column_of[size_t(token)] >= 0)
        row[column_of[size_t(token)]] += 1.0f;
    }
    for (int64_t c = 0; c + 1 < x.cols; ++c) row[c] = std::log1p(row[c]);
    row[x.cols - 1] = static_cast<float>(h.prediction_age_days / 365.25 / 10.0);
  }
  return x;
}

}  // namespace clinfm
