#include "trainer/fault_injection.h"

#include <chrono>
#include <cstdlib>
#include <limits>
#include <set>
#include <thread>

namespace clinfm {

LossHook loss_hook_from_env(int rank) {
  const char* delay_text = std::getenv("CLINFM_FAULT_STEP_DELAY_MS");
  const long long delay_ms = delay_text ? std::atoll(delay_text) : 0;
  const char* spec = std::getenv("CLINFM_FAULT_NAN_STEPS");
  std::set<int64_t> steps;
  for (const char* cursor = rank == 0 && spec ? spec : ""; *cursor;) {
    char* end = nullptr;
    const long long step = std::strtoll(cursor, &end, 10);
    if (end == cursor) break;
    steps.insert(step);
    cursor = (*end == ',') ? end + 1 : end;
  }
  if (steps.empty() && delay_ms <= 0) return {};
  return [steps, delay_ms](int64_t step, LossSums& sums) {
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    if (steps.count(step)) sums.token_nll = sums.token_nll * std::numeric_limits<double>::quiet_NaN();
  };
}

}  // namespace clinfm
