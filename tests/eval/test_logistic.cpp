// Logistic regression against scikit-learn on the same data and penalty, and the tuning rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "eval/logistic.h"
#include "eval/metrics.h"

namespace clinfm {
namespace {

void make_data(uint64_t seed, int n, int d, FeatureMatrix* x, std::vector<int>* y) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  x->rows = n;
  x->cols = d;
  x->values.clear();
  y->clear();
  for (int i = 0; i < n; ++i) {
    double margin = -1.0;
    for (int j = 0; j < d; ++j) {
      const double v = normal(rng) * (j + 1) + 3.0 * j;  // different scales and means
      x->values.push_back(static_cast<float>(v));
      if (j < 3) margin += (j == 1 ? -0.8 : 0.6) * (v - 3.0 * j) / (j + 1);
    }
    y->push_back(u(rng) < 1.0 / (1.0 + std::exp(-margin)));
  }
}

TEST(Logistic, MatchesScikitLearn) {
  FeatureMatrix x;
  std::vector<int> y;
  make_data(1, 400, 6, &x, &y);
  const std::string csv = testing::TempDir() + "/logistic.csv";
  {
    std::ofstream out(csv);
    out << "y,x1,x2,x3,x4,x5,x6\n";
    out.precision(9);
    for (int i = 0; i < x.rows; ++i) {
      out << y[size_t(i)];
      for (int j = 0; j < x.cols; ++j) out << "," << x.row(i)[j];
      out << "\n";
    }
  }
  for (double l2 : {0.1, 0.001}) {
    const LogisticModel m = fit_logistic(x, y, l2);
    const std::vector<double> p = predict_logistic(m, x);
    const std::string cmd = CLINFM_PYTHON " " CLINFM_SOURCE_DIR "/tests/eval/sklearn_logistic.py " + csv +
                            " " + std::to_string(l2);
    FILE* pipe = popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::vector<double> ref;
    double v = 0;
    while (std::fscanf(pipe, "%lf", &v) == 1) ref.push_back(v);
    ASSERT_EQ(pclose(pipe), 0) << cmd;
    ASSERT_EQ(ref.size(), p.size());
    double worst = 0;
    for (size_t i = 0; i < p.size(); ++i) worst = std::max(worst, std::fabs(p[i] - ref[i]));
    EXPECT_LT(worst, 1e-4) << "l2 " << l2 << ": worst probability difference " << worst;
  }
}

TEST(Logistic, StrongPenaltyShrinksToThePrevalence) {
  FeatureMatrix x;
  std::vector<int> y;
  make_data(2, 300, 4, &x, &y);
  const LogisticModel m = fit_logistic(x, y, 1e6);
  const double rate = double(std::count(y.begin(), y.end(), 1)) / double(y.size());
  for (double p : predict_logistic(m, x)) EXPECT_NEAR(p, rate, 1e-3);
}

TEST(Logistic, TuningPicksTheBestGridValueOnTuningRows) {
  FeatureMatrix train, tuning;
  std::vector<int> train_y, tuning_y;
  make_data(3, 300, 5, &train, &train_y);
  make_data(4, 300, 5, &tuning, &tuning_y);
  const TunedLogistic t = fit_logistic_tuned(train, train_y, tuning, tuning_y);
  ASSERT_EQ(t.tuning_auroc.size(), t.grid.size());
  const double best = *std::max_element(t.tuning_auroc.begin(), t.tuning_auroc.end());
  const size_t chosen = size_t(std::find(t.grid.begin(), t.grid.end(), t.model.l2) - t.grid.begin());
  ASSERT_LT(chosen, t.grid.size());
  EXPECT_DOUBLE_EQ(t.tuning_auroc[chosen], best);
  EXPECT_GT(compute_metrics(tuning_y, predict_logistic(t.model, tuning)).auroc, 0.7);
  // One-class tuning labels: no tuning possible, the middle of the grid is kept.
  const TunedLogistic untuned =
      fit_logistic_tuned(train, train_y, tuning, std::vector<int>(tuning_y.size(), 0));
  EXPECT_DOUBLE_EQ(untuned.model.l2, untuned.grid[untuned.grid.size() / 2]);
  EXPECT_TRUE(std::isnan(untuned.tuning_auroc[0]));
}

}  // namespace
}  // namespace clinfm
