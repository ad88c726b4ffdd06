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
  EXPECT_EQ(rc, 0) << cmd << " failed (is scikit-learn installed in the project's Python? run scripts/setup.sh)";
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

TEST(Metrics, PercentileInterpolatesLikeNumpy) {
  std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile(v, 2.5), 1.075);
}

}  // namespace
}  // namespace clinfm
