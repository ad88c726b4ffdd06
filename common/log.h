// Rank-aware logging over fmt. Lines go to stderr as
//   [rank r/N] HH:MM:SS level: message
// Informational and debug lines are printed on rank 0 only unless `log.all_ranks` is set;
// warnings and errors are printed on every rank. common/ knows nothing of MPI: the launcher
// tells it the rank with set_log_context() once MPI is up.
#pragma once

#include <fmt/format.h>

#include <string>

namespace clinfm {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct LogContext {
  int rank = 0;
  int world_size = 1;
  std::string host;
  LogLevel level = LogLevel::kInfo;
  bool all_ranks = false;
};

const LogContext& log_context();
void set_log_rank(int rank, int world_size);
void set_log_level(LogLevel level);
void set_log_all_ranks(bool all_ranks);
// Parses "debug", "info", "warn", "error"; throws InputError naming `what` otherwise.
LogLevel parse_log_level(const std::string& text, const std::string& what);

bool log_enabled(LogLevel level);
void log_line(LogLevel level, const std::string& message);

template <typename... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(LogLevel::kDebug)) log_line(LogLevel::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(LogLevel::kInfo)) log_line(LogLevel::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(LogLevel::kWarn)) log_line(LogLevel::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(LogLevel::kError)) log_line(LogLevel::kError, fmt::format(f, std::forward<Args>(args)...));
}

// Formats an exception the way `main` reports it: message, site, hint.
std::string format_exception(const std::exception& error);

}  // namespace clinfm
