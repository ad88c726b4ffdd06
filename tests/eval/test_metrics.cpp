// Metrics against scikit-learn on the same predictions (ties, weights, imbalance), and the
// bootstrap's properties: weighted metrics equal metrics on replicated rows, seeded intervals
// repeat, intervals cover the point estimate, too-small and one-class groups are not reported.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "eval/metrics.h"

namespace clinfm {
namespace {

struct Case {
  std::vector<int> y;
  std::vector<double> score, weight;
};

Case make_case(uint64_t seed, int n, double positive_rate, bool ties, bool weighted) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Case c;
  for (int i = 0; i < n; ++i) {
    const int y = u(rng) < positive_rate;
    double s = std::clamp(0.3 * y + 0.7 * u(rng), 0.0, 1.0);
    if (ties) s = std::round(s * 8) / 8;  // many tied scores, some exactly on bin edges
    c.y.push_back(y);
    c.score.push_back(s);
    c.weight.push_back(weighted ? 1 + int(u(rng) * 3) : 1.0);
  }
  return c;
}

nlohmann::json sklearn(const Case& c, const std::string& name) {
  const std::string csv = testing::TempDir() + "/metrics_" + name + ".csv";
  {
    std::ofstream out(csv);
    out << "y,score,weight\n";
    out.precision(17);
    for (size_t i = 0; i < c.y.size(); ++i) out << c.y[i] << "," << c.score[i] << "," << c.weight[i] << "\n";
  }
  const std::string cmd = CLINFM_PYTHON " " CLINFM_SOURCE_DIR "/tests/eval/sklearn_metrics.py " + csv;
  FILE* pipe = popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string text;
  char buffer[4096];
  while (pipe && std::fgets(buffer, sizeof buffer, pipe)) text += buffer;
  const int rc = pipe ? pclose(pipe) : -1;
  EXPECT_EQ(rc, 0) << cmd
                   << " failed (is scikit-learn installed in the project's Python? run scripts/setup.sh)";
  return nlohmann::json::parse(text);
}

TEST(Metrics, MatchScikitLearn) {
  struct Setting {
    const char* name;
    int n;
    double rate;
    bool ties, weighted;
  };
  for (const Setting& s :
       {Setting{"plain", 500, 0.3, false, false}, Setting{"ties", 400, 0.2, true, false},
        Setting{"weighted", 300, 0.4, false, true}, Setting{"rare_ties_weighted", 800, 0.03, true, true}}) {
    const Case c = make_case(7, s.n, s.rate, s.ties, s.weighted);
    const nlohmann::json ref = sklearn(c, s.name);
    const BinaryMetrics m = compute_metrics(c.y, c.score, sort_by_score_desc(c.score), c.weight);
    EXPECT_NEAR(m.auroc, ref["auroc"].get<double>(), 1e-12) << s.name;
    EXPECT_NEAR(m.auprc, ref["auprc"].get<double>(), 1e-12) << s.name;
    EXPECT_NEAR(m.brier, ref["brier"].get<double>(), 1e-12) << s.name;
    if (!s.ties) {  // sklearn bins (lo, hi], ours [lo, hi): they agree off the bin edges
      EXPECT_NEAR(compute_metrics(c.y, c.score).ece, ref["ece_unweighted"].get<double>(), 1e-12) << s.name;
    }
  }
}

TEST(Metrics, HandComputedSmallCase) {
  // Scores 0.9(+) 0.8(-) 0.7(+) 0.1(-): pairs ranked right 3 of 4.
  const std::vector<int> y = {1, 0, 1, 0};
  const std::vector<double> s = {0.9, 0.8, 0.7, 0.1};
  const BinaryMetrics m = compute_metrics(y, s);
  EXPECT_DOUBLE_EQ(m.auroc, 0.75);
  EXPECT_DOUBLE_EQ(m.auprc, 0.5 * 1.0 + 0.5 * (2.0 / 3.0));
  EXPECT_DOUBLE_EQ(m.brier, (0.01 + 0.64 + 0.09 + 0.01) / 4);
  // Bins: 0.9 -> 9 (|1-0.9|), 0.8 -> 8 (|0-0.8|), 0.7 -> 7 (|1-0.7|), 0.1 -> 1 (|0-0.1|).
  EXPECT_NEAR(m.ece, (0.1 + 0.8 + 0.3 + 0.1) / 4, 1e-12);
}

TEST(Metrics, WeightsEqualReplicatedRows) {
  const Case c = make_case(3, 200, 0.3, true, true);
  Case rep;
  for (size_t i = 0; i < c.y.size(); ++i)
    for (int k = 0; k < int(c.weight[i]); ++k) {
      rep.y.push_back(c.y[i]);
      rep.score.push_back(c.score[i]);
    }
  const BinaryMetrics a = compute_metrics(c.y, c.score, sort_by_score_desc(c.score), c.weight);
  const BinaryMetrics b = compute_metrics(rep.y, rep.score);
  EXPECT_NEAR(a.auroc, b.auroc, 1e-12);
  EXPECT_NEAR(a.auprc, b.auprc, 1e-12);
  EXPECT_NEAR(a.brier, b.brier, 1e-12);
  EXPECT_NEAR(a.ece, b.ece, 1e-12);
}

TEST(Metrics, BootstrapIsSeededAndCoversThePoint) {
  const Case c = make_case(11, 600, 0.25, false, false);
  std::vector<uint64_t> patient;
  for (size_t i = 0; i < c.y.size(); ++i) patient.push_back(i / 3);  // 3 rows per patient
  BootstrapOptions o;
  o.samples = 300;
  o.seed = 5;
  const MetricSummary a = summarize_metrics(c.y, c.score, patient, o);
  const MetricSummary b = summarize_metrics(c.y, c.score, patient, o);
  ASSERT_TRUE(a.reported);
  EXPECT_EQ(a.n_patients, 200);
  EXPECT_EQ(a.auroc.lo, b.auroc.lo);
  EXPECT_EQ(a.ece.hi, b.ece.hi);
  EXPECT_LT(a.auroc.lo, a.auroc.point);
  EXPECT_GT(a.auroc.hi, a.auroc.point);
  EXPECT_LT(a.brier.lo, a.brier.point);
  EXPECT_GT(a.auroc.hi - a.auroc.lo, 0.02);
  EXPECT_LT(a.auroc.hi - a.auroc.lo, 0.3);
  o.seed = 6;
  EXPECT_NE(summarize_metrics(c.y, c.score, patient, o).auroc.lo, a.auroc.lo);
}

TEST(Metrics, SmallOrOneClassGroupsAreNotReported) {
  BootstrapOptions o;
  o.samples = 50;
  o.min_patients = 30;
  const std::vector<int> y = {0, 1, 0, 1};
  const std::vector<double> s = {0.1, 0.9, 0.2, 0.8};
  const MetricSummary few = summarize_metrics(y, s, {1, 2, 3, 4}, o);
  EXPECT_FALSE(few.reported);
  EXPECT_EQ(few.reason, "too few patients");
  EXPECT_EQ(few.n, 4);
  o.min_patients = 0;
  const MetricSummary one = summarize_metrics({0, 0, 0}, {0.1, 0.2, 0.3}, {1, 2, 3}, o);
  EXPECT_FALSE(one.reported);
  EXPECT_EQ(one.reason, "one class only");
  // One positive patient (with two positive rows): no interval that would look precise.
  const MetricSummary lone =
      summarize_metrics({1, 1, 0, 0, 0}, {0.9, 0.8, 0.1, 0.2, 0.3}, {1, 1, 2, 3, 4}, o);
  EXPECT_FALSE(lone.reported);
  EXPECT_EQ(lone.reason, "a class in fewer than 2 patients");
  EXPECT_TRUE(summarize_metrics({1, 1, 0, 0, 0}, {0.9, 0.8, 0.1, 0.2, 0.3}, {1, 5, 2, 3, 4}, o).reported);
}

TEST(Metrics, RareOutcomeScoresSpreadOverTenQuantileBins) {
  // Scores 0.01, 0.02, ..., 0.20: all in the first three equal-width bins, two per quantile bin.
  // Edges (numpy's percentiles, linear): 0.01 + 0.019 k; bin k holds scores k+1 and k+2 (in 0.01).
  std::vector<int> y;
  std::vector<double> s;
  for (int i = 1; i <= 20; ++i) {
    s.push_back(i / 100.0);
    y.push_back(i % 4 == 0);  // 0.04, 0.08, ...: positives
  }
  int64_t equal_width_first_three = 0;
  for (const CalibrationBin& bin : calibration_bins(y, s))
    equal_width_first_three += bin.hi <= 0.3 ? bin.n : 0;
  EXPECT_EQ(equal_width_first_three, 20);
  const std::vector<CalibrationBin> bins = quantile_calibration_bins(y, s);
  ASSERT_EQ(bins.size(), 10u);
  for (size_t k = 0; k < bins.size(); ++k) {
    EXPECT_EQ(bins[k].n, 2) << k;
    EXPECT_NEAR(bins[k].lo, 0.01 + 0.019 * double(k), 1e-12) << k;
    EXPECT_NEAR(bins[k].hi, 0.01 + 0.019 * double(k + 1), 1e-12) << k;
    EXPECT_NEAR(bins[k].mean_score, (4.0 * double(k) + 3.0) / 200.0, 1e-12) << k;
    EXPECT_DOUBLE_EQ(bins[k].mean_label, 0.5 * double(k % 2));  // scores 4,8,... end the odd bins
  }
}

TEST(Metrics, TiedScoresShareOneQuantileBinAndEmptyBinsAreDropped) {
  // Sorted scores .1 x6, .2, .3, .4, .5; edges (percentiles 0, 10, ..., 100):
  // .1 .1 .1 .1 .1 .1 .14 .23 .32 .41 .5. A score goes after every inner edge <= it
  // (searchsorted side="right"): the six .1 to bin 5 [.1, .14), .2 to [.14, .23), and so on;
  // bins 0-4 stay empty and are dropped.
  const std::vector<double> s = {0.1, 0.3, 0.1, 0.5, 0.1, 0.2, 0.1, 0.4, 0.1, 0.1};
  const std::vector<int> y = {0, 0, 1, 1, 0, 0, 0, 1, 0, 0};
  const std::vector<CalibrationBin> bins = quantile_calibration_bins(y, s);
  ASSERT_EQ(bins.size(), 5u);
  const double lo[] = {0.1, 0.14, 0.23, 0.32, 0.41}, hi[] = {0.14, 0.23, 0.32, 0.41, 0.5};
  const double mean_score[] = {0.1, 0.2, 0.3, 0.4, 0.5}, mean_label[] = {1.0 / 6, 0, 0, 1, 1};
  const int64_t n[] = {6, 1, 1, 1, 1};
  for (size_t k = 0; k < bins.size(); ++k) {
    EXPECT_NEAR(bins[k].lo, lo[k], 1e-12) << k;
    EXPECT_NEAR(bins[k].hi, hi[k], 1e-12) << k;
    EXPECT_NEAR(bins[k].mean_score, mean_score[k], 1e-12) << k;
    EXPECT_NEAR(bins[k].mean_label, mean_label[k], 1e-12) << k;
    EXPECT_EQ(bins[k].n, n[k]) << k;
  }
  EXPECT_TRUE(quantile_calibration_bins({}, {}).empty());
}

TEST(Metrics, PercentileInterpolatesLikeNumpy) {
  std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile(v, 2.5), 1.075);
}

}  // namespace
}  // namespace clinfm
