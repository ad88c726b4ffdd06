// Weighted metrics in one pass over a fixed score order, so that each bootstrap resample costs
// O(n) (a resample is a weight per patient) instead of a sort.
#include "eval/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <unordered_map>

namespace clinfm {
namespace {

// Equal-width bin of a score; scores outside [0, 1] fall in the end bins.
int bin_of(double score) { return score >= 1.0 ? 9 : score > 0.0 ? static_cast<int>(score * 10.0) : 0; }

}  // namespace

std::vector<int64_t> sort_by_score_desc(const std::vector<double>& score) {
  std::vector<int64_t> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return score[size_t(a)] > score[size_t(b)]; });
  return order;
}

BinaryMetrics compute_metrics(const std::vector<int>& y, const std::vector<double>& score,
                              const std::vector<int64_t>& order, const std::vector<double>& weights) {
  BinaryMetrics metrics;
  const bool weighted = !weights.empty();
  double total_pos = 0, total_neg = 0, brier = 0;
  double bin_weight[10] = {}, bin_label[10] = {}, bin_score[10] = {};
  for (size_t i = 0; i < y.size(); ++i) {
    const double weight = weighted ? weights[i] : 1.0;
    if (weight == 0) continue;
    (y[i] ? total_pos : total_neg) += weight;
    const double error = score[i] - y[i];
    brier += weight * error * error;
    const int bin = bin_of(score[i]);
    bin_weight[bin] += weight;
    bin_label[bin] += weight * y[i];
    bin_score[bin] += weight * score[i];
  }
  const double total = total_pos + total_neg;
  if (total <= 0) return metrics;
  metrics.brier = brier / total;
  for (int bin = 0; bin < 10; ++bin)
    if (bin_weight[bin] > 0)
      metrics.ece += bin_weight[bin] / total *
                     std::fabs(bin_label[bin] / bin_weight[bin] - bin_score[bin] / bin_weight[bin]);
  if (total_pos <= 0 || total_neg <= 0) {
    metrics.auroc = metrics.auprc = NAN;
    return metrics;
  }
  // Walk tie groups from the highest score down.
  double tp = 0, fp = 0, auc = 0, ap = 0, prev_recall = 0;
  size_t k = 0;
  while (k < order.size()) {
    const double group_score = score[size_t(order[k])];
    double group_pos = 0, group_neg = 0;
    for (; k < order.size() && score[size_t(order[k])] == group_score; ++k) {
      const size_t i = size_t(order[k]);
      const double weight = weighted ? weights[i] : 1.0;
      (y[i] ? group_pos : group_neg) += weight;
    }
    auc += group_neg * (tp + 0.5 * group_pos);
    tp += group_pos;
    fp += group_neg;
    if (group_pos > 0) {
      const double recall = tp / total_pos;
      ap += (recall - prev_recall) * tp / (tp + fp);
      prev_recall = recall;
    }
  }
  metrics.auroc = auc / (total_pos * total_neg);
  metrics.auprc = ap;
  return metrics;
}

BinaryMetrics compute_metrics(const std::vector<int>& y, const std::vector<double>& score) {
  return compute_metrics(y, score, sort_by_score_desc(score), {});
}

std::vector<double> midranks(const std::vector<double>& x) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> rank(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && x[order[j]] == x[order[i]]) ++j;
    for (size_t k = i; k < j; ++k) rank[order[k]] = 0.5 * double(i + j - 1) + 1.0;
    i = j;
  }
  return rank;
}

double percentile(std::vector<double>& values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const double pos = q / 100.0 * double(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(values.size() - 1, lo + 1);
  return values[lo] + (pos - double(lo)) * (values[hi] - values[lo]);
}

namespace {

// Patient ids -> dense indices 0..patients-1, in order of first appearance.
std::vector<int64_t> dense_clusters(const std::vector<uint64_t>& cluster, int64_t* patients) {
  std::unordered_map<uint64_t, int64_t> index;
  std::vector<int64_t> cluster_of(cluster.size());
  for (size_t i = 0; i < cluster.size(); ++i) {
    auto entry = index.emplace(cluster[i], static_cast<int64_t>(index.size())).first;
    cluster_of[i] = entry->second;
  }
  *patients = static_cast<int64_t>(index.size());
  return cluster_of;
}

// Why the metrics of these rows are not reported; empty when they are.
std::string reason_not_reported(const std::vector<int>& y, const std::vector<int64_t>& cluster_of,
                                const MetricSummary& summary, const BootstrapOptions& options) {
  if (summary.n_patients < options.min_patients) return "too few patients";
  if (summary.n_positive == 0 || summary.n_positive == summary.n) return "one class only";
  // With one patient holding a class every resample that has both classes has nearly the same
  // ranking: the interval would look precise and mean nothing.
  std::vector<char> has_pos(size_t(summary.n_patients), 0), has_neg(size_t(summary.n_patients), 0);
  for (size_t i = 0; i < y.size(); ++i) (y[i] ? has_pos : has_neg)[size_t(cluster_of[i])] = 1;
  const int64_t pos_patients = std::count(has_pos.begin(), has_pos.end(), 1);
  const int64_t neg_patients = std::count(has_neg.begin(), has_neg.end(), 1);
  if (std::min(pos_patients, neg_patients) < options.min_class_patients)
    return fmt::format("a class in fewer than {} patients", options.min_class_patients);
  return {};
}

Interval interval_of(double point, std::vector<double>& resampled) {
  Interval interval;
  interval.point = point;
  interval.lo = percentile(resampled, 2.5);
  interval.hi = percentile(resampled, 97.5);
  return interval;
}

// The patient-level bootstrap: fills the intervals and resample counts of `summary`.
void bootstrap_intervals(const std::vector<int>& y, const std::vector<double>& score,
                         const std::vector<int64_t>& cluster_of, const BootstrapOptions& options,
                         MetricSummary& summary) {
  const std::vector<int64_t> order = sort_by_score_desc(score);
  const BinaryMetrics point = compute_metrics(y, score, order, {});
  std::vector<double> auroc, auprc, brier, ece;
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<int64_t> draw(0, summary.n_patients - 1);
  std::vector<double> cluster_weight(size_t(summary.n_patients)), weight(y.size());
  for (int64_t sample = 0; sample < options.samples; ++sample) {
    std::fill(cluster_weight.begin(), cluster_weight.end(), 0.0);
    for (int64_t j = 0; j < summary.n_patients; ++j) cluster_weight[size_t(draw(rng))] += 1.0;
    double pos = 0, neg = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      weight[i] = cluster_weight[size_t(cluster_of[i])];
      (y[i] ? pos : neg) += weight[i];
    }
    if (pos == 0 || neg == 0) {
      summary.resamples_skipped += 1;
      continue;
    }
    const BinaryMetrics resampled = compute_metrics(y, score, order, weight);
    auroc.push_back(resampled.auroc);
    auprc.push_back(resampled.auprc);
    brier.push_back(resampled.brier);
    ece.push_back(resampled.ece);
  }
  summary.resamples = static_cast<int64_t>(auroc.size());
  summary.auroc = interval_of(point.auroc, auroc);
  summary.auprc = interval_of(point.auprc, auprc);
  summary.brier = interval_of(point.brier, brier);
  summary.ece = interval_of(point.ece, ece);
}

}  // namespace

