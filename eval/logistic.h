// L2-regularised logistic regression for linear probes and count baselines, fitted with
// L-BFGS on standardised features (means and scales from the training rows only):
//   minimise  (1/n) sum_i logloss(y_i, sigmoid(w . z_i + b)) + (l2 / 2) |w|^2,  b unpenalised
// and the choice of l2 on a tuning split (best AUROC, ties to the stronger penalty). Plain
// C++, deterministic (no threads, no random numbers). Not a general optimiser library.
#pragma once

#include <cstdint>
#include <vector>

namespace clinfm {

// Row-major [rows, cols].
struct FeatureMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> values;
  const float* row(int64_t i) const { return values.data() + i * cols; }
  // Rows `indices` of this matrix, in that order.
  FeatureMatrix select_rows(const std::vector<int64_t>& indices) const;
};

struct LogisticModel {
  std::vector<double> mean, scale;  // [cols] standardisation
  std::vector<double> weights;      // [cols]
  double bias = 0;
  double l2 = 0;
  int iterations = 0;
};

LogisticModel fit_logistic(const FeatureMatrix& x, const std::vector<int>& y, double l2,
                           const LogisticModel* warm_start = nullptr);
std::vector<double> predict_logistic(const LogisticModel& model, const FeatureMatrix& x);

struct TunedLogistic {
  LogisticModel model;
  std::vector<double> grid;          // l2 values tried, strongest first
  std::vector<double> tuning_auroc;  // NaN when the tuning split has one class
};

// Tries each l2 of `grid` (default 1e2 ... 1e-4) and keeps the best on the tuning rows. When the
// tuning labels have one class the middle of the grid is kept (and said so in the results).
TunedLogistic fit_logistic_tuned(const FeatureMatrix& train_x, const std::vector<int>& train_y,
                                 const FeatureMatrix& tuning_x, const std::vector<int>& tuning_y,
                                 std::vector<double> grid = {});

}  // namespace clinfm
