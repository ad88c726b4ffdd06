#include "models/cpu/blas.h"

#include <dlfcn.h>

namespace clinfm {
namespace {

// Fortran BLAS sgemm (column-major), as libblas.so.3 exports it.
using SgemmFn = void (*)(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                         const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                         const float* beta, float* c, const int* ldc);

SgemmFn find_sgemm() {
  // The BLAS is already loaded (LibTorch depends on it), so the global scope has it; nothing
  // is linked at build time, which keeps builds against BLAS-private LibTorch working.
  static const SgemmFn fn = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return fn;
}

}  // namespace

bool cpu_sgemm_available() { return find_sgemm() != nullptr; }

// A row-major matrix is the transpose of the same memory read column-major, so this is sgemm
// on (B, A) with M and N swapped.
void gemm_row_major(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const int mi = int(n), ni = int(m), ki = int(k), la = int(ldb), lb = int(lda), lc = int(ldc);
  const char ta = trans_b ? 'T' : 'N', tb = trans_a ? 'T' : 'N';
  find_sgemm()(&ta, &tb, &mi, &ni, &ki, &alpha, b, &la, a, &lb, &beta, c, &lc);
}

}  // namespace clinfm
