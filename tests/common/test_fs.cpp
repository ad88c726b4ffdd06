// Atomic writes: content lands whole, no temporary file is left, failures leave the target as
// it was and name the path.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "common/fs.h"

namespace clinfm {
namespace {
namespace fs = std::filesystem;

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("clinfm-fs-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  size_t entries() const { return std::distance(fs::directory_iterator(dir_), fs::directory_iterator()); }
  fs::path dir_;
};

TEST_F(FsTest, WriteThenReadRoundTrips) {
  const std::string path = (dir_ / "a.yaml").string();
  std::string bytes = "run:\n  name: x\n";
  bytes.push_back('\0');
  bytes += std::string(200000, 'z');  // more than one read chunk
  write_file_atomic(path, bytes);
  EXPECT_EQ(read_file(path), bytes);
  EXPECT_EQ(entries(), 1u) << "a temporary file was left behind";
}

TEST_F(FsTest, ReplacesExistingFileWhole) {
  const std::string path = (dir_ / "latest").string();
  write_file_atomic(path, "step-00000100");
  write_file_atomic(path, "step-00000200");
  EXPECT_EQ(read_file(path), "step-00000200");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(FsTest, MissingFolderIsAClearError) {
  const std::string path = (dir_ / "no-such-folder" / "x.txt").string();
  try {
    write_file_atomic(path, "x");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST_F(FsTest, FailedRenameLeavesTargetAndNoTemporary) {
  // The target is a non-empty folder: rename(2) fails after the data was written.
  const fs::path target = dir_ / "target";
  fs::create_directories(target / "inside");
  EXPECT_THROW(write_file_atomic(target.string(), "new content"), Error);
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  EXPECT_EQ(entries(), 1u) << "the temporary file was not cleaned up";
}

TEST_F(FsTest, ReadMissingFileNamesPath) {
  const std::string path = (dir_ / "missing.yaml").string();
  try {
    read_file(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos);
  }
}

}  // namespace
}  // namespace clinfm
