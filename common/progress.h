// A one-line progress display on stderr: count, rate and ETA, redrawn at most 5 times a second.
// Silent when stderr is not a terminal (CI logs, files) or on ranks other than 0, so logs stay
// readable; finish() then prints one summary line through the logger.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace clinfm {

class Progress {
 public:
  // total = 0 when unknown (no ETA).
  Progress(std::string label, std::string unit, int64_t total = 0);
  ~Progress();
  void update(int64_t done);
  void add(int64_t n) { update(done_ + n); }
  void set_total(int64_t total) { total_ = total; }
  void finish();
  double seconds() const;

 private:
  std::string label_, unit_;
  int64_t total_ = 0, done_ = 0;
  bool interactive_ = false, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// 1234567 -> "1.23M"
std::string human_count(double n);

}  // namespace clinfm
