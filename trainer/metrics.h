// Throughput accounting: the machine's peak FLOP/s (measured once by an sgemm probe on CPU, or
// given), MFU, and metrics.jsonl lines in the run folder.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

namespace clinfm {

// FLOP/s of a square fp32 matmul of size n with the current LibTorch threads, best of a few.
double measure_matmul_flops(int64_t n = 1024, double seconds = 0.5);

// Drops the lines of steps after `step` (what a killed run wrote past its last checkpoint),
// atomically; no-op when the file does not exist.
void truncate_metrics_after(const std::string& path, int64_t step);

class MetricsWriter {
 public:
  // Appends to path (created when missing). Empty path: writes nothing.
  explicit MetricsWriter(const std::string& path);
  ~MetricsWriter();
  // One JSON object per line; keys in the order given by the map's sort.
  void write(const std::map<std::string, double>& values);

 private:
  FILE* file_ = nullptr;
  std::string path_;
};

}  // namespace clinfm
