#include "models/losses.h"

namespace clinfm {

LossSums loss_sums(const ModelOutput& out, const ModelBatch& batch) {
  const int64_t V = out.logits.size(-1);
  const auto mask = batch.loss_mask.to(torch::kFloat32);                                        // [B, T]
  const auto log_probs = torch::log_softmax(out.logits.to(torch::kFloat32).view({-1, V}), -1);  // [B*T, V]
  const auto nll = -log_probs.gather(1, batch.targets.view({-1, 1})).view_as(mask);             // [B, T]
  const auto log_rate = out.log_rate.to(torch::kFloat32);
  const auto dt = batch.target_dt.clamp_min(kMinWaitingYears);
  const auto time_nll = torch::exp(log_rate) * dt - log_rate;  // [B, T]
  LossSums s;
  s.token_nll = (nll * mask).sum();
  s.time_nll = (time_nll * mask).sum();
  s.targets = mask.sum();
  return s;
}

}  // namespace clinfm
