// --checkpoint PATH: the three accepted forms and a clear error for everything else.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/sha256.h"
#include "eval/checkpoint_path.h"

namespace clinfm {
namespace {
namespace fs = std::filesystem;

void touch(const fs::path& p, const std::string& text = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string error_of(const std::string& path) {
  try {
    resolve_checkpoint_path(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(CheckpointPath, AcceptedForms) {
  const fs::path run = fs::path(testing::TempDir()) / "ckpt_run";
  fs::remove_all(run);
  touch(run / "model.pt");
  EXPECT_EQ(resolve_checkpoint_path((run / "model.pt").string()), (run / "model.pt").string());  // (a)
  EXPECT_EQ(resolve_checkpoint_path(run.string()), (run / "model.pt").string());  // (c) no latest
  touch(run / "checkpoints" / "step-00000200" / "model.pt");
  touch(run / "checkpoints" / "step-00000100" / "model.pt");
  EXPECT_EQ(resolve_checkpoint_path((run / "checkpoints" / "step-00000100").string()),
            (run / "checkpoints" / "step-00000100" / "model.pt").string());       // (b)
  EXPECT_EQ(resolve_checkpoint_path(run.string()), (run / "model.pt").string());  // no latest pointer yet
  touch(run / "checkpoints" / "latest", "step-00000200\n");
  EXPECT_EQ(resolve_checkpoint_path(run.string()),
            (run / "checkpoints" / "step-00000200" / "model.pt").string());
  fs::remove_all(run);
}

TEST(CheckpointPath, BadPathsNameThePath) {
  const fs::path run = fs::path(testing::TempDir()) / "ckpt_bad";
  fs::remove_all(run);
  EXPECT_NE(error_of((run / "missing").string()).find("ckpt_bad/missing: no such file or folder"),
            std::string::npos);
  fs::create_directories(run);
  EXPECT_NE(error_of(run.string()).find("a folder without model.pt or checkpoints/latest"),
            std::string::npos);
  touch(run / "checkpoints" / "latest", "step-00000300\n");
  EXPECT_NE(error_of(run.string()).find("has no model.pt"), std::string::npos) << error_of(run.string());
  touch(run / "checkpoints" / "latest", "\n");
  EXPECT_NE(error_of(run.string()).find("does not name a checkpoint folder"), std::string::npos);
  fs::remove_all(run);
}

TEST(CheckpointPath, WeightsAreCheckedAgainstTheCheckpointManifest) {
  const fs::path dir = fs::path(testing::TempDir()) / "ckpt_sum" / "step-00000100";
  fs::remove_all(dir.parent_path());
  const std::string bytes(3 << 20, 'w');  // more than one 1 MiB read
  touch(dir / "model.pt", bytes);
  EXPECT_FALSE(verify_weights_checksum((dir / "model.pt").string()));  // no manifest: nothing to check
  touch(dir / "checksums.sha256", sha256_hex(bytes) + "  model.pt\n" + sha256_hex("m") + "  meta.json\n");
  EXPECT_TRUE(verify_weights_checksum((dir / "model.pt").string()));
  touch(dir / "checksums.sha256", sha256_hex(bytes) + " *model.pt\n");  // sha256sum -b form
  EXPECT_TRUE(verify_weights_checksum((dir / "model.pt").string()));
  std::string flipped = bytes;
  flipped[12345] = 'x';
  touch(dir / "model.pt", flipped);
  const auto error = [&] {
    try {
      verify_weights_checksum((dir / "model.pt").string());
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error().find("model.pt: checksum mismatch against"), std::string::npos) << error();
  touch(dir / "checksums.sha256", sha256_hex("m") + "  meta.json\n");
  EXPECT_NE(error().find("has no entry for model.pt"), std::string::npos) << error();
  fs::remove_all(dir.parent_path());
}

}  // namespace
}  // namespace clinfm
