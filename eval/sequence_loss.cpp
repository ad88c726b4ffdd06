// Windows of all sequences, batched longest first (right padding: with causal attention a
// padded position never reaches a real one), one forward pass per batch.
#include "eval/sequence_loss.h"

#include <algorithm>
#include <numeric>

#include "common/check.h"

namespace clinfm {
namespace {

struct Window {
  size_t sequence = 0;
  int64_t start = 0, inputs = 0;  // events [start, start + inputs) are inputs; targets start + 1 ...
};

}  // namespace

std::vector<SequenceLoss> sequence_losses(ClinicalTransformer& model,
                                          const std::vector<const PatientTimeline*>& sequences,
                                          const std::vector<int64_t>& begin,
                                          const SequenceLossOptions& options) {
  CLINFM_CHECK(begin.empty() || begin.size() == sequences.size(), "{} begins for {} sequences", begin.size(),
               sequences.size());
  torch::NoGradGuard no_grad;
  model->eval();
  const int64_t context = std::max<int64_t>(1, options.context_events);
  std::vector<Window> windows;
  for (size_t i = 0; i < sequences.size(); ++i) {
    const int64_t n = static_cast<int64_t>(sequences[i]->size());
    for (int64_t start = 0; start + 1 < n; start += context)
      windows.push_back({i, start, std::min(context, n - 1 - start)});
  }
  std::stable_sort(windows.begin(), windows.end(),
                   [](const Window& a, const Window& b) { return a.inputs > b.inputs; });
  std::vector<SequenceLoss> out(sequences.size());
  size_t next = 0;
  while (next < windows.size()) {
    const int64_t seq_len = windows[next].inputs;
    const int64_t rows = std::max<int64_t>(
        1, std::min<int64_t>(options.batch_tokens / seq_len, int64_t(windows.size() - next)));
    std::vector<int64_t> tokens(size_t(rows * seq_len), 0), bins(size_t(rows * seq_len), 0),
        targets(size_t(rows * seq_len), 0);
    std::vector<float> ages(size_t(rows * seq_len), 0.0f), mask(size_t(rows * seq_len), 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      const Window& w = windows[next + size_t(r)];
      const PatientTimeline& p = *sequences[w.sequence];
      const int64_t first = begin.empty() ? 1 : std::max<int64_t>(1, begin[w.sequence]);
      for (int64_t j = 0; j < seq_len; ++j) {
        const size_t target = size_t(r * seq_len + j);
        const size_t source = size_t(w.start + std::min(j, w.inputs - 1));
        ages[target] = static_cast<float>(p.age_days[source]);
        if (j >= w.inputs) continue;
        tokens[target] = p.tokens[source];
        bins[target] = p.value_bins[source];
        targets[target] = p.tokens[source + 1];
        mask[target] = int64_t(source) + 1 >= first ? 1.0f : 0.0f;
      }
    }
    ModelBatch batch;
    batch.tokens = torch::from_blob(tokens.data(), {rows, seq_len}, torch::kInt64).clone();
    batch.value_bins = torch::from_blob(bins.data(), {rows, seq_len}, torch::kInt64).clone();
    batch.ages = torch::from_blob(ages.data(), {rows, seq_len}, torch::kFloat32).clone();
    batch.targets = torch::from_blob(targets.data(), {rows, seq_len}, torch::kInt64).clone();
    batch.target_dt = torch::zeros({rows, seq_len}, torch::kFloat32);
    batch.loss_mask = torch::from_blob(mask.data(), {rows, seq_len}, torch::kFloat32).clone();
    const ModelOutput output = model->forward(batch);
    const torch::Tensor log_probs = torch::log_softmax(output.logits.to(torch::kFloat64), -1);
    const torch::Tensor nll =
        (-log_probs.gather(2, batch.targets.unsqueeze(2)).squeeze(2) * batch.loss_mask.to(torch::kFloat64))
            .sum(1)
            .contiguous();  // [R]
    const torch::Tensor counted = batch.loss_mask.sum(1).to(torch::kInt64).contiguous();
    for (int64_t r = 0; r < rows; ++r) {
      SequenceLoss& loss = out[windows[next + size_t(r)].sequence];
      loss.nll += nll[r].item<double>();
      loss.predicted += counted[r].item<int64_t>();
    }
    next += size_t(rows);
  }
  return out;
}

}  // namespace clinfm
