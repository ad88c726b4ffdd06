// Row-wise float kernels for the fused CPU losses: plain loops over contiguous rows, vectorised
// with glibc's SIMD expf (libmvec) and compiled for AVX2 as well as the x86-64 baseline, the
// variant chosen at run time (GCC target_clones). Torch-free on purpose: this file is compiled
// with -fopenmp-simd -fno-math-errno, which must not reach LibTorch's headers.
// Summation order differs from LibTorch's kernels (within a few ulps); it is fixed for a given
// binary and CPU, so runs stay bitwise reproducible on one machine.
#pragma once

#include <cstdint>

namespace clinfm {

// lse[i] = log(sum_j exp(x[i, j])) for rows [begin, end) of a rows x cols row-major matrix.
void logsumexp_rows(const float* x, int64_t cols, int64_t begin, int64_t end, float* lse);

// out[i, j] = scale[i] * (exp(x[i, j] - lse[i]) - [j == target[i]]): the gradient of
// scale[i] * (lse[i] - x[i, target[i]]) with respect to row i. out may be x.
void softmax_minus_onehot_rows(const float* x, const float* lse, const int64_t* target, const float* scale,
                               int64_t cols, int64_t begin, int64_t end, float* out);

// Causal softmax of a T x T score matrix in place: row r over columns 0..r, zeros after them.
void causal_softmax(float* scores, int64_t T);

// Its backward in place: grad[r, j] = w[r, j] (grad[r, j] - sum_k w[r, k] grad[r, k]) over
// j <= r, zero after, where w is the causal softmax.
void causal_softmax_backward(const float* weights, float* grad, int64_t T);

// RMSNorm of rows [begin, end) of x (cols wide): inv_rms[i] = 1 / sqrt(mean_j x[i, j]^2 + eps),
// y[i, j] = x[i, j] inv_rms[i] weight[j].
void rms_norm_rows(const float* x, const float* weight, float eps, int64_t cols, int64_t begin, int64_t end,
                   float* y, float* inv_rms);
// Its backward for those rows: dx, and the rows' contribution dy * x * inv_rms added to d_weight.
void rms_norm_backward_rows(const float* x, const float* weight, const float* inv_rms, const float* dy,
                            int64_t cols, int64_t begin, int64_t end, float* dx, float* d_weight);

}  // namespace clinfm
