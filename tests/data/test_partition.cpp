// Prep's first pass: subject ids become keys once each, and two ids that hash to one key (a
// 64-bit collision, forced here with a test key function) stop prep without naming either id.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/error.h"
#include "data/partition.h"
#include "prep_fixture.h"

namespace clinfm {
namespace {

TEST(Partition, AKeyCollisionOfTwoSubjectsStopsPrepWithoutNamingThem) {
  testing::TempDir dir;
  PartitionWriter writer(dir.path().string(), 2, Salt{});
  writer.set_key_function_for_tests([](std::string_view id) -> uint64_t {
    return id == "SUBJECT-ALPHA" || id == "SUBJECT-BRAVO" ? 0xfeedull : 7;
  });
  writer.add_birth("SUBJECT-ALPHA", 0);
  writer.add_event("SUBJECT-ALPHA", 10, "A", 1.0);
  writer.add_event("SUBJECT-OTHER", 10, "A", 1.0);  // another key: fine
  writer.add_event("SUBJECT-ALPHA", 20, "B", 1.0);  // the same id again: its key, no collision
  EXPECT_EQ(writer.subjects(), 2);
  try {
    writer.add_event("SUBJECT-BRAVO", 10, "A", 1.0);
    FAIL() << "two subjects were given one key";
  } catch (const Error& e) {
    const std::string message = std::string(e.what()) + e.hint();
    EXPECT_NE(message.find("the same pseudonymous key 000000000000feed"), std::string::npos) << message;
    EXPECT_NE(message.find("after 2 distinct subjects"), std::string::npos) << message;
    EXPECT_NE(message.find("another salt"), std::string::npos) << message;
    EXPECT_EQ(message.find("SUBJECT-"), std::string::npos) << "a raw id reached the message: " << message;
  }
}

}  // namespace
}  // namespace clinfm
