// Fused next-token cross-entropy for CPU float32 logits: the per-position negative log-likelihood
// lse(logits) - logits[target] with one pass over the [N, V] logits forward (the row
// log-sum-exp) and one backward (softmax minus the one-hot target, scaled by the incoming
// gradient). LibTorch's log_softmax + gather path instead writes the [N, V] log-probabilities,
// then backward fills an [N, V] zero tensor, scatters into it and reads both again; at the tiny
// preset's 2,048 x 2,000 logits that is ~30 MB of traffic per pass saved.
// Same math as -log_softmax(logits).gather(targets), within a few ulps (models/cpu/row_kernels.h).
#pragma once

#include <torch/torch.h>

namespace clinfm {

// logits: [N, V] float32 CPU; targets: [N] int64 in [0, V). Returns [N], differentiable in logits.
torch::Tensor fused_token_nll(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace clinfm
