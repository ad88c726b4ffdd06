// Bias-free linear layer y = x W^T for CPU float32, its rows split over the threads, each share
// one single-threaded sgemm (models/cpu_blas.h). On the 2-core machines here that runs the
// model's [2048 x 128] x [128 x 384] products in 1.0 ms where LibTorch's mm, which leaves the
// split to OpenBLAS's own threading, takes 1.55 ms. Backward: dX split by rows, dW split by
// its output rows (each element still one full-length dot over the batch, so no partial sums).
// Results depend on the thread count only through BLAS blocking at the split edges; a given
// configuration is bitwise reproducible.
#pragma once

#include <torch/torch.h>

namespace clinfm {

// Whether cpu_linear can run here (the BLAS sgemm is in the process).
bool cpu_linear_available();

// x: [.., in] float32 CPU; weight: [out, in] float32 CPU. Returns [.., out]; differentiable in both.
torch::Tensor cpu_linear(const torch::Tensor& x, const torch::Tensor& weight);

}  // namespace clinfm
