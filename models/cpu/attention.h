// Fused causal self-attention for CPU float32 (model.attention = fused): reads q, k, v straight out
// of the qkv projection and writes the heads straight into the [B, T, C] layout the output
// projection reads, so none of the permute/transpose copies of the explicit path are made; every
// (batch, head) slice is one thread's work, with single-threaded BLAS calls on it (the explicit
// path's batched matmuls split each small 128 x 128 x 32 product over the threads instead), and
// the causal softmax and its backward run on the slice while it is in cache, over the lower
// triangle only (no mask, no -inf fill, half the exponentials).
// Same math as the explicit path: softmax(scale Q K^T + causal mask) V, dropout on the weights
// drawn exactly as torch::dropout draws it (so the RNG stream is the same).
// Not for CUDA tensors or other dtypes: the module falls back to the explicit path there.
// Shapes: B batch, T time steps, C channels, H heads, D = C / H.
#pragma once

#include <torch/torch.h>

namespace clinfm {

// Whether this process has the BLAS sgemm the kernel calls (models/cpu/blas.h).
bool fused_attention_available();

// qkv: [B, T, 3C] float32 CPU, each row [q; k; v], each head-major (head h at columns h D ..).
// Returns y: [B, T, C], head h at columns h D .. (h + 1) D. Differentiable in qkv.
torch::Tensor fused_causal_attention(const torch::Tensor& qkv, int64_t n_heads, double dropout_p);

}  // namespace clinfm
