// A fused CPU float32 RMSNorm, one pass forward and one backward where LibTorch's composite ops
// make several (pow, mean, add, rsqrt, two multiplications, and their backward ops). SwiGLU had a
// fused kernel too; on LibTorch 2.11 it no longer paid (0.98-1.02x of silu(gate) * up on the whole
// step, bench/cpu_kernels_bench.sh, 8 rounds) and was removed.
// Same math as the composite forms in models/cpu/dispatch.cpp, within a few ulps
// (models/cpu/row_kernels.h); dispatch calls these only on float32 CPU tensors. Deterministic: every output
// element is summed in an order fixed by the shapes alone, not by the thread count.
#pragma once

#include <torch/torch.h>

namespace clinfm {

// x: [.., C], weight: [C]. Differentiable in both.
torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

}  // namespace clinfm
