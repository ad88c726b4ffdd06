#include "common/error.h"

#include <fmt/format.h>

#include "common/log.h"

namespace clinfm {

Error::Error(std::string message, std::string hint, std::string where)
    : std::runtime_error(std::move(message)), hint_(std::move(hint)), where_(std::move(where)) {}

std::string describe_site(const char* file, int line) {
  const LogContext& ctx = log_context();
  return fmt::format("{}:{} (rank {}/{} on {})", file, line, ctx.rank, ctx.world_size, ctx.host);
}

}  // namespace clinfm
