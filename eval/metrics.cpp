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
  BinaryMetrics m;
  const bool weighted = !weights.empty();
  double total_pos = 0, total_neg = 0, brier = 0;
  double bin_w[10] = {}, bin_y[10] = {}, bin_p[10] = {};
  for (size_t i = 0; i < y.size(); ++i) {
    const double w = weighted ? weights[i] : 1.0;
    if (w == 0) continue;
    (y[i] ? total_pos : total_neg) += w;
    const double d = score[i] - y[i];
    brier += w * d * d;
    const int b = bin_of(score[i]);
    bin_w[b] += w;
    bin_y[b] += w * y[i];
    bin_p[b] += w * score[i];
  }
  const double total = total_pos + total_neg;
  if (total <= 0) return m;
  m.brier = brier / total;
  for (int b = 0; b < 10; ++b)
    if (bin_w[b] > 0) m.ece += bin_w[b] / total * std::fabs(bin_y[b] / bin_w[b] - bin_p[b] / bin_w[b]);
  if (total_pos <= 0 || total_neg <= 0) {
    m.auroc = m.auprc = NAN;
    return m;
  }
  // Walk tie groups from the highest score down.
  double tp = 0, fp = 0, auc = 0, ap = 0, prev_recall = 0;
  size_t k = 0;
  while (k < order.size()) {
    const double s = score[size_t(order[k])];
    double group_pos = 0, group_neg = 0;
    for (; k < order.size() && score[size_t(order[k])] == s; ++k) {
      const size_t i = size_t(order[k]);
      const double w = weighted ? weights[i] : 1.0;
      (y[i] ? group_pos : group_neg) += w;
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
  m.auroc = auc / (total_pos * total_neg);
  m.auprc = ap;
  return m;
}

BinaryMetrics compute_metrics(const std::vector<int>& y, const std::vector<double>& score) {
  return compute_metrics(y, score, sort_by_score_desc(score), {});
}

double percentile(std::vector<double>& values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const double pos = q / 100.0 * double(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(values.size() - 1, lo + 1);
  return values[lo] + (pos - double(lo)) * (values[hi] - values[lo]);
}

MetricSummary summarize_metrics(const std::vector<int>& y, const std::vector<double>& score,
                                const std::vector<uint64_t>& cluster, const BootstrapOptions& options) {
  MetricSummary s;
  s.n = static_cast<int64_t>(y.size());
  s.n_positive = std::accumulate(y.begin(), y.end(), int64_t{0});
  std::unordered_map<uint64_t, int64_t> index;
  std::vector<int64_t> cluster_of(y.size());
  for (size_t i = 0; i < y.size(); ++i) {
    auto it = index.emplace(cluster[i], static_cast<int64_t>(index.size())).first;
    cluster_of[i] = it->second;
  }
  s.n_patients = static_cast<int64_t>(index.size());
  if (s.n_patients < options.min_patients) {
    s.reason = "too few patients";
    return s;
  }
  if (s.n_positive == 0 || s.n_positive == s.n) {
    s.reason = "one class only";
    return s;
  }
  // With one patient holding a class every resample that has both classes has nearly the same
  // ranking: the interval would look precise and mean nothing.
  std::vector<char> has_pos(size_t(s.n_patients), 0), has_neg(size_t(s.n_patients), 0);
  for (size_t i = 0; i < y.size(); ++i) (y[i] ? has_pos : has_neg)[size_t(cluster_of[i])] = 1;
  const int64_t pos_patients = std::count(has_pos.begin(), has_pos.end(), 1);
  const int64_t neg_patients = std::count(has_neg.begin(), has_neg.end(), 1);
  if (std::min(pos_patients, neg_patients) < options.min_class_patients) {
    s.reason = fmt::format("a class in fewer than {} patients", options.min_class_patients);
    return s;
  }
  s.reported = true;
  const std::vector<int64_t> order = sort_by_score_desc(score);
  const BinaryMetrics point = compute_metrics(y, score, order, {});
  std::vector<double> auroc, auprc, brier, ece;
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<int64_t> draw(0, s.n_patients - 1);
  std::vector<double> cluster_weight(size_t(s.n_patients)), weight(y.size());
  for (int64_t b = 0; b < options.samples; ++b) {
    std::fill(cluster_weight.begin(), cluster_weight.end(), 0.0);
    for (int64_t j = 0; j < s.n_patients; ++j) cluster_weight[size_t(draw(rng))] += 1.0;
    double pos = 0, neg = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      weight[i] = cluster_weight[size_t(cluster_of[i])];
      (y[i] ? pos : neg) += weight[i];
    }
    if (pos == 0 || neg == 0) {
      s.resamples_skipped += 1;
      continue;
    }
    const BinaryMetrics m = compute_metrics(y, score, order, weight);
    auroc.push_back(m.auroc);
    auprc.push_back(m.auprc);
    brier.push_back(m.brier);
    ece.push_back(m.ece);
  }
  s.resamples = static_cast<int64_t>(auroc.size());
  auto interval = [](double p, std::vector<double>& v) {
    Interval i;
    i.point = p;
    i.lo = percentile(v, 2.5);
    i.hi = percentile(v, 97.5);
    return i;
  };
  s.auroc = interval(point.auroc, auroc);
  s.auprc = interval(point.auprc, auprc);
  s.brier = interval(point.brier, brier);
  s.ece = interval(point.ece, ece);
  return s;
}

std::vector<CalibrationBin> calibration_bins(const std::vector<int>& y, const std::vector<double>& score) {
  std::vector<CalibrationBin> bins(10);
  for (int b = 0; b < 10; ++b) {
    bins[size_t(b)].lo = b / 10.0;
    bins[size_t(b)].hi = (b + 1) / 10.0;
  }
  for (size_t i = 0; i < y.size(); ++i) {
    CalibrationBin& bin = bins[size_t(bin_of(score[i]))];
    bin.n += 1;
    bin.mean_score += score[i];
    bin.mean_label += y[i];
  }
  for (auto& bin : bins) {
    if (bin.n > 0) {
      bin.mean_score /= double(bin.n);
      bin.mean_label /= double(bin.n);
    }
  }
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
    const double s = score[size_t(order[k])];
    for (; k < order.size() && score[size_t(order[k])] == s; ++k) (y[size_t(order[k])] ? tp : fp) += 1;
    points.emplace_back(fp / neg, tp / pos);
  }
  return points;
}

}  // namespace clinfm
