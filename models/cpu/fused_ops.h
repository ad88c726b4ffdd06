// Fused CPU float32 forms of the model's element-wise layers, each one pass forward and one
// backward where LibTorch's composite ops make several (RMSNorm: pow, mean, add, rsqrt, two
// multiplications, and their backward ops; SwiGLU: silu, multiplication and theirs).
// Same math as the composite forms in models/cpu/dispatch.cpp, within a few ulps
// (models/cpu/row_kernels.h); dispatch calls these only on float32 CPU tensors. Deterministic: every output
// element is summed in an order fixed by the shapes alone, not by the thread count.
#pragma once

#include <torch/torch.h>

namespace clinfm {

// x: [.., C], weight: [C]. Differentiable in both.
torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// silu(gate) * up, gate and up of one shape. Differentiable in both.
torch::Tensor fused_swiglu(const torch::Tensor& gate, const torch::Tensor& up);

}  // namespace clinfm
