// L-BFGS (memory 10) with a backtracking Armijo line search on the convex logistic objective.
#include "eval/logistic.h"

#include <algorithm>
#include <cmath>
#include <deque>

#include "common/check.h"
#include "eval/metrics.h"

namespace clinfm {

FeatureMatrix FeatureMatrix::select_rows(const std::vector<int64_t>& indices) const {
  FeatureMatrix out;
  out.rows = static_cast<int64_t>(indices.size());
  out.cols = cols;
  out.values.resize(size_t(out.rows * cols));
  for (size_t r = 0; r < indices.size(); ++r)
    std::copy(row(indices[r]), row(indices[r]) + cols, out.values.begin() + int64_t(r) * cols);
  return out;
}

namespace {

double log1p_exp(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }

struct Objective {
  const std::vector<double>* z;  // standardised [n, d]
  const std::vector<int>* y;
  int64_t n, d;
  double l2;

  // params = [w (d), b]; returns the loss and fills grad.
  double eval(const std::vector<double>& params, std::vector<double>& grad) const {
    std::fill(grad.begin(), grad.end(), 0.0);
    double loss = 0;
    const double* w = params.data();
    for (int64_t i = 0; i < n; ++i) {
      const double* zi = z->data() + i * d;
      double margin = params[size_t(d)];
      for (int64_t j = 0; j < d; ++j) margin += w[j] * zi[j];
      const int yi = (*y)[size_t(i)];
      loss += log1p_exp(margin) - yi * margin;
      const double r = 1.0 / (1.0 + std::exp(-margin)) - yi;
      for (int64_t j = 0; j < d; ++j) grad[size_t(j)] += r * zi[j];
      grad[size_t(d)] += r;
    }
    const double inv_n = 1.0 / double(n);
    loss *= inv_n;
    for (auto& g : grad) g *= inv_n;
    for (int64_t j = 0; j < d; ++j) {
      loss += 0.5 * l2 * w[j] * w[j];
      grad[size_t(j)] += l2 * w[j];
    }
    return loss;
  }
};

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

LogisticModel fit_logistic(const FeatureMatrix& x, const std::vector<int>& y, double l2,
                           const LogisticModel* warm_start) {
  CLINFM_CHECK(x.rows == static_cast<int64_t>(y.size()) && x.rows > 0, "logistic fit: {} rows, {} labels",
               x.rows, y.size());
  const int64_t n = x.rows, d = x.cols;
  LogisticModel m;
  m.l2 = l2;
  m.mean.assign(size_t(d), 0.0);
  m.scale.assign(size_t(d), 1.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) m.mean[size_t(j)] += x.row(i)[j];
  for (auto& v : m.mean) v /= double(n);
  std::vector<double> var(size_t(d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double c = x.row(i)[j] - m.mean[size_t(j)];
      var[size_t(j)] += c * c;
    }
  for (int64_t j = 0; j < d; ++j) {
    const double sd = std::sqrt(var[size_t(j)] / double(n));
    m.scale[size_t(j)] = sd > 1e-12 ? sd : 1.0;  // constant columns stay at zero after centring
  }
  std::vector<double> z(size_t(n * d));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j)
      z[size_t(i * d + j)] = (x.row(i)[j] - m.mean[size_t(j)]) / m.scale[size_t(j)];
  Objective f{&z, &y, n, d, l2};

  std::vector<double> params(size_t(d + 1), 0.0);
  if (warm_start && static_cast<int64_t>(warm_start->weights.size()) == d) {
    std::copy(warm_start->weights.begin(), warm_start->weights.end(), params.begin());
    params[size_t(d)] = warm_start->bias;
  } else {
    double pos = 0;
    for (int v : y) pos += v;
    const double rate = std::clamp(pos / double(n), 1e-6, 1 - 1e-6);
    params[size_t(d)] = std::log(rate / (1 - rate));
  }
  std::vector<double> grad(params.size()), new_grad(params.size()), direction(params.size());
  double loss = f.eval(params, grad);
  std::deque<std::vector<double>> s_hist, y_hist;
  const int kMemory = 10, kMaxIterations = 500;
  int it = 0;
  for (; it < kMaxIterations; ++it) {
    if (std::sqrt(dot(grad, grad)) < 1e-6) break;
    // Two-loop recursion: direction = -H grad.
    direction = grad;
    std::vector<double> alpha(s_hist.size());
    for (size_t k = s_hist.size(); k-- > 0;) {
      alpha[k] = dot(s_hist[k], direction) / dot(y_hist[k], s_hist[k]);
      for (size_t j = 0; j < direction.size(); ++j) direction[j] -= alpha[k] * y_hist[k][j];
    }
    if (!s_hist.empty()) {
      const double gamma = dot(s_hist.back(), y_hist.back()) / dot(y_hist.back(), y_hist.back());
      for (auto& v : direction) v *= gamma;
    }
    for (size_t k = 0; k < s_hist.size(); ++k) {
      const double beta = dot(y_hist[k], direction) / dot(y_hist[k], s_hist[k]);
      for (size_t j = 0; j < direction.size(); ++j) direction[j] += s_hist[k][j] * (alpha[k] - beta);
    }
    for (auto& v : direction) v = -v;
    double slope = dot(grad, direction);
    if (slope >= 0) {  // not a descent direction: restart from steepest descent
      s_hist.clear();
      y_hist.clear();
      for (size_t j = 0; j < direction.size(); ++j) direction[j] = -grad[j];
      slope = dot(grad, direction);
    }
    double step = s_hist.empty() ? std::min(1.0, 1.0 / std::sqrt(dot(grad, grad))) : 1.0;
    std::vector<double> candidate(params.size());
    double new_loss = loss;
    bool moved = false;
    for (int tries = 0; tries < 40; ++tries, step *= 0.5) {
      for (size_t j = 0; j < params.size(); ++j) candidate[j] = params[j] + step * direction[j];
      new_loss = f.eval(candidate, new_grad);
      if (new_loss <= loss + 1e-4 * step * slope) {
        moved = true;
        break;
      }
    }
    if (!moved) break;
    std::vector<double> s(params.size()), yv(params.size());
    for (size_t j = 0; j < params.size(); ++j) {
      s[j] = candidate[j] - params[j];
      yv[j] = new_grad[j] - grad[j];
    }
    const bool converged = loss - new_loss < 1e-10 * std::max(1.0, std::fabs(loss));
    params.swap(candidate);
    grad.swap(new_grad);
    loss = new_loss;
    if (dot(s, yv) > 1e-12) {
      s_hist.push_back(std::move(s));
      y_hist.push_back(std::move(yv));
      if (static_cast<int>(s_hist.size()) > kMemory) {
        s_hist.pop_front();
        y_hist.pop_front();
      }
    }
    if (converged) break;
  }
  m.weights.assign(params.begin(), params.begin() + d);
  m.bias = params[size_t(d)];
  m.iterations = it;
  return m;
}

std::vector<double> predict_logistic(const LogisticModel& model, const FeatureMatrix& x) {
  std::vector<double> out(size_t(x.rows));
  const int64_t d = x.cols;
  for (int64_t i = 0; i < x.rows; ++i) {
    double margin = model.bias;
    for (int64_t j = 0; j < d; ++j)
      margin += model.weights[size_t(j)] * (x.row(i)[j] - model.mean[size_t(j)]) / model.scale[size_t(j)];
    out[size_t(i)] = 1.0 / (1.0 + std::exp(-margin));
  }
  return out;
}

TunedLogistic fit_logistic_tuned(const FeatureMatrix& train_x, const std::vector<int>& train_y,
                                 const FeatureMatrix& tuning_x, const std::vector<int>& tuning_y,
                                 std::vector<double> grid) {
  if (grid.empty()) grid = {1e2, 1e1, 1.0, 1e-1, 1e-2, 1e-3, 1e-4};
  TunedLogistic t;
  t.grid = grid;
  const bool tunable = std::count(tuning_y.begin(), tuning_y.end(), 1) > 0 &&
                       std::count(tuning_y.begin(), tuning_y.end(), 0) > 0;
  double best = -1;
  LogisticModel previous;
  bool have_previous = false;
  std::vector<LogisticModel> fits;
  for (double l2 : grid) {
    LogisticModel m = fit_logistic(train_x, train_y, l2, have_previous ? &previous : nullptr);
    previous = m;
    have_previous = true;
    double auc = NAN;
    if (tunable) auc = compute_metrics(tuning_y, predict_logistic(m, tuning_x)).auroc;
    t.tuning_auroc.push_back(auc);
    if (tunable && auc > best + 1e-12) {
      best = auc;
      t.model = m;
    }
    fits.push_back(std::move(m));
  }
  if (!tunable) t.model = fits[fits.size() / 2];
  return t;
}

}  // namespace clinfm
