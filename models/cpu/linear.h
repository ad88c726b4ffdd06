// Bias-free linear layer y = x W^T for CPU float32, its rows split over the threads, each share
// one single-threaded sgemm (models/cpu/blas.h), instead of leaving the split to OpenBLAS's own
// threading as LibTorch's mm does. Measured on the 2-core machines here, 2 threads: the tiny
// preset's [2048 x 128] x [128 x 384] forward alone takes 1.0 ms against mm's 1.55 ms, but with
// its backward the layer is at parity (4.3 ms both), and the small preset's layers gain 1-4%.
// Backward: dX split by rows, dW split by its output rows (each element still one full-length
// dot over the batch, so no partial sums).
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