MetricSummary summarize_metrics(const std::vector<int>& y, const std::vector<double>& score,
                                const std::vector<uint64_t>& cluster, const BootstrapOptions& options) {
  MetricSummary summary;
  summary.n = static_cast<int64_t>(y.size());
  summary.n_positive = std::accumulate(y.begin(), y.end(), int64_t{0});
  const std::vector<int64_t> cluster_of = dense_clusters(cluster, &summary.n_patients);
  summary.reason = reason_not_reported(y, cluster_of, summary, options);
  if (!summary.reason.empty()) return summary;
  summary.reported = true;
  bootstrap_intervals(y, score, cluster_of, options, summary);
  return summary;
}

namespace {

void add_to_bin(CalibrationBin& bin, int label, double score) {
  bin.n += 1;
  bin.mean_score += score;
  bin.mean_label += label;
}

// Sums -> means.
void finish_bins(std::vector<CalibrationBin>& bins) {
  for (CalibrationBin& bin : bins) {
    if (bin.n > 0) {
      bin.mean_score /= double(bin.n);
      bin.mean_label /= double(bin.n);
    }
  }
}

}  // namespace

std::vector<CalibrationBin> calibration_bins(const std::vector<int>& y, const std::vector<double>& score) {
  std::vector<CalibrationBin> bins(10);
  for (int i = 0; i < 10; ++i) {
    bins[size_t(i)].lo = i / 10.0;
    bins[size_t(i)].hi = (i + 1) / 10.0;
  }
  for (size_t i = 0; i < y.size(); ++i) add_to_bin(bins[size_t(bin_of(score[i]))], y[i], score[i]);
  finish_bins(bins);
  return bins;
}

std::vector<CalibrationBin> quantile_calibration_bins(const std::vector<int>& y,
                                                      const std::vector<double>& score, int bin_count) {
  if (score.empty() || bin_count < 1) return {};
  std::vector<double> sorted = score;
  std::vector<double> edges;  // [bin_count + 1]
  for (int i = 0; i <= bin_count; ++i) edges.push_back(percentile(sorted, 100.0 * i / bin_count));
  std::vector<CalibrationBin> bins(static_cast<size_t>(bin_count));
  for (size_t b = 0; b < bins.size(); ++b) {
    bins[b].lo = edges[b];
    bins[b].hi = edges[b + 1];
  }
  const auto inner_begin = edges.begin() + 1, inner_end = edges.end() - 1;
  for (size_t i = 0; i < y.size(); ++i) {
    const auto bin = std::upper_bound(inner_begin, inner_end, score[i]) - inner_begin;
    add_to_bin(bins[size_t(bin)], y[i], score[i]);
  }
  finish_bins(bins);
  bins.erase(std::remove_if(bins.begin(), bins.end(), [](const CalibrationBin& bin) { return bin.n == 0; }),
             bins.end());
  return bins;
}

std::vector<std::pair<double, double>> roc_curve(const std::vector<int>& y,
                                                 const std::vector<double>& score) {
  const std::vector<int64_t> order = sort_by_score_desc(score);
  const double pos = double(std::accumulate(y.begin(), y.end(), int64_t{0}));
  const double neg = double(y.size()) - pos;
  std::vector<std::pair<double, double>> points{{0.0, 0.0}};
  if (pos == 0 || neg == 0) return points;
  double tp = 0, fp = 0;
  size_t k = 0;
  while (k < order.size()) {
    const double group_score = score[size_t(order[k])];
    for (; k < order.size() && score[size_t(order[k])] == group_score; ++k)
      (y[size_t(order[k])] ? tp : fp) += 1;
    points.emplace_back(fp / neg, tp / pos);
  }
  return points;
}

}  // namespace clinfm
