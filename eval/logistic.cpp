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
  for (size_t i = 0; i < indices.size(); ++i)
    std::copy(row(indices[i]), row(indices[i]) + cols, out.values.begin() + int64_t(i) * cols);
  return out;
}

namespace {

constexpr int kMemory = 10, kMaxIterations = 500, kLineSearchTries = 40;

double log1p_exp(double margin) {
  return margin > 0 ? margin + std::log1p(std::exp(-margin)) : std::log1p(std::exp(margin));
}

struct Objective {
  const std::vector<double>* standardised;  // [rows, cols]
  const std::vector<int>* labels;           // [rows]
  int64_t rows, cols;
  double l2;

  // params = [w (cols), b]; returns the loss and fills grad.
  double eval(const std::vector<double>& params, std::vector<double>& grad) const {
    std::fill(grad.begin(), grad.end(), 0.0);
    double loss = 0;
    const double* weights = params.data();
    for (int64_t i = 0; i < rows; ++i) {
      const double* features = standardised->data() + i * cols;
      double margin = params[size_t(cols)];
      for (int64_t j = 0; j < cols; ++j) margin += weights[j] * features[j];
      const int label = (*labels)[size_t(i)];
      loss += log1p_exp(margin) - label * margin;
      const double residual = 1.0 / (1.0 + std::exp(-margin)) - label;
      for (int64_t j = 0; j < cols; ++j) grad[size_t(j)] += residual * features[j];
      grad[size_t(cols)] += residual;
    }
    const double inv_rows = 1.0 / double(rows);
    loss *= inv_rows;
    for (auto& component : grad) component *= inv_rows;
    for (int64_t j = 0; j < cols; ++j) {
      loss += 0.5 * l2 * weights[j] * weights[j];
      grad[size_t(j)] += l2 * weights[j];
    }
    return loss;
  }
};

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

// Column means and standard deviations of the training rows (a constant column keeps scale 1,
// so it stays at zero after centring); returns the standardised values [rows, cols].
std::vector<double> standardise(const FeatureMatrix& x, LogisticModel& model) {
  const int64_t rows = x.rows, cols = x.cols;
  model.mean.assign(size_t(cols), 0.0);
  model.scale.assign(size_t(cols), 1.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) model.mean[size_t(j)] += x.row(i)[j];
  for (auto& mean : model.mean) mean /= double(rows);
  std::vector<double> variance(size_t(cols), 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      const double centred = x.row(i)[j] - model.mean[size_t(j)];
      variance[size_t(j)] += centred * centred;
    }
  for (int64_t j = 0; j < cols; ++j) {
    const double deviation = std::sqrt(variance[size_t(j)] / double(rows));
    model.scale[size_t(j)] = deviation > 1e-12 ? deviation : 1.0;
  }
  std::vector<double> standardised(size_t(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      standardised[size_t(i * cols + j)] = (x.row(i)[j] - model.mean[size_t(j)]) / model.scale[size_t(j)];
  return standardised;
}

// [w, b] to start from: the warm start's, else zero weights and the bias of the prevalence.
std::vector<double> initial_params(int64_t cols, const std::vector<int>& y, const LogisticModel* warm_start) {
  std::vector<double> params(size_t(cols + 1), 0.0);
  if (warm_start && static_cast<int64_t>(warm_start->weights.size()) == cols) {
    std::copy(warm_start->weights.begin(), warm_start->weights.end(), params.begin());
    params[size_t(cols)] = warm_start->bias;
  } else {
    double positives = 0;
    for (int label : y) positives += label;
    const double rate = std::clamp(positives / double(y.size()), 1e-6, 1 - 1e-6);
    params[size_t(cols)] = std::log(rate / (1 - rate));
  }
  return params;
}

// The last kMemory steps (s) and gradient changes (y) of L-BFGS.
struct CurvatureHistory {
  std::deque<std::vector<double>> steps, changes;

  void clear() {
    steps.clear();
    changes.clear();
  }
  // Kept only with positive curvature, which keeps the implied Hessian positive definite.
  void push(std::vector<double> step, std::vector<double> change) {
    if (!(dot(step, change) > 1e-12)) return;  // a NaN curvature is not kept either
    steps.push_back(std::move(step));
    changes.push_back(std::move(change));
    if (static_cast<int>(steps.size()) > kMemory) {
      steps.pop_front();
      changes.pop_front();
    }
  }
};

// Two-loop recursion: -H grad.
std::vector<double> lbfgs_direction(const std::vector<double>& grad, const CurvatureHistory& history) {
  std::vector<double> direction = grad;
  const auto& steps = history.steps;
  const auto& changes = history.changes;
  std::vector<double> alpha(steps.size());
  for (size_t k = steps.size(); k-- > 0;) {
    alpha[k] = dot(steps[k], direction) / dot(changes[k], steps[k]);
    for (size_t j = 0; j < direction.size(); ++j) direction[j] -= alpha[k] * changes[k][j];
  }
  if (!steps.empty()) {
    const double gamma = dot(steps.back(), changes.back()) / dot(changes.back(), changes.back());
    for (auto& component : direction) component *= gamma;
  }
  for (size_t k = 0; k < steps.size(); ++k) {
    const double beta = dot(changes[k], direction) / dot(changes[k], steps[k]);
    for (size_t j = 0; j < direction.size(); ++j) direction[j] += steps[k][j] * (alpha[k] - beta);
  }
  for (auto& component : direction) component = -component;
  return direction;
}

// A point along `direction` that decreases the loss enough (Armijo); false when none does.
struct LineSearchResult {
  bool moved = false;
  std::vector<double> params, grad;
  double loss = 0;
};

LineSearchResult line_search(const Objective& objective, const std::vector<double>& params, double loss,
                             const std::vector<double>& direction, double slope, double step) {
  LineSearchResult result;
  result.params.resize(params.size());
  result.grad.resize(params.size());
  for (int tries = 0; tries < kLineSearchTries; ++tries, step *= 0.5) {
    for (size_t j = 0; j < params.size(); ++j) result.params[j] = params[j] + step * direction[j];
    result.loss = objective.eval(result.params, result.grad);
    if (result.loss <= loss + 1e-4 * step * slope) {
      result.moved = true;
      break;
    }
  }
  return result;
}

}  // namespace

LogisticModel fit_logistic(const FeatureMatrix& x, const std::vector<int>& y, double l2,
                           const LogisticModel* warm_start) {
  CLINFM_CHECK(x.rows == static_cast<int64_t>(y.size()) && x.rows > 0, "logistic fit: {} rows, {} labels",
               x.rows, y.size());
  LogisticModel model;
  model.l2 = l2;
  const std::vector<double> standardised = standardise(x, model);
  const Objective objective{&standardised, &y, x.rows, x.cols, l2};
  std::vector<double> params = initial_params(x.cols, y, warm_start);
  std::vector<double> grad(params.size());
  double loss = objective.eval(params, grad);
  CurvatureHistory history;
  int iteration = 0;
  for (; iteration < kMaxIterations; ++iteration) {
    if (std::sqrt(dot(grad, grad)) < 1e-6) break;
    std::vector<double> direction = lbfgs_direction(grad, history);
    double slope = dot(grad, direction);
    if (slope >= 0) {  // not a descent direction: restart from steepest descent
      history.clear();
      for (size_t j = 0; j < direction.size(); ++j) direction[j] = -grad[j];
      slope = dot(grad, direction);
    }
    const double first_step = history.steps.empty() ? std::min(1.0, 1.0 / std::sqrt(dot(grad, grad))) : 1.0;
    LineSearchResult next = line_search(objective, params, loss, direction, slope, first_step);
    if (!next.moved) break;
    std::vector<double> step(params.size()), change(params.size());
    for (size_t j = 0; j < params.size(); ++j) {
      step[j] = next.params[j] - params[j];
      change[j] = next.grad[j] - grad[j];
    }
    const bool converged = loss - next.loss < 1e-10 * std::max(1.0, std::fabs(loss));
    params.swap(next.params);
    grad.swap(next.grad);
    loss = next.loss;
    history.push(std::move(step), std::move(change));
    if (converged) break;
  }
  model.weights.assign(params.begin(), params.begin() + x.cols);
  model.bias = params[size_t(x.cols)];
  model.iterations = iteration;
  return model;
}

std::vector<double> predict_logistic(const LogisticModel& model, const FeatureMatrix& x) {
  std::vector<double> out(size_t(x.rows));
  for (int64_t i = 0; i < x.rows; ++i) {
    double margin = model.bias;
    for (int64_t j = 0; j < x.cols; ++j)
      margin += model.weights[size_t(j)] * (x.row(i)[j] - model.mean[size_t(j)]) / model.scale[size_t(j)];
    out[size_t(i)] = 1.0 / (1.0 + std::exp(-margin));
  }
  return out;
}

TunedLogistic fit_logistic_tuned(const FeatureMatrix& train_x, const std::vector<int>& train_y,
                                 const FeatureMatrix& tuning_x, const std::vector<int>& tuning_y,
                                 std::vector<double> grid) {
  if (grid.empty()) grid = {1e2, 1e1, 1.0, 1e-1, 1e-2, 1e-3, 1e-4};
  TunedLogistic tuned;
  tuned.grid = grid;
  const bool tunable = std::count(tuning_y.begin(), tuning_y.end(), 1) > 0 &&
                       std::count(tuning_y.begin(), tuning_y.end(), 0) > 0;
  double best = -1;
  LogisticModel previous;
  bool have_previous = false;
  std::vector<LogisticModel> fits;
  for (double l2 : grid) {
    LogisticModel model = fit_logistic(train_x, train_y, l2, have_previous ? &previous : nullptr);
    previous = model;
    have_previous = true;
    double auroc = NAN;
    if (tunable) auroc = compute_metrics(tuning_y, predict_logistic(model, tuning_x)).auroc;
    tuned.tuning_auroc.push_back(auroc);
    if (tunable && auroc > best + 1e-12) {
      best = auroc;
      tuned.model = model;
    }
    fits.push_back(std::move(model));
  }
  if (!tunable) tuned.model = fits[fits.size() / 2];
  return tuned;
}

}  // namespace clinfm
