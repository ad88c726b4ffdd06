// The peak FLOP/s behind MFU: the best of several probes, raised (and re-probed) when a step is
// faster than it, so that a probe taken on a busy machine never yields an MFU above 100%.
#include <gtest/gtest.h>

#include <vector>

#include "trainer/metrics.h"

namespace clinfm {
namespace {

// A probe that returns the given rates in turn (GFLOP/s), repeating the last one.
std::function<double()> probes(std::vector<double> gflops, int* calls) {
  return [gflops, calls] {
    const size_t index = std::min<size_t>(size_t(*calls), gflops.size() - 1);
    ++*calls;
    return gflops[index] * 1e9;
  };
}

TEST(PeakFlops, IsTheBestOfThreeProbesTimesTheRanks) {
  int calls = 0;
  PeakFlops peak(0, 2, probes({40, 100, 70}, &calls));
  EXPECT_EQ(calls, 3);
  EXPECT_DOUBLE_EQ(peak.value(), 200e9);
  EXPECT_DOUBLE_EQ(peak.mfu(100e9, 1), 0.5);
  EXPECT_NE(peak.describe().find("100.0 GFLOP/s per rank x 2"), std::string::npos) << peak.describe();
}

TEST(PeakFlops, AStepFasterThanABusyProbeReprobesAndNeverReportsAboveOne) {
  int calls = 0;
  // Every start-up probe ran while another process held a core (30); the machine can do 80.
  PeakFlops peak(0, 1, probes({30, 30, 30, 80}, &calls));
  EXPECT_DOUBLE_EQ(peak.value(), 30e9);
  EXPECT_DOUBLE_EQ(peak.mfu(60e9, PeakFlops::kReprobeSteps), 60.0 / 80.0);  // re-probed: 80
  EXPECT_EQ(calls, 4);
  // Faster than even the new probe, within the re-probe interval: the peak is raised to the
  // step, no probe is taken, and MFU is 1 at most.
  EXPECT_DOUBLE_EQ(peak.mfu(90e9, PeakFlops::kReprobeSteps + 1), 1.0);
  EXPECT_EQ(calls, 4);
  EXPECT_DOUBLE_EQ(peak.value(), 90e9);
  for (double step_gflops : {10.0, 50.0, 89.0, 90.0, 200.0}) EXPECT_LE(peak.mfu(step_gflops * 1e9, 70), 1.0);
  EXPECT_NE(peak.describe().find("raised"), std::string::npos) << peak.describe();
}

TEST(PeakFlops, AConfiguredPeakIsNeverProbedNorChanged) {
  int calls = 0;
  PeakFlops peak(0.5, 4, probes({1}, &calls));
  EXPECT_EQ(calls, 0);
  EXPECT_DOUBLE_EQ(peak.value(), 500e9);
  EXPECT_DOUBLE_EQ(peak.mfu(250e9, 100), 0.5);
  EXPECT_NE(peak.describe().find("train.peak_tflops"), std::string::npos);
}

}  // namespace
}  // namespace clinfm
