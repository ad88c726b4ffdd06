#include "models/losses.h"

#include "models/cpu/dispatch.h"

namespace clinfm {

LossSums loss_sums(const ModelOutput& out, const ModelBatch& batch) {
  const int64_t V = out.logits.size(-1);
  const auto mask = batch.loss_mask.to(torch::kFloat32);                // [B, T]
  const auto logits = out.logits.to(torch::kFloat32).reshape({-1, V});  // [B*T, V]
  const auto targets = batch.targets.reshape({-1});                     // [B*T]
  const auto nll = token_nll(logits, targets).view_as(mask);            // [B, T]
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
