// Throughput accounting: the machine's peak FLOP/s (measured once by an sgemm probe on CPU, or
// given), MFU, and metrics.jsonl lines in the run folder.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>

namespace clinfm {

// FLOP/s of a square fp32 matmul of size n with the current LibTorch threads, best of a few.
double measure_matmul_flops(int64_t n = 1024, double seconds = 0.5);

// This device's matmul peak for a run's precision: the CPU probe above; on CUDA the rate of
// 8192^2 matmuls in bfloat16 (bf16 runs) or float32 (TF32 when `tf32`), timed with a device
// synchronisation around a batch of them.
double measure_device_matmul_flops(const torch::Device& device, bool bf16, double seconds = 0.5);

// The peak FLOP/s that MFU divides by, for all ranks together. Configured (train.peak_tflops),
// or measured: the best of several matmul probes on each rank, times the ranks. A probe taken
// while another process held a core reads low, and a step would then report an MFU above 100%:
// a step faster than the peak re-probes it (at most every kReprobeSteps steps) and the peak
// becomes at least what the step achieved, so MFU never exceeds 1.
class PeakFlops {
 public:
  static constexpr int64_t kReprobeSteps = 50;
  // `probe`: this rank's peak FLOP/s (measure_matmul_flops; tests pass their own).
  PeakFlops(double configured_tflops, int ranks, std::function<double()> probe);
  double value() const { return peak_; }
  // How the peak was found, for the log.
  std::string describe() const;
  // MFU of a step that achieved `flops` FLOP/s at `step`.
  double mfu(double flops, int64_t step);

 private:
  std::function<double()> probe_;
  int ranks_ = 1;
  bool configured_ = false;
  double peak_ = 0;
  int64_t last_probe_step_ = -1;
  int raises_ = 0;
};

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
