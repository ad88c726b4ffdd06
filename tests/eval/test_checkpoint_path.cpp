// Which weights a path means (trainer/checkpoint/weights_path.h), the rule that `clinfm eval
// --checkpoint` and `clinfm export` share: a weights file as given (checked against a manifest
// beside it), a checkpoint folder after it verifies, a run folder's `latest` checkpoint, else its
// newest valid one (a warning for each damaged one), else RUN/model.pt, else a clear error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/sha256.h"
#include "trainer/checkpoint/weights_path.h"

namespace clinfm {
namespace {
namespace fs = std::filesystem;

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// A complete checkpoint whose model.pt holds `weights` (checksums.sha256 as the trainer writes it).
fs::path write_checkpoint(const fs::path& run, const std::string& name, const std::string& weights) {
  const fs::path dir = run / "checkpoints" / name;
  std::string manifest;
  const std::vector<std::pair<std::string, std::string>> files = {
      {"model.pt", weights}, {"state.json", "{}"}, {"config.yaml", "run: {}\n"}};
  for (const auto& [file, text] : files) {
    write(dir / file, text);
    manifest += sha256_hex(text) + "  " + file + "\n";
  }
  write(dir / "checksums.sha256", manifest);
  return dir;
}

void damage(const fs::path& checkpoint) { write(checkpoint / "model.pt", "flipped bits"); }

std::string error_of(const std::string& path) {
  try {
    choose_weights(path);
  } catch (const InputError& error) {
    return error.what();
  }
  return "no error";
}

bool any_warning_has(const WeightsChoice& choice, const std::string& text) {
  for (const std::string& warning : choice.warnings)
    if (warning.find(text) != std::string::npos) return true;
  return false;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(testing::TempDir()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(WeightsPath, AWeightsFileIsTakenAsGiven) {
  const fs::path run = fresh_dir("weights_file");
  write(run / "model.pt", "weights");
  const WeightsChoice choice = choose_weights((run / "model.pt").string());
  EXPECT_EQ(choice.path, (run / "model.pt").string());
  EXPECT_TRUE(choice.verified_against.empty());  // no manifest beside RUN/model.pt
  EXPECT_TRUE(choice.warnings.empty());
  fs::remove_all(run);
}

TEST(WeightsPath, ACheckpointFolderIsVerifiedFirst) {
  const fs::path run = fresh_dir("weights_checkpoint");
  const fs::path step = write_checkpoint(run, "step-00000100", "weights 100");
  const WeightsChoice choice = choose_weights(step.string());
  EXPECT_EQ(choice.path, (step / "model.pt").string());
  EXPECT_EQ(choice.verified_against, (step / "checksums.sha256").string());
  EXPECT_EQ(choose_weights(step.string() + "/").path, step.string() + "/model.pt");  // a trailing slash
  damage(step);
  const std::string error = error_of(step.string());
  EXPECT_NE(error.find("the checkpoint is damaged: model.pt: checksum mismatch"), std::string::npos) << error;
  fs::remove_all(run);
}

TEST(WeightsPath, ARunFolderFollowsLatest) {
  const fs::path run = fresh_dir("weights_latest");
  write(run / "model.pt", "final weights");
  const fs::path older = write_checkpoint(run, "step-00000100", "weights 100");
  write_checkpoint(run, "step-00000200", "weights 200");
  write(run / "checkpoints" / "latest", "step-00000100\n");  // latest wins over a newer folder
  const WeightsChoice choice = choose_weights(run.string());
  EXPECT_EQ(choice.path, (older / "model.pt").string());
  EXPECT_EQ(choice.verified_against, (older / "checksums.sha256").string());
  EXPECT_TRUE(choice.warnings.empty());
  fs::remove_all(run);
}

TEST(WeightsPath, ADamagedLatestFallsBackToTheNewestValidWithAWarning) {
  const fs::path run = fresh_dir("weights_damaged_latest");
  write(run / "model.pt", "final weights");
  const fs::path first = write_checkpoint(run, "step-00000100", "weights 100");
  const fs::path second = write_checkpoint(run, "step-00000200", "weights 200");
  const fs::path third = write_checkpoint(run, "step-00000300", "weights 300");
  write(run / "checkpoints" / "latest", "step-00000300\n");
  damage(third);
  damage(second);
  const WeightsChoice choice = choose_weights(run.string());
  EXPECT_EQ(choice.path, (first / "model.pt").string());
  ASSERT_EQ(choice.warnings.size(), 2u);
  EXPECT_TRUE(any_warning_has(choice, third.string() + " (named by checkpoints/latest) is damaged"));
  EXPECT_TRUE(any_warning_has(choice, second.string() + " is damaged (model.pt: checksum mismatch"));
  fs::remove_all(run);
}

TEST(WeightsPath, WithoutALatestPointerTheNewestValidCheckpointIsTaken) {
  const fs::path run = fresh_dir("weights_no_latest");
  write_checkpoint(run, "step-00000100", "weights 100");
  const fs::path newest = write_checkpoint(run, "step-00000200", "weights 200");
  EXPECT_EQ(choose_weights(run.string()).path, (newest / "model.pt").string());
  write(run / "checkpoints" / "latest", "../elsewhere\n");  // names no checkpoint: ignored, said so
  const WeightsChoice choice = choose_weights(run.string());
  EXPECT_EQ(choice.path, (newest / "model.pt").string());
  EXPECT_TRUE(any_warning_has(choice, "not a checkpoint name")) << choice.warnings.size();
  fs::remove_all(run);
}

TEST(WeightsPath, WithoutValidCheckpointsTheRunsModelPtIsTaken) {
  const fs::path run = fresh_dir("weights_model_pt");
  write(run / "model.pt", "final weights");
  EXPECT_EQ(choose_weights(run.string()).path, (run / "model.pt").string());  // no checkpoints/ at all
  fs::create_directories(run / "checkpoints");
  EXPECT_EQ(choose_weights(run.string()).path, (run / "model.pt").string());  // an empty checkpoints/
  damage(write_checkpoint(run, "step-00000100", "weights 100"));
  write(run / "checkpoints" / "latest", "step-00000100\n");
  const WeightsChoice choice = choose_weights(run.string());
  EXPECT_EQ(choice.path, (run / "model.pt").string());
  EXPECT_TRUE(choice.verified_against.empty());
  EXPECT_TRUE(any_warning_has(choice, "step-00000100 (named by checkpoints/latest) is damaged"));
  fs::remove_all(run);
}

TEST(WeightsPath, NothingUsableIsAClearError) {
  const fs::path run = fresh_dir("weights_nothing");
  EXPECT_NE(error_of((run / "missing").string()).find("weights_nothing/missing: no such file or folder"),
            std::string::npos);
  EXPECT_NE(error_of(run.string()).find("a folder with neither checkpoints nor model.pt"), std::string::npos)
      << error_of(run.string());
  damage(write_checkpoint(run, "step-00000100", "weights 100"));
  const std::string error = error_of(run.string());
  EXPECT_NE(error.find("every checkpoint under " + (run / "checkpoints").string() + " is damaged"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("step-00000100 is damaged"), std::string::npos) << error;
  fs::remove_all(run);
}

TEST(WeightsPath, AWeightsFileIsCheckedAgainstTheManifestBesideIt) {
  const fs::path dir = fresh_dir("weights_sum") / "step-00000100";
  const std::string bytes(3 << 20, 'w');  // more than one read chunk
  write(dir / "model.pt", bytes);
  const std::string weights = (dir / "model.pt").string();
  EXPECT_FALSE(verify_weights_checksum(weights));  // no manifest: nothing to check
  write(dir / "checksums.sha256", sha256_hex(bytes) + "  model.pt\n" + sha256_hex("m") + "  meta.json\n");
  EXPECT_TRUE(verify_weights_checksum(weights));
  EXPECT_EQ(choose_weights(weights).verified_against, (dir / "checksums.sha256").string());
  write(dir / "checksums.sha256", sha256_hex(bytes) + " *model.pt\n");  // sha256sum -b form
  EXPECT_TRUE(verify_weights_checksum(weights));
  std::string flipped = bytes;
  flipped[12345] = 'x';
  write(dir / "model.pt", flipped);
  EXPECT_NE(error_of(weights).find("model.pt: checksum mismatch against"), std::string::npos)
      << error_of(weights);
  write(dir / "checksums.sha256", sha256_hex("m") + "  meta.json\n");
  EXPECT_NE(error_of(weights).find("has no entry for model.pt"), std::string::npos) << error_of(weights);
  fs::remove_all(dir.parent_path());
}

}  // namespace
}  // namespace clinfm
