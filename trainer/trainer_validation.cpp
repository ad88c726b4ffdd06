// Validation: the loss and next-event accuracy of the model on fixed batches of the tuning
// split during training, beside the unigram baseline of the same targets. (eval/ evaluates a
// finished model on clinical tasks; this is the trainer's own check that it learns.)
#include <cmath>

#include "models/losses.h"
#include "trainer/device.h"
#include "trainer/run_formulas.h"
#include "trainer/trainer.h"

namespace clinfm {
namespace {

struct ValidationSums {
  double token = 0, time = 0, top1 = 0, top10 = 0, targets = 0, unigram = 0;
};

}  // namespace

ValidationResult Trainer::validate() {
  BatchLoader tuning(*dataset_, loader_options(/*training=*/false));
  torch::NoGradGuard no_grad;
  model_->eval();
  ValidationSums sums;
  for (int64_t index = 0; index < config_.train.validation_batches; ++index) {
    for (const auto& host_batch : tuning.next_step()) {
      for (size_t k = 0; k < host_batch.targets.size(); ++k)
        if (host_batch.loss_mask[k] > 0)
          sums.unigram += unigram_nll_[static_cast<size_t>(host_batch.targets[k])];
      const ModelBatch batch = to_device(host_batch);
      const AutocastScope autocast(config_.train.precision == "bf16");
      const ModelOutput out = model_->forward(batch);
      const LossSums loss = loss_sums(out, batch);
      sums.token += loss.token_nll.item<double>();
      sums.time += loss.time_nll.item<double>();
      sums.targets += loss.targets.item<double>();
      const auto top = std::get<1>(out.logits.topk(10, -1));                     // [B, T, 10]
      const auto hit = top.eq(batch.targets.unsqueeze(-1)).to(torch::kFloat32);  // [B, T, 10]
      sums.top1 += (hit.select(-1, 0) * batch.loss_mask).sum().item<double>();
      sums.top10 += (hit.sum(-1) * batch.loss_mask).sum().item<double>();
    }
  }
  ValidationResult result;
  result.targets = static_cast<int64_t>(sums.targets);
  const double targets = std::max(1.0, sums.targets);
  result.token_loss = sums.token / targets;
  result.time_loss = sums.time / targets;
  result.loss = weighted_loss(config_.model, result.token_loss, result.time_loss);
  result.perplexity = std::exp(result.token_loss);
  result.unigram_token_loss = sums.unigram / targets;
  result.top1 = sums.top1 / targets;
  result.top10 = sums.top10 / targets;
  return result;
}

}  // namespace clinfm
