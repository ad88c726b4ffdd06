// Training losses as sums over the positions the loss mask keeps, plus the count, so that the
// trainer can normalise by the number of targets in the whole (global) batch.
//   token loss: cross-entropy of the next event's token
//   time loss:  negative log-likelihood of the waiting time dt (years) under an exponential
//               with rate exp(log_rate):  exp(log_rate) * dt - log_rate   (Delphi-2M).
//               dt is clamped below at one hour: events at the same time would otherwise
//               reward an infinite rate.
#pragma once

#include <torch/torch.h>

#include "models/transformer.h"

namespace clinfm {

inline constexpr double kMinWaitingYears = 1.0 / (24.0 * 365.25);

struct LossSums {
  torch::Tensor token_nll;  // scalar: sum over kept positions
  torch::Tensor time_nll;   // scalar: sum over kept positions
  torch::Tensor targets;    // scalar: number of kept positions
};

LossSums loss_sums(const ModelOutput& out, const ModelBatch& batch);

}  // namespace clinfm
