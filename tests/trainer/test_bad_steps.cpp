// Bad steps decided on the device and read late: a step with a NaN loss is skipped without a
// host synchronisation (the optimizer's step decides), and the trainer reads the steps' values
// at log steps, checkpoints and the end. These tests hold that the late read changes nothing a
// user sees: every step has its metrics line, skipped steps are counted, leave no trace in the
// parameters, and too many in a row stop the run with the step that was last.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../data/prep_fixture.h"
#include "common/config/resolve.h"
#include "common/error.h"
#include "trainer/trainer.h"

namespace clinfm {
namespace {
namespace fs = std::filesystem;

class BadSteps : public ::testing::Test {
 protected:
  void SetUp() override { testing::prep_synthetic_dataset(dir_, 120, 5); }

  // Warmup longer than every run here: the first steps' learning rates do not depend on max_steps.
  ResolvedConfig config(const std::string& out, int64_t max_steps, const std::string& extra = "") {
    std::vector<std::string> overrides = {"data.dataset=" + (dir_ / "ds"),
                                          "run.out_dir=" + (dir_ / out),
                                          "run.threads=1",
                                          "model.preset=tiny",
                                          "model.n_layers=1",
                                          "data.seq_len=32",
                                          fmt::format("train.max_steps={}", max_steps),
                                          "train.global_batch_size=4",
                                          "train.micro_batch_size=2",
                                          "optim.lr=3e-3",
                                          "optim.warmup_steps=50",
                                          "train.validation_every=0",
                                          "train.peak_tflops=1",
                                          "checkpoint.every=0",
                                          "log.every=5"};
    if (!extra.empty()) overrides.push_back(extra);
    return resolve_config("", overrides);
  }

  static LossHook nan_at(std::set<int64_t> steps) {
    return [steps](int64_t step, LossSums& sums) {
      if (steps.count(step)) sums.token_nll = sums.token_nll * std::numeric_limits<double>::quiet_NaN();
    };
  }

  static std::map<std::string, torch::Tensor> parameters_of(Trainer& trainer) {
    std::map<std::string, torch::Tensor> out;
    for (const auto& p : trainer.model()->named_parameters()) out[p.key()] = p.value().detach().clone();
    return out;
  }

  // The steps' lines of metrics.jsonl.
  std::vector<std::string> metric_lines(const std::string& out) {
    std::ifstream in(dir_ / (out + "/metrics.jsonl"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
      if (line.find("\"loss\"") != std::string::npos) lines.push_back(line);  // not the checkpoint's line
    return lines;
  }

  testing::TempDir dir_;
};

TEST_F(BadSteps, SkippedStepsLeaveNoTraceAndEveryStepHasItsLine) {
  Trainer clean(config("clean", 2));
  clean.run();
  Trainer faulty(config("faulty", 4));  // steps 3 and 4 skipped: read at the end, not at a log step
  faulty.set_loss_hook(nan_at({3, 4}));
  const StepResult last = faulty.run();
  EXPECT_EQ(faulty.skipped_steps(), 2);
  EXPECT_TRUE(last.skipped);
  EXPECT_EQ(last.step, 4);
  EXPECT_TRUE(std::isnan(last.loss));
  EXPECT_TRUE(std::isnan(last.grad_norm));
  const auto a = parameters_of(clean), b = parameters_of(faulty);
  for (const auto& [name, tensor] : a) EXPECT_TRUE(torch::equal(tensor, b.at(name))) << name;

  const std::vector<std::string> lines = metric_lines("faulty");
  ASSERT_EQ(lines.size(), 4u);
  for (size_t index = 0; index < lines.size(); ++index) {
    const bool bad = index >= 2;
    EXPECT_NE(lines[index].find(fmt::format("\"step\": {}", index + 1)), std::string::npos) << lines[index];
    EXPECT_NE(lines[index].find(bad ? "\"skipped\": 1" : "\"skipped\": 0"), std::string::npos)
        << lines[index];
    EXPECT_EQ(lines[index].find("\"grad_norm\": null") != std::string::npos, bad) << lines[index];
  }
  EXPECT_NE(lines[3].find("\"skipped_steps\": 2"), std::string::npos) << lines[3];
}

TEST_F(BadSteps, AGoodStepAfterBadOnesTrainsAsIfTheyHadNotHappened) {
  // Steps 2-3 bad, read together at step 5 (log.every=5) with the good steps 4 and 5 after them.
  Trainer faulty(config("recovering", 7));
  faulty.set_loss_hook(nan_at({2, 3}));
  const StepResult last = faulty.run();
  EXPECT_EQ(faulty.skipped_steps(), 2);
  EXPECT_FALSE(last.skipped);
  EXPECT_TRUE(std::isfinite(last.loss));
  EXPECT_GT(last.grad_norm, 0.0);
  const std::vector<std::string> lines = metric_lines("recovering");
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_NE(lines[4].find("\"skipped_steps\": 2"), std::string::npos) << lines[4];
  EXPECT_NE(lines[4].find("\"skipped\": 0"), std::string::npos) << lines[4];
}

TEST_F(BadSteps, TooManyInARowStopWithTheLastBadStepNamed) {
  Trainer faulty(config("stopped", 9, "train.max_consecutive_bad_steps=3"));
  faulty.set_loss_hook(nan_at({2, 3, 4}));
  try {
    faulty.run();
    FAIL() << "three bad steps in a row did not stop the run";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("3 consecutive steps had a NaN/Inf loss or gradient (last: step 4)"),
              std::string::npos)
        << message;
  }
  EXPECT_FALSE(fs::exists(dir_ / "stopped/model.pt"));
}

}  // namespace
}  // namespace clinfm
