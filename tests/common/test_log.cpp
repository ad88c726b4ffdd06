// Logging: [rank r/N] prefix, levels, info on rank 0 only unless all_ranks.
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/log.h"

namespace clinfm {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override {
    set_log_rank(0, 1);
    set_log_level(LogLevel::kInfo);
    set_log_all_ranks(false);
  }
};

TEST_F(LogTest, LinesCarryRankPrefixAndLevel) {
  set_log_rank(2, 4);
  ::testing::internal::CaptureStderr();
  log_warn("bucket {} is late", 3);
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.rfind("[rank 2/4] ", 0), 0u) << out;
  EXPECT_NE(out.find(" warn: bucket 3 is late\n"), std::string::npos) << out;
}

TEST_F(LogTest, InfoOnlyOnRankZeroUnlessAllRanks) {
  set_log_rank(1, 2);
  EXPECT_FALSE(log_enabled(LogLevel::kInfo));
  EXPECT_TRUE(log_enabled(LogLevel::kWarn));
  EXPECT_TRUE(log_enabled(LogLevel::kError));
  set_log_all_ranks(true);
  EXPECT_TRUE(log_enabled(LogLevel::kInfo));
  set_log_rank(0, 2);
  set_log_all_ranks(false);
  EXPECT_TRUE(log_enabled(LogLevel::kInfo));
}

TEST_F(LogTest, LevelFiltersLowerLevels) {
  set_log_level(LogLevel::kWarn);
  EXPECT_FALSE(log_enabled(LogLevel::kInfo));
  EXPECT_TRUE(log_enabled(LogLevel::kWarn));
  set_log_level(LogLevel::kDebug);
  EXPECT_TRUE(log_enabled(LogLevel::kDebug));
  ::testing::internal::CaptureStderr();
  set_log_level(LogLevel::kError);
  log_info("hidden");
  log_warn("hidden too");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_F(LogTest, ParseLogLevel) {
  EXPECT_EQ(parse_log_level("debug", "x"), LogLevel::kDebug);
  EXPECT_EQ(parse_log_level("error", "x"), LogLevel::kError);
  try {
    parse_log_level("verbose", "log.level");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("log.level"), std::string::npos);
    EXPECT_NE(e.hint().find("debug, info, warn, error"), std::string::npos);
  }
}

}  // namespace
}  // namespace clinfm
