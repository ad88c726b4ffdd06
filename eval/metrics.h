// Binary-classification metrics with optional sample weights, and their patient-level
// bootstrap intervals. Definitions match scikit-learn (tests/eval/sklearn_metrics.py checks):
//   AUROC  roc_auc_score (ties count one half)
//   AUPRC  average_precision_score (step-wise, one step per distinct score)
//   Brier  brier_score_loss, mean (p - y)^2
//   ECE    10 equal-width bins [0, .1), ..., [.9, 1]: sum over bins of (weight share) x
//          |mean label - mean score|; sklearn has no ECE, the test computes it from its
//          calibration_curve.
// The calibration plot uses quantile bins instead (quantile_calibration_bins): with a rare
// outcome nearly every score falls in the first equal-width bin.
// Bootstrap: resample patients (not prediction times, which are correlated within a patient)
// with replacement, B times from a seeded generator; a resample holding one class only is
// skipped and counted; interval = 2.5 and 97.5 percentiles (linear interpolation).
// Plain C++: no model, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace clinfm {

struct BinaryMetrics {
  double auroc = 0, auprc = 0, brier = 0, ece = 0;
};

// `order`: indices sorted by score, descending (sort_by_score_desc); `weights` may be empty.
BinaryMetrics compute_metrics(const std::vector<int>& y, const std::vector<double>& score,
                              const std::vector<int64_t>& order, const std::vector<double>& weights);
BinaryMetrics compute_metrics(const std::vector<int>& y, const std::vector<double>& score);
std::vector<int64_t> sort_by_score_desc(const std::vector<double>& score);

struct Interval {
  double point = 0, lo = 0, hi = 0;
};

struct CalibrationBin {
  double lo = 0, hi = 0, mean_score = 0, mean_label = 0;
  int64_t n = 0;
};

struct MetricSummary {
  int64_t n = 0, n_positive = 0, n_patients = 0;
  bool reported = false;
  std::string
      reason;  // when not reported: "too few patients", "one class only", "a class in fewer than 2 patients"
  Interval auroc, auprc, brier, ece;
  int64_t resamples = 0, resamples_skipped = 0;
};

struct BootstrapOptions {
  int64_t samples = 1000;
  uint64_t seed = 1234;
  int64_t min_patients = 0;        // fewer patients: not reported
  int64_t min_class_patients = 2;  // each class must occur in at least this many patients
};

// `cluster[i]`: patient of example i (any ids). Same seed and inputs: same intervals.
MetricSummary summarize_metrics(const std::vector<int>& y, const std::vector<double>& score,
                                const std::vector<uint64_t>& cluster, const BootstrapOptions& options);

// The ECE's 10 equal-width bins, all of them (an empty one has n = 0).
std::vector<CalibrationBin> calibration_bins(const std::vector<int>& y, const std::vector<double>& score);
// `bin_count` bins holding about equally many predictions, as scikit-learn's
// calibration_curve(strategy="quantile"): edges at the 0, 100/bin_count, ..., 100th percentiles of
// the scores, a score in [edge_i, edge_i+1) (the last bin closed), i.e.
// np.searchsorted(edges[1:-1], score, side="right"); bins left empty by tied edges are dropped, so
// tied scores share one bin. scikit-learn 1.9 searches side="left" ((edge_i, edge_i+1]): the two
// agree on every score off an inner edge.
std::vector<CalibrationBin> quantile_calibration_bins(const std::vector<int>& y,
                                                      const std::vector<double>& score, int bin_count = 10);
// ROC curve points (fpr, tpr), one per distinct score, from (0,0) to (1,1).
std::vector<std::pair<double, double>> roc_curve(const std::vector<int>& y, const std::vector<double>& score);

// 1-based average ranks (midranks): tied values share the mean of their ranks.
std::vector<double> midranks(const std::vector<double>& values);

// Percentile with linear interpolation (numpy's default); `values` is sorted in place.
double percentile(std::vector<double>& values, double q);

}  // namespace clinfm
