// The BLAS sgemm LibTorch itself links, called directly by the fused CPU kernels (attention,
// linear layers) so that each thread can run its own single-threaded product on its share.
// Debian's LibTorch uses the system libblas.so.3 (OpenBLAS); LibTorch builds that carry their
// BLAS privately (pip wheels with static MKL) do not export it, and then available() is false
// and the model keeps LibTorch's own ops.
#pragma once

#include <cstdint>

namespace clinfm {

bool cpu_sgemm_available();

// Row-major C[M x N] = alpha op(A) op(B) + beta C, op(A) being M x K, with leading dimensions
// (row strides) lda, ldb, ldc. Single-threaded inside a parallel region.
void gemm_row_major(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace clinfm
