// Batched forward passes over the windows that hold the protocol's prediction points (longest
// first, right-padded: with causal attention a padded position never reaches a real one).
#include "eval/delphi_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "common/error.h"
#include "common/log.h"
#include "common/progress.h"
#include "eval/model_features.h"

namespace clinfm {
namespace {

struct Window {
  int32_t patient = 0;
  int64_t start = 0, length = 0;
  std::vector<std::pair<int64_t, int32_t>> reads;  // (position in the window, point)
};

std::vector<Window> plan_windows(const std::vector<PatientTimeline>& patients, const DelphiPlan& plan,
                                 int64_t context) {
  const int64_t half = std::max<int64_t>(1, context / 2);
  std::map<std::pair<int32_t, int64_t>, size_t> index;
  std::vector<Window> windows;
  for (size_t k = 0; k < plan.points.size(); ++k) {
    const DelphiPoint& point = plan.points[k];
    const int64_t j = point.position;
    const int64_t start = j < context ? 0 : (j - context + 1 + half - 1) / half * half;
    const auto [at, fresh] = index.emplace(std::make_pair(point.patient, start), windows.size());
    if (fresh) {
      const int64_t events = static_cast<int64_t>(patients[size_t(point.patient)].size());
      windows.push_back({point.patient, start, std::min(context, events - start), {}});
    }
    windows[at->second].reads.emplace_back(j - start, static_cast<int32_t>(k));
  }
  std::stable_sort(windows.begin(), windows.end(),
                   [](const Window& a, const Window& b) { return a.length > b.length; });
  return windows;
}

ModelBatch window_batch(const std::vector<PatientTimeline>& patients, const std::vector<Window>& windows,
                        size_t first, size_t rows, int64_t seq_len) {
  std::vector<int64_t> tokens(rows * size_t(seq_len), 0), bins(rows * size_t(seq_len), 0);
  std::vector<float> ages(rows * size_t(seq_len), 0.0f);
  for (size_t r = 0; r < rows; ++r) {
    const Window& w = windows[first + r];
    const PatientTimeline& patient = patients[size_t(w.patient)];
    for (int64_t j = 0; j < seq_len; ++j) {
      const size_t source = size_t(w.start + std::min(j, w.length - 1)),
                   target = r * size_t(seq_len) + size_t(j);
      ages[target] = static_cast<float>(patient.age_days[source]);
      if (j < w.length) {
        tokens[target] = patient.tokens[source];
        bins[target] = patient.value_bins[source];
      }
    }
  }
  return inference_batch(tokens, bins, ages, static_cast<int64_t>(rows), seq_len);
}

}  // namespace

std::vector<float> delphi_model_scores(ClinicalTransformer& model,
                                       const std::vector<PatientTimeline>& patients, const DelphiPlan& plan,
                                       const std::vector<DelphiDisease>& diseases, int64_t context_events,
                                       bool progress) {
  torch::NoGradGuard no_grad;
  model->eval();
  const size_t D = diseases.size();
  std::vector<float> scores(plan.points.size() * D, 0.0f);
  std::vector<int64_t> disease_tokens;
  for (const DelphiDisease& d : diseases) disease_tokens.push_back(d.token);
  const torch::Tensor columns = torch::tensor(disease_tokens, torch::kInt64);
  const std::vector<Window> windows = plan_windows(patients, plan, context_events);
  constexpr int64_t kBatchTokens = 8192;
  Progress bar("Delphi protocol: model", "windows", static_cast<int64_t>(windows.size()));
  for (size_t next = 0; next < windows.size();) {
    const int64_t seq_len = windows[next].length;
    const size_t rows = std::min(windows.size() - next, size_t(std::max<int64_t>(1, kBatchTokens / seq_len)));
    const ModelOutput out = model->forward(window_batch(patients, windows, next, rows, seq_len));
    std::vector<int64_t> row_index, col_index;
    std::vector<int32_t> points;
    for (size_t r = 0; r < rows; ++r)
      for (const auto& [position, point] : windows[next + r].reads) {
        row_index.push_back(static_cast<int64_t>(r));
        col_index.push_back(position);
        points.push_back(point);
      }
    const torch::Tensor ri = torch::tensor(row_index, torch::kInt64),
                        ci = torch::tensor(col_index, torch::kInt64);
    const torch::Tensor log_probs =
        torch::log_softmax(out.logits.index({ri, ci}).to(torch::kFloat32), -1);  // [K, V]
    const torch::Tensor log_rates =
        (log_probs.index_select(1, columns) + out.log_rate.index({ri, ci}).to(torch::kFloat32).unsqueeze(1))
            .contiguous();  // [K, D]
    const float* data = log_rates.data_ptr<float>();
    for (size_t k = 0; k < points.size(); ++k)
      std::copy(data + k * D, data + (k + 1) * D, scores.begin() + int64_t(size_t(points[k]) * D));
    next += rows;
    if (progress) bar.update(static_cast<int64_t>(next));
  }
  if (progress) bar.finish();
  return scores;
}

DelphiResult run_delphi_protocol(ClinicalTransformer& model, const DelphiInputs& in) {
  DelphiResult result;
  result.spec = in.spec;
  result.context_events = in.context_events;
  result.diseases = delphi_diseases(in.vocab, in.spec);
  if (result.diseases.empty()) {
    throw InputError(
        fmt::format("delphi: no code of the data set starts with '{}' (or is '{}'), has an ICD-10 "
                    "chapter Delphi scores and at least {} training events",
                    in.spec.code_prefix, in.spec.death_code, in.spec.min_occurrences),
        "the protocol is for Delphi-format data sets (clinfm prep --format delphi); check "
        "delphi.code_prefix and delphi.min_occurrences in the suite");
  }
  const DelphiPlan plan = plan_delphi(in.held_out, result.diseases, in.spec);
  result.patients = static_cast<int64_t>(in.held_out.size());
  result.patients_without_sex = plan.patients_without_sex;
  result.prediction_points = static_cast<int64_t>(plan.points.size());
  log_info("delphi: {} diseases, {} held-out patients, {} prediction points", result.diseases.size(),
           result.patients, result.prediction_points);
  const auto started = std::chrono::steady_clock::now();
  const std::vector<float> model_scores =
      delphi_model_scores(model, in.held_out, plan, result.diseases, in.context_events, in.progress);
  result.model_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.methods.push_back(score_delphi("model", plan, result.diseases, model_scores, in.spec));
  result.calibration =
      delphi_calibration(in.held_out, plan, result.diseases, model_scores, in.spec.calibration_years);
  result.methods.push_back(score_delphi("age_sex_baseline", plan, result.diseases,
                                        age_sex_scores(in.train, in.held_out, plan, result.diseases),
                                        in.spec));
  const DelphiPlan train_plan = plan_delphi(in.train, result.diseases, in.spec);
  result.methods.push_back(score_delphi("count_baseline", plan, result.diseases,
                                        count_baseline_scores(in.train, train_plan, in.held_out, plan,
                                                              result.diseases, in.vocab.size(), in.spec),
                                        in.spec));
  for (const DelphiMethodResult& method : result.methods) {
    const DelphiSummary& all = method.summaries.front();
    log_info("delphi {:>16}: mean AUC {:.3f} ({:.3f}-{:.3f}) over {} diseases", method.method, all.mean_auc,
             all.lo, all.hi, all.diseases);
  }
  return result;
}

}  // namespace clinfm
