// The check macros: message, site (file:line, rank, host) and hint reach the exception.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/check.h"
#include "common/log.h"

namespace clinfm {
namespace {

TEST(Check, PassingCheckDoesNotThrow) { EXPECT_NO_THROW(CLINFM_CHECK(1 + 1 == 2, "never")); }

TEST(Check, FailingCheckCarriesMessageSiteAndRank) {
  set_log_rank(3, 8);
  try {
    const int got = 7;
    CLINFM_CHECK(got == 8, "expected 8 patients, got {}", got);
    FAIL() << "CLINFM_CHECK did not throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "expected 8 patients, got 7");
    EXPECT_NE(e.where().find("test_check.cpp:"), std::string::npos) << e.where();
    EXPECT_NE(e.where().find("rank 3/8"), std::string::npos) << e.where();
    EXPECT_NE(e.where().find(log_context().host), std::string::npos) << e.where();
    EXPECT_EQ(e.exit_code(), 1);
  }
  set_log_rank(0, 1);
}

TEST(Check, IoCheckReportsOsErrorAndHint) {
  const std::string path = "/nonexistent-clinfm-dir/file.txt";
  try {
    FILE* f = std::fopen(path.c_str(), "r");
    IO_CHECK(f != nullptr, path, "open");
    FAIL() << "IO_CHECK did not throw";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot open '" + path + "'"), std::string::npos) << what;
    EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
    EXPECT_NE(e.hint().find("check the path"), std::string::npos) << e.hint();
  }
}

TEST(Check, FormatExceptionShowsSiteAndHint) {
  const Error e("the message", "the hint", "x.cpp:1 (rank 0/1 on h)");
  EXPECT_EQ(format_exception(e), "the message\n  at x.cpp:1 (rank 0/1 on h)\n  hint: the hint");
  const std::runtime_error plain("plain");
  EXPECT_EQ(format_exception(plain), "plain");
}

TEST(Check, ErrorKindsHaveDistinctExitCodes) {
  EXPECT_EQ(Error("a").exit_code(), 1);
  EXPECT_EQ(InputError("a").exit_code(), 2);
  EXPECT_EQ(NotBuiltError("a").exit_code(), 3);
}

}  // namespace
}  // namespace clinfm
