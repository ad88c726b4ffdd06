// Formulas the trainer uses in more than one place, each written once.
#pragma once

#include <cstdint>

#include "common/config/config.h"

namespace clinfm {

// The training objective from its two parts: next-event cross-entropy and time-to-next-event
// negative log-likelihood, each weighted by the model config (a double or a scalar tensor).
template <typename Loss>
Loss weighted_loss(const ModelConfig& model, const Loss& token_nll, const Loss& time_nll) {
  return model.token_loss_weight * token_nll + model.time_loss_weight * time_nll;
}

// The seed of a rank's generator (initialisation, dropout). A run resumed on another world size
// cannot map generator states across ranks, so it reseeds with the step it resumes at.
inline uint64_t rank_seed(int64_t run_seed, int rank, int64_t resumed_step = 0) {
  return static_cast<uint64_t>(run_seed) + 1000003ULL * static_cast<uint64_t>(rank) +
         7919ULL * static_cast<uint64_t>(resumed_step);
}

}  // namespace clinfm
