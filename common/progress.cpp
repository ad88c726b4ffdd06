#include "common/progress.h"

#include <unistd.h>

#include <cstdio>
#include <fmt/format.h>

#include "common/log.h"

namespace clinfm {

std::string human_count(double n) {
  if (n >= 1e9) return fmt::format("{:.2f}G", n / 1e9);
  if (n >= 1e6) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e4) return fmt::format("{:.1f}k", n / 1e3);
  return fmt::format("{:.0f}", n);
}

Progress::Progress(std::string label, std::string unit, int64_t total)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  interactive_ = ::isatty(STDERR_FILENO) && log_context().rank == 0;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (interactive_ && !finished_) std::fputs("\n", stderr);
}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done) {
  done_ = done;
  if (!interactive_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  const double elapsed = seconds();
  const double rate = elapsed > 0 ? done_ / elapsed : 0;
  std::string line = fmt::format("\r{}: {} {} ({}/s)", label_, human_count(done_), unit_, human_count(rate));
  if (total_ > 0 && rate > 0) {
    const double left = (total_ - done_) / rate;
    line += fmt::format(" {:.0f}% ETA {:02d}:{:02d}", 100.0 * done_ / total_, int(left) / 60, int(left) % 60);
  }
  std::fputs((line + "\033[K").c_str(), stderr);
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (interactive_) std::fputs("\r\033[K", stderr);
  const double elapsed = seconds();
  log_info("{}: {} {} in {:.1f} s ({}/s)", label_, human_count(done_), unit_, elapsed,
           human_count(elapsed > 0 ? done_ / elapsed : 0));
}

}  // namespace clinfm
