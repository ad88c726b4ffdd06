// Batched forward passes over prediction-time windows, longest first to keep padding small.
// Windows are right-padded: with causal attention a padded position never reaches a real one.
#include "eval/model_features.h"

#include <algorithm>
#include <numeric>

#include "common/check.h"
#include "common/progress.h"

namespace clinfm {
namespace {

// [V, max(1, S)]: column s flags the tokens of token set s.
torch::Tensor token_set_matrix(const std::vector<std::vector<char>>& token_sets, int64_t vocab) {
  const int64_t sets = static_cast<int64_t>(token_sets.size());
  torch::Tensor matrix = torch::zeros({vocab, std::max<int64_t>(1, sets)}, torch::kFloat32);
  for (int64_t set = 0; set < sets; ++set) {
    CLINFM_CHECK(static_cast<int64_t>(token_sets[size_t(set)].size()) == vocab,
                 "token set {} has {} flags for {} tokens", set, token_sets[size_t(set)].size(), vocab);
    for (int64_t token = 0; token < vocab; ++token)
      if (token_sets[size_t(set)][size_t(token)]) matrix[token][set] = 1.0f;
  }
  return matrix;
}

// One forward pass's windows: `rows` requests of at most `seq_len` events, and the position of
// each window's last history event.
struct WindowBatch {
  ModelBatch batch;
  std::vector<int64_t> last;  // [R]
};

WindowBatch make_batch(const std::vector<WindowRequest>& requests, const std::vector<size_t>& indices,
                       int64_t context_events, int64_t seq_len) {
  const int64_t rows = static_cast<int64_t>(indices.size());
  std::vector<int64_t> tokens(size_t(rows * seq_len), 0), bins(size_t(rows * seq_len), 0);
  std::vector<float> ages(size_t(rows * seq_len), 0.0f);
  WindowBatch out;
  out.last.assign(size_t(rows), 0);
  for (int64_t i = 0; i < rows; ++i) {
    const WindowRequest& request = requests[indices[size_t(i)]];
    CLINFM_CHECK(
        request.history_events > 0 && request.history_events <= static_cast<int64_t>(request.patient->size()),
        "window of {} events for a patient with {}", request.history_events, request.patient->size());
    const int64_t length = std::min(request.history_events, context_events);
    const int64_t start = request.history_events - length;
    for (int64_t j = 0; j < seq_len; ++j) {
      const size_t source = size_t(start + std::min(j, length - 1));
      const size_t target = size_t(i * seq_len + j);
      ages[target] = static_cast<float>(request.patient->age_days[source]);
      if (j < length) {
        tokens[target] = request.patient->tokens[source];
        bins[target] = request.patient->value_bins[source];
      }
    }
    out.last[size_t(i)] = length - 1;
  }
  out.batch = inference_batch(tokens, bins, ages, rows, seq_len);
  return out;
}

// Runs one batch and writes its rows of `out` (rows `indices` of the requests).
void extract_batch(ClinicalTransformer& model, const WindowBatch& windows, const torch::Tensor& set_matrix,
                   const std::vector<size_t>& indices, ModelFeatures& out) {
  const int64_t rows = static_cast<int64_t>(indices.size());
  const ModelOutput output = model->forward(windows.batch);
  const int64_t seq_len = windows.batch.tokens.size(1);
  const torch::Tensor index =
      torch::from_blob(const_cast<int64_t*>(windows.last.data()), {rows}, torch::kInt64).clone();
  const torch::Tensor row_index = torch::arange(rows, torch::kInt64);
  // [R, 2C]: the last history event's state, and the mean over the window's real positions.
  const torch::Tensor positions = torch::arange(seq_len, torch::kInt64).unsqueeze(0);  // [1, T]
  const torch::Tensor real =
      (positions <= index.unsqueeze(1)).to(output.hidden.dtype()).unsqueeze(2);  // [R, T, 1]
  const torch::Tensor mean = (output.hidden * real).sum(1) / real.sum(1);        // [R, C]
  const torch::Tensor hidden = torch::cat({output.hidden.index({row_index, index}), mean}, 1)
                                   .to(torch::kFloat32)
                                   .contiguous();  // [R, 2C]
  const torch::Tensor log_rate =
      output.log_rate.index({row_index, index}).to(torch::kFloat64).contiguous();  // [R]
  const torch::Tensor probs =
      torch::softmax(output.logits.index({row_index, index}).to(torch::kFloat32), -1);   // [R, V]
  const torch::Tensor mass = probs.matmul(set_matrix).to(torch::kFloat64).contiguous();  // [R, S]
  const float* hidden_data = hidden.data_ptr<float>();
  const double* log_rate_data = log_rate.data_ptr<double>();
  const double* mass_data = mass.data_ptr<double>();
  for (int64_t i = 0; i < rows; ++i) {
    const size_t row = indices[size_t(i)];
    std::copy(hidden_data + i * out.dim, hidden_data + (i + 1) * out.dim,
              out.embedding.begin() + int64_t(row) * out.dim);
    out.rate[row] = std::exp(log_rate_data[i]);
    for (int64_t set = 0; set < out.sets; ++set)
      out.set_prob[row * size_t(out.sets) + size_t(set)] = mass_data[i * mass.size(1) + set];
  }
}

}  // namespace

ModelBatch inference_batch(const std::vector<int64_t>& tokens, const std::vector<int64_t>& value_bins,
                           const std::vector<float>& ages, int64_t rows, int64_t seq_len) {
  const auto copy = [&](const auto& values, torch::Dtype dtype) {
    return torch::from_blob(const_cast<void*>(static_cast<const void*>(values.data())), {rows, seq_len},
                            dtype)
        .clone();
  };
  ModelBatch batch;
  batch.tokens = copy(tokens, torch::kInt64);
  batch.value_bins = copy(value_bins, torch::kInt64);
  batch.ages = copy(ages, torch::kFloat32);
  batch.targets = torch::zeros({rows, seq_len}, torch::kInt64);
  batch.target_dt = torch::zeros({rows, seq_len}, torch::kFloat32);
  batch.loss_mask = torch::zeros({rows, seq_len}, torch::kFloat32);
  return batch;
}

ModelFeatures extract_model_features(ClinicalTransformer& model, const std::vector<WindowRequest>& requests,
                                     const std::vector<std::vector<char>>& token_sets,
                                     const ExtractOptions& options) {
  torch::NoGradGuard no_grad;
  model->eval();
  ModelFeatures out;
  out.rows = static_cast<int64_t>(requests.size());
  out.dim = 2 * model->dims.d_model;
  out.sets = static_cast<int64_t>(token_sets.size());
  out.embedding.assign(size_t(out.rows * out.dim), 0.0f);
  out.rate.assign(size_t(out.rows), 0.0);
  out.set_prob.assign(size_t(out.rows * out.sets), 0.0);
  if (out.rows == 0) return out;
  const torch::Tensor set_matrix = token_set_matrix(token_sets, model->dims.vocab_size);  // [V, S]

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
    const std::vector<size_t> indices(order.begin() + int64_t(next), order.begin() + int64_t(next) + rows);
    extract_batch(model, make_batch(requests, indices, options.context_events, seq_len), set_matrix, indices,
                  out);
    next += size_t(rows);
    if (options.progress) progress.update(static_cast<int64_t>(next));
  }
  if (options.progress) progress.finish();
  return out;
}

}  // namespace clinfm
