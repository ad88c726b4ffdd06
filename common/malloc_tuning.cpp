#include "common/malloc_tuning.h"

#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace clinfm {

bool tune_malloc_for_tensors() {
  const char* opt_out = std::getenv("CLINFM_MALLOC_TUNING");
  if (opt_out && std::strcmp(opt_out, "0") == 0) return false;
#if defined(__GLIBC__)
  const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  return mmap_ok && trim_ok;
#else
  return false;
#endif
}

}  // namespace clinfm
