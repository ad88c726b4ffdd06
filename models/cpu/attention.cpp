#include "models/cpu/attention.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

#include "models/cpu/blas.h"
#include "models/cpu/row_kernels.h"
#include "models/cpu/tensor.h"

namespace clinfm {
namespace {

struct Shape {
  int64_t B, T, C, H, D;
  int64_t row() const { return 3 * C; }  // qkv row stride
  // Offsets of slice s = (b, h): its q block in qkv and its head block in y.
  int64_t qkv_offset(int64_t s) const { return (s / H) * T * row() + (s % H) * D; }
  int64_t y_offset(int64_t s) const { return (s / H) * T * C + (s % H) * D; }
};

Shape shape_of(const torch::Tensor& qkv, int64_t heads) {
  TORCH_CHECK(qkv.dim() == 3 && qkv.size(2) % (3 * heads) == 0,
              "fused attention: qkv must be [B, T, 3C], got ", qkv.sizes());
  const int64_t C = qkv.size(2) / 3;
  return {qkv.size(0), qkv.size(1), C, heads, C / heads};
}

// A [T, T] (or larger) work area per thread, reused across slices and steps: the backward pass
// needs one per slice, and a fresh allocation each time would sit on the training hot path.
float* thread_scratch(int64_t floats) {
  thread_local std::vector<float> scratch;
  if (int64_t(scratch.size()) < floats) scratch.resize(size_t(floats));
  return scratch.data();
}

// Each (batch, head) slice on one thread; BLAS inside a parallel region runs single-threaded.
template <typename F>
void for_each_slice(const Shape& s, const F& body) {
  at::parallel_for(0, s.B * s.H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) body(i);
  });
}

struct FusedCausalAttention : torch::autograd::Function<FusedCausalAttention> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv_in,
                               int64_t heads, double dropout_p) {
    const auto qkv = qkv_in.contiguous();
    const Shape s = shape_of(qkv, heads);
    const int64_t T = s.T, D = s.D;
    const float scale = float(1.0 / std::sqrt(double(D)));
    auto weights = torch::empty({s.B, s.H, T, T}, qkv.options());  // [B, H, T, T], zero above the diagonal
    torch::Tensor noise;                                           // [B, H, T, T] or undefined
    if (dropout_p > 0)  // as at::dropout: bernoulli(1 - p) / (1 - p), the same draws in the same order
      noise = torch::empty_like(weights).bernoulli_(1.0 - dropout_p).div_(1.0 - dropout_p);
    auto y = torch::empty({s.B, T, s.C}, qkv.options());  // [B, T, C]
    const float* q_all = qkv.data_ptr<float>();
    float* w_all = weights.data_ptr<float>();
    const float* noise_all = noise.defined() ? noise.data_ptr<float>() : nullptr;
    float* y_all = y.data_ptr<float>();
    for_each_slice(s, [&](int64_t i) {
      const float* q = q_all + s.qkv_offset(i);
      float* w = w_all + i * T * T;
      gemm_row_major(false, true, T, T, D, scale, q, s.row(), q + s.C, s.row(), 0.0f, w, T);  // scale Q K^T
      causal_softmax(w, T);
      const float* used = w;  // the weights y is made with
      if (noise_all) {
        float* dropped = thread_scratch(T * T);
        for (int64_t j = 0; j < T * T; ++j) dropped[j] = w[j] * noise_all[i * T * T + j];
        used = dropped;
      }
      gemm_row_major(false, false, T, D, T, 1.0f, used, T, q + 2 * s.C, s.row(), 0.0f, y_all + s.y_offset(i),
                     s.C);
    });
    ctx->save_for_backward({qkv, weights, noise});
    ctx->saved_data["heads"] = heads;
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& qkv = saved[0];
    const auto& weights = saved[1];  // causal softmax, before dropout
    const auto& noise = saved[2];
    const Shape s = shape_of(qkv, ctx->saved_data["heads"].toInt());
    const int64_t T = s.T, D = s.D;
    const float scale = float(1.0 / std::sqrt(double(D)));
    const auto dy = grads[0].contiguous();  // [B, T, C]
    auto dqkv = torch::empty_like(qkv);     // [B, T, 3C]
    const float *q_all = qkv.data_ptr<float>(), *dy_all = dy.data_ptr<float>(),
                *w_all = weights.data_ptr<float>();
    const float* noise_all = noise.defined() ? noise.data_ptr<float>() : nullptr;
    float* dqkv_all = dqkv.data_ptr<float>();
    for_each_slice(s, [&](int64_t i) {
      const float *q = q_all + s.qkv_offset(i), *k = q + s.C, *v = q + 2 * s.C;
      const float* w = w_all + i * T * T;
      const float* g = dy_all + s.y_offset(i);
      float* dq = dqkv_all + s.qkv_offset(i);
      float* dw = thread_scratch(noise_all ? 2 * T * T : T * T);  // [T, T]: dW, then dS in place
      const float* used = w;
      if (noise_all) {
        float* dropped = dw + T * T;
        for (int64_t j = 0; j < T * T; ++j) dropped[j] = w[j] * noise_all[i * T * T + j];
        used = dropped;
      }
      gemm_row_major(true, false, T, D, T, 1.0f, used, T, g, s.C, 0.0f, dq + 2 * s.C,
                     s.row());                                                      // dV = W^T dY
      gemm_row_major(false, true, T, T, D, 1.0f, g, s.C, v, s.row(), 0.0f, dw, T);  // dW = dY V^T
      if (noise_all)
        for (int64_t j = 0; j < T * T; ++j) dw[j] *= noise_all[i * T * T + j];
      causal_softmax_backward(w, dw, T);                                                   // dS
      gemm_row_major(false, false, T, D, T, scale, dw, T, k, s.row(), 0.0f, dq, s.row());  // dQ = scale dS K
      gemm_row_major(true, false, T, D, T, scale, dw, T, q, s.row(), 0.0f, dq + s.C,
                     s.row());  // dK = scale dS^T Q
    });
    return {dqkv, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool fused_attention_available() { return cpu_sgemm_available(); }

torch::Tensor fused_causal_attention(const torch::Tensor& qkv, int64_t n_heads, double dropout_p) {
  TORCH_CHECK(fused_attention_available(), "fused attention: no BLAS sgemm in this process");
  TORCH_CHECK(is_cpu_float32(qkv), "fused attention takes float32 CPU tensors, got ", qkv.options());
  return FusedCausalAttention::apply(qkv, n_heads, dropout_p);
}

}  // namespace clinfm
