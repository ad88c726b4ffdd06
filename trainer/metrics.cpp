#include "trainer/metrics.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "common/check.h"
#include "common/fs.h"
#include "common/log.h"

namespace clinfm {

double measure_matmul_flops(int64_t n, double seconds) {
  torch::NoGradGuard no_grad;
  // Constant operands: the timing does not depend on the values, and the probe must not draw
  // from the global generator (a resumed run restores that generator's state exactly).
  const auto a = torch::full({n, n}, 0.5f), b = torch::full({n, n}, 0.25f);
  auto c = torch::mm(a, b);  // warm-up
  double best = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  do {
    const auto start = std::chrono::steady_clock::now();
    c = torch::mm(a, b);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 2.0 * double(n) * double(n) * double(n) / elapsed);
  } while (std::chrono::steady_clock::now() < deadline);
  return best;
}

double measure_device_matmul_flops(const torch::Device& device, bool bf16, double seconds) {
  if (!device.is_cuda()) return measure_matmul_flops(1024, seconds);
  torch::NoGradGuard no_grad;
  const int64_t n = 8192, batch = 10;
  const auto options = torch::TensorOptions().device(device).dtype(bf16 ? torch::kBFloat16 : torch::kFloat32);
  // Varied operands, not constants: tensor cores run about 10% faster on constant or zero data
  // (an H200 gave 885 TFLOP/s on constants against 797 on random values), which would understate
  // the MFU. sin(k) spreads the values like random ones without drawing from the global generator.
  const auto varied = [&](double phase) {
    return torch::sin(torch::arange(n * n, options.dtype(torch::kFloat32)).mul_(0.7071).add_(phase))
        .view({n, n})
        .to(options.dtype());
  };
  const auto a = varied(0.0), b = varied(1.0);
  auto c = torch::mm(a, b);  // warm-up: cuBLAS handle and heuristics
  torch::cuda::synchronize(device.index());
  double best = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  do {
    const auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < batch; ++i) c = torch::mm(a, b);
    torch::cuda::synchronize(device.index());
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, double(batch) * 2.0 * double(n) * double(n) * double(n) / elapsed);
  } while (std::chrono::steady_clock::now() < deadline);
  return best;
}

PeakFlops::PeakFlops(double configured_tflops, int ranks, std::function<double()> probe)
    : probe_(std::move(probe)), ranks_(std::max(1, ranks)), configured_(configured_tflops > 0) {
  if (configured_) {
    peak_ = configured_tflops * 1e12;
    return;
  }
  for (int attempt = 0; attempt < 3; ++attempt) peak_ = std::max(peak_, probe_() * ranks_);
  last_probe_step_ = 0;
}

std::string PeakFlops::describe() const {
  if (configured_) return fmt::format("{:.1f} GFLOP/s in all (train.peak_tflops)", peak_ / 1e9);
  return fmt::format(
      "{:.1f} GFLOP/s per rank x {} (best of 3 matmul probes on this device, in the run's precision{})",
      peak_ / ranks_ / 1e9, ranks_, raises_ ? fmt::format(", raised {} times by faster steps", raises_) : "");
}

double PeakFlops::mfu(double flops, int64_t step) {
  if (flops <= peak_ || !std::isfinite(flops)) return flops / peak_;
  if (configured_) return flops / peak_;  // the user's number: reported as it is
  const double before = peak_;
  if (step - last_probe_step_ >= kReprobeSteps) {
    peak_ = std::max(peak_, probe_() * ranks_);
    last_probe_step_ = step;
  }
  peak_ = std::max(peak_, flops);
  ++raises_;
  log_info(
      "step {}: {:.1f} GFLOP/s is above the measured peak {:.1f} GFLOP/s (a probe taken while the machine "
      "was busy): peak now {:.1f} GFLOP/s; set train.peak_tflops for a fixed one",
      step, flops / 1e9, before / 1e9, peak_ / 1e9);
  return flops / peak_;
}

void truncate_metrics_after(const std::string& path, int64_t step) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  std::istringstream lines(read_file(path));
  std::string kept, line;
  bool dropped = false;
  while (std::getline(lines, line)) {
    const size_t at = line.find("\"step\": ");
    const long long line_step = at == std::string::npos ? 0 : std::atoll(line.c_str() + at + 8);
    if (line_step > step) {
      dropped = true;
      continue;
    }
    kept += line + "\n";
  }
  if (dropped) write_file_atomic(path, kept);
}

MetricsWriter::MetricsWriter(const std::string& path) : path_(path) {
  if (path.empty()) return;
  file_ = std::fopen(path.c_str(), "a");
  IO_CHECK(file_ != nullptr, path, "open for appending");
}

MetricsWriter::~MetricsWriter() {
  if (file_) std::fclose(file_);
}

void MetricsWriter::write(const std::map<std::string, double>& values) {
  if (!file_) return;
  std::string line = "{";
  for (const auto& [key, value] : values) {
    if (line.size() > 1) line += ", ";
    const bool integral = std::isfinite(value) && value == std::floor(value) && std::abs(value) < 1e15;
    if (!std::isfinite(value))
      line += fmt::format("\"{}\": null", key);
    else if (integral)
      line += fmt::format("\"{}\": {}", key, static_cast<int64_t>(value));
    else
      line += fmt::format("\"{}\": {:.9g}", key, value);
  }
  line += "}\n";
  IO_CHECK(std::fputs(line.c_str(), file_) >= 0 && std::fflush(file_) == 0, path_, "write");
}

}  // namespace clinfm
