// The tensors clinfm's CPU kernels (models/cpu/*.h) take: float32 on the CPU. models/cpu/dispatch.cpp
// calls a kernel when its inputs pass this test and LibTorch's own ops otherwise (CUDA, bf16, float64).
#pragma once

#include <torch/torch.h>

namespace clinfm {

inline bool is_cpu_float32(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat32;
}

}  // namespace clinfm
