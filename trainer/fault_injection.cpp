#include "trainer/fault_injection.h"

#include <cstdlib>
#include <limits>
#include <set>

namespace clinfm {

LossHook nan_loss_hook_from_env(int rank) {
  const char* spec = std::getenv("CLINFM_FAULT_NAN_STEPS");
  if (spec == nullptr || *spec == '\0' || rank != 0) return {};
  std::set<int64_t> steps;
  for (const char* cursor = spec; *cursor;) {
    char* end = nullptr;
    const long long step = std::strtoll(cursor, &end, 10);
    if (end == cursor) break;
    steps.insert(step);
    cursor = (*end == ',') ? end + 1 : end;
  }
  return [steps](int64_t step, LossSums& sums) {
    if (steps.count(step)) sums.token_nll = sums.token_nll * std::numeric_limits<double>::quiet_NaN();
  };
}

}  // namespace clinfm
