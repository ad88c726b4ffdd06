#include "models/cpu/row_kernels.h"

// glibc's math.h declares the SIMD variants of expf only under -ffast-math, which this file
// does not use (it would also assume no NaN, and a NaN loss must stay visible to the trainer's
// non-finite check). The declaration below is the one glibc makes there; with it and
// `omp simd`, GCC calls _ZGVbN4v_expf / _ZGVdN8v_expf (glibc documents them within 4 ulp).
extern "C" {
__attribute__((simd("notinbranch"))) float expf(float) noexcept;
float logf(float) noexcept;
float sqrtf(float) noexcept;
}

namespace clinfm {

__attribute__((target_clones("arch=x86-64-v3", "default"))) void logsumexp_rows(const float* x, int64_t cols,
                                                                                int64_t begin, int64_t end,
                                                                                float* lse) {
  for (int64_t i = begin; i < end; ++i) {
    const float* row = x + i * cols;
    float m = row[0];
    bool nan = false;
#pragma omp simd reduction(max : m) reduction(|| : nan)
    for (int64_t j = 0; j < cols; ++j) {
      m = row[j] > m ? row[j] : m;
      nan = nan || row[j] != row[j];
    }
    float sum = 0;  // an infinite maximum makes it NaN (inf - inf), as in LibTorch's log_softmax
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; ++j) sum += expf(row[j] - m);
    lse[i] = nan ? __builtin_nanf("") : m + logf(sum);
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default"))) void softmax_minus_onehot_rows(
    const float* x, const float* lse, const int64_t* target, const float* scale, int64_t cols, int64_t begin,
    int64_t end, float* out) {
  for (int64_t i = begin; i < end; ++i) {
    const float* row = x + i * cols;
    float* grad = out + i * cols;
    const float l = lse[i], s = scale[i];
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) grad[j] = s * expf(row[j] - l);
    grad[target[i]] -= s;
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default"))) void causal_softmax(float* scores, int64_t T) {
  for (int64_t r = 0; r < T; ++r) {
    float* row = scores + r * T;
    const int64_t n = r + 1;
    float m = row[0];
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; ++j) m = row[j] > m ? row[j] : m;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; ++j) {
      row[j] = expf(row[j] - m);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) row[j] *= inv;
    for (int64_t j = n; j < T; ++j) row[j] = 0.0f;
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default"))) void causal_softmax_backward(const float* weights,
                                                                                         float* grad,
                                                                                         int64_t T) {
  for (int64_t r = 0; r < T; ++r) {
    const float* w = weights + r * T;
    float* g = grad + r * T;
    const int64_t n = r + 1;
    float dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < n; ++j) dot += w[j] * g[j];
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) g[j] = w[j] * (g[j] - dot);
    for (int64_t j = n; j < T; ++j) g[j] = 0.0f;
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default"))) void rms_norm_rows(const float* x,
                                                                               const float* weight, float eps,
                                                                               int64_t cols, int64_t begin,
                                                                               int64_t end, float* y,
                                                                               float* inv_rms) {
  for (int64_t i = begin; i < end; ++i) {
    const float* row = x + i * cols;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; ++j) sum += row[j] * row[j];
    const float r = 1.0f / sqrtf(sum / float(cols) + eps);
    inv_rms[i] = r;
    float* out = y + i * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) out[j] = row[j] * r * weight[j];
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default"))) void rms_norm_backward_rows(
    const float* x, const float* weight, const float* inv_rms, const float* dy, int64_t cols, int64_t begin,
    int64_t end, float* dx, float* d_weight) {
  for (int64_t i = begin; i < end; ++i) {
    const float *row = x + i * cols, *g = dy + i * cols;
    const float r = inv_rms[i];
    float dot = 0;  // sum_j dy_j w_j x_j
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < cols; ++j) dot += g[j] * weight[j] * row[j];
    const float c = r * r * r * dot / float(cols);
    float* out = dx + i * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) {
      out[j] = r * g[j] * weight[j] - c * row[j];
      d_weight[j] += g[j] * row[j] * r;
    }
  }
}

}  // namespace clinfm
