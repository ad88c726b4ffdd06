#include "common/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "common/error.h"

namespace clinfm {
namespace {

LogContext& mutable_context() {
  static LogContext ctx = [] {
    LogContext c;
    char host[256] = {0};
    c.host = gethostname(host, sizeof(host) - 1) == 0 ? host : "unknown-host";
    return c;
  }();
  return ctx;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

}  // namespace

const LogContext& log_context() { return mutable_context(); }
void set_log_rank(int rank, int world_size) {
  mutable_context().rank = rank;
  mutable_context().world_size = world_size;
}
void set_log_level(LogLevel level) { mutable_context().level = level; }
void set_log_all_ranks(bool all_ranks) { mutable_context().all_ranks = all_ranks; }

LogLevel parse_log_level(const std::string& text, const std::string& what) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  throw InputError(fmt::format("{}: unknown log level '{}'", what, text),
                   "use one of: debug, info, warn, error");
}

bool log_enabled(LogLevel level) {
  const LogContext& ctx = log_context();
  if (level < ctx.level) return false;
  if (level >= LogLevel::kWarn) return true;
  return ctx.rank == 0 || ctx.all_ranks;
}

void log_line(LogLevel level, const std::string& message) {
  static std::mutex mutex;
  const LogContext& ctx = log_context();
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char clock[16];
  std::strftime(clock, sizeof(clock), "%H:%M:%S", &local);
  const std::string line =
      fmt::format("[rank {}/{}] {} {}: {}\n", ctx.rank, ctx.world_size, clock, level_name(level), message);
  std::lock_guard<std::mutex> lock(mutex);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

std::string format_exception(const std::exception& error) {
  std::string text = error.what();
  if (const auto* e = dynamic_cast<const Error*>(&error)) {
    if (!e->where().empty()) text += fmt::format("\n  at {}", e->where());
    if (!e->hint().empty()) text += fmt::format("\n  hint: {}", e->hint());
  }
  return text;
}

}  // namespace clinfm
