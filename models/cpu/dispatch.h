// models/cpu/: clinfm's own fp32 CPU kernels, and this file, the one place that decides which
// implementation of each model operation runs.
//   attention.h      fused causal self-attention (model.attention = fused)
//   fused_ops.h      RMSNorm, one pass forward and one backward
//   cross_entropy.h  next-token negative log-likelihood, one pass over the logits each way
//   blas.h           the BLAS sgemm the kernels call; row_kernels.h: the kernels' inner loops
//   tensor.h         is_cpu_float32, the test every choice below starts from
// The rule of the folder: each kernel is held to LibTorch's composite op (the fallback below) by a
// test in tests/models/test_cpu_*.cpp, and is used only where it is faster than LibTorch's op.
// Re-measured on LibTorch 2.11 (bench/cpu_kernels_bench.sh): the linear and SwiGLU kernels no
// longer won and are gone; attention, RMSNorm and the token NLL stay.
//
// Each function below takes a kernel for float32 CPU tensors and LibTorch's op otherwise (CUDA,
// bf16, float64). The choice depends only on the inputs' device and dtype, the resolved attention
// kernel and whether the BLAS sgemm is in the process, so a given run always takes the same
// path. Nothing here holds parameters: the modules in models/transformer.h do.
// Shapes: B batch, T time steps, C channels, V vocabulary, H heads, D = C / H, N = B T.
#pragma once

#include <torch/torch.h>

#include <string>

namespace clinfm {

// ModelDims::attention, resolved: explicit matmul + mask + softmax, LibTorch's
// scaled_dot_product_attention, models/cpu/attention.h, or auto: the fused kernel on float32 CPU
// tensors when it is available, SDPA otherwise (CUDA: flash / memory-efficient kernels). Measured
// on LibTorch 2.11, one thread per program, both at once on two cores (bench/train_throughput
// --attention): fused / sdpa training steps 1.07-1.22x at the tiny preset (head dim 32), 0.79-1.37x,
// median 1.06x, at small (head dim 64).
enum class AttentionKernel { kExplicit, kSdpa, kFused, kAuto };

// "sdpa", "fused" and "auto" name their kernels; anything else is the explicit path.
AttentionKernel attention_kernel_named(const std::string& name);

// x W^T without bias. x: [.., in], weight: [out, in]. Returns [.., out].
torch::Tensor linear_no_bias(const torch::Tensor& x, const torch::Tensor& weight);

// x / sqrt(mean(x^2) + eps) * weight, statistics in fp32 (even under bf16 autocast).
// x: [.., C], weight: [C]. Returns x's dtype.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// softmax(Q K^T / sqrt(D) + causal mask) V per head, dropout on the weights.
// qkv: [B, T, 3C], each row [q; k; v], each head-major. Returns [B, T, C], heads side by side.
// causal_mask caches the explicit path's [T, T] mask across calls (the caller owns it).
torch::Tensor causal_attention(const torch::Tensor& qkv, int64_t n_heads, double dropout_p,
                               AttentionKernel kernel, torch::Tensor& causal_mask);

// silu(gate) * up, gate and up of one shape.
torch::Tensor swiglu(const torch::Tensor& gate, const torch::Tensor& up);

// The tied output projection hidden E^T. hidden: [B, T, C], embedding: [V, C]. Returns [B, T, V].
torch::Tensor tied_logits(const torch::Tensor& hidden, const torch::Tensor& embedding);

// -log softmax(logits)[target] per row. logits: [N, V] float32, targets: [N] int64. Returns [N].
torch::Tensor token_nll(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace clinfm
