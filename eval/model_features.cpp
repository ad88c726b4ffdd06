// Batched forward passes over prediction-time windows, longest first to keep padding small.
// Windows are right-padded: with causal attention a padded position never reaches a real one.
#include "eval/model_features.h"

#include <algorithm>
#include <numeric>

#include "common/check.h"
#include "common/progress.h"

namespace clinfm {

ModelFeatures extract_model_features(ClinicalTransformer& model, const std::vector<WindowRequest>& requests,
                                     const std::vector<std::vector<char>>& token_sets,
                                     const ExtractOptions& options) {
  torch::NoGradGuard no_grad;
  model->eval();
  const int64_t vocab = model->dims.vocab_size;
  ModelFeatures out;
  out.rows = static_cast<int64_t>(requests.size());
  out.dim = 2 * model->dims.d_model;
  out.sets = static_cast<int64_t>(token_sets.size());
  out.embedding.assign(size_t(out.rows * out.dim), 0.0f);
  out.rate.assign(size_t(out.rows), 0.0);
  out.set_prob.assign(size_t(out.rows * out.sets), 0.0);
  if (out.rows == 0) return out;

  torch::Tensor set_matrix =
      torch::zeros({vocab, std::max<int64_t>(1, out.sets)}, torch::kFloat32);  // [V, S]
  for (int64_t s = 0; s < out.sets; ++s) {
    CLINFM_CHECK(static_cast<int64_t>(token_sets[size_t(s)].size()) == vocab,
                 "token set {} has {} flags for {} tokens", s, token_sets[size_t(s)].size(), vocab);
    for (int64_t v = 0; v < vocab; ++v)
      if (token_sets[size_t(s)][size_t(v)]) set_matrix[v][s] = 1.0f;
  }

  auto length_of = [&](size_t i) { return std::min(requests[i].history_events, options.context_events); };
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return length_of(a) > length_of(b); });

  Progress progress("embedding extraction", "windows", out.rows);
  size_t next = 0;
  while (next < order.size()) {
    const int64_t seq_len = length_of(order[next]);
    const int64_t rows =
        std::max<int64_t>(1, std::min<int64_t>(options.batch_tokens / std::max<int64_t>(1, seq_len),
                                               int64_t(order.size() - next)));
    std::vector<int64_t> tokens(size_t(rows * seq_len), 0), bins(size_t(rows * seq_len), 0);
    std::vector<int64_t> last(static_cast<size_t>(rows), 0);
    std::vector<float> ages(size_t(rows * seq_len), 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      const WindowRequest& q = requests[order[next + size_t(r)]];
      CLINFM_CHECK(q.history_events > 0 && q.history_events <= static_cast<int64_t>(q.patient->size()),
                   "window of {} events for a patient with {}", q.history_events, q.patient->size());
      const int64_t len = length_of(order[next + size_t(r)]);
      const int64_t start = q.history_events - len;
      for (int64_t t = 0; t < seq_len; ++t) {
        const size_t src = size_t(start + std::min(t, len - 1));
        const size_t dst = size_t(r * seq_len + t);
        ages[dst] = static_cast<float>(q.patient->age_days[src]);
        if (t < len) {
          tokens[dst] = q.patient->tokens[src];
          bins[dst] = q.patient->value_bins[src];
        }
      }
      last[size_t(r)] = len - 1;
    }
    ModelBatch batch;
    batch.tokens = torch::from_blob(tokens.data(), {rows, seq_len}, torch::kInt64).clone();
    batch.value_bins = torch::from_blob(bins.data(), {rows, seq_len}, torch::kInt64).clone();
    batch.ages = torch::from_blob(ages.data(), {rows, seq_len}, torch::kFloat32).clone();
    batch.targets = torch::zeros({rows, seq_len}, torch::kInt64);
    batch.target_dt = torch::zeros({rows, seq_len}, torch::kFloat32);
    batch.loss_mask = torch::zeros({rows, seq_len}, torch::kFloat32);
    const ModelOutput o = model->forward(batch);
    const torch::Tensor index = torch::from_blob(last.data(), {rows}, torch::kInt64).clone();
    const torch::Tensor row_index = torch::arange(rows, torch::kInt64);
    // [R, 2C]: the last history event's state, and the mean over the window's real positions.
    const torch::Tensor positions = torch::arange(seq_len, torch::kInt64).unsqueeze(0);  // [1, T]
    const torch::Tensor real =
        (positions <= index.unsqueeze(1)).to(o.hidden.dtype()).unsqueeze(2);  // [R, T, 1]
    const torch::Tensor mean = (o.hidden * real).sum(1) / real.sum(1);        // [R, C]
    const torch::Tensor hidden = torch::cat({o.hidden.index({row_index, index}), mean}, 1)
                                     .to(torch::kFloat32)
                                     .contiguous();  // [R, 2C]
    const torch::Tensor log_rate =
        o.log_rate.index({row_index, index}).to(torch::kFloat64).contiguous();  // [R]
    const torch::Tensor probs =
        torch::softmax(o.logits.index({row_index, index}).to(torch::kFloat32), -1);        // [R, V]
    const torch::Tensor mass = probs.matmul(set_matrix).to(torch::kFloat64).contiguous();  // [R, S]
    const float* h = hidden.data_ptr<float>();
    const double* lr = log_rate.data_ptr<double>();
    const double* m = mass.data_ptr<double>();
    for (int64_t r = 0; r < rows; ++r) {
      const size_t row = order[next + size_t(r)];
      std::copy(h + r * out.dim, h + (r + 1) * out.dim, out.embedding.begin() + int64_t(row) * out.dim);
      out.rate[row] = std::exp(lr[r]);
      for (int64_t s = 0; s < out.sets; ++s)
        out.set_prob[row * size_t(out.sets) + size_t(s)] = m[r * mass.size(1) + s];
    }
    next += size_t(rows);
    if (options.progress) progress.update(static_cast<int64_t>(next));
  }
  if (options.progress) progress.finish();
  return out;
}

}  // namespace clinfm
