// Prep's first pass: subject ids become keys (through a bounded cache), and two ids that hash to
// one key (a 64-bit collision, forced here with a test key function) stop prep in pass 2, from
// the records' check bytes, without naming either id.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "common/error.h"
#include "data/partition.h"
#include "data/timeline_builder.h"
#include "prep_fixture.h"

namespace clinfm {
namespace {

TEST(Partition, KeyRangesInOrderAndCountsFromTheInputSize) {
  for (const int partitions : {1, 7, 32, 4096}) {
    int previous = 0;
    for (uint64_t top = 0; top < 64; ++top) {
      const uint64_t key = top << 58 | 0x123456789ull;  // keys in increasing order
      const int p = partition_of_key(key, partitions);
      EXPECT_GE(p, previous) << partitions;
      EXPECT_LT(p, partitions);
      previous = p;
    }
    EXPECT_EQ(partition_of_key(0, partitions), 0);
    EXPECT_EQ(partition_of_key(~uint64_t(0), partitions), partitions - 1);
  }
  EXPECT_EQ(partitions_for_input_bytes(0), 32);
  EXPECT_EQ(partitions_for_input_bytes(uint64_t(256) << 20), 32);
  EXPECT_EQ(partitions_for_input_bytes((uint64_t(256) << 20) + 1), 64);
  EXPECT_EQ(partitions_for_input_bytes(uint64_t(4) << 30), 512);
  EXPECT_EQ(partitions_for_input_bytes(uint64_t(1) << 40), 4096);
  EXPECT_GE(raise_open_file_limit(256), 256u);
}

TEST(Partition, AKeyCollisionOfTwoSubjectsStopsPrepWithoutNamingThem) {
  testing::TempDir dir;
  PartitionWriter writer(dir.path().string(), 2, Salt{});
  writer.set_key_function_for_tests([](std::string_view id) -> uint64_t {
    return id == "SUBJECT-ALPHA" || id == "SUBJECT-BRAVO" ? 0xfeedull : 7;
  });
  writer.add_birth("SUBJECT-ALPHA", 0);
  writer.add_event("SUBJECT-ALPHA", 10, "A", 1.0);
  writer.add_birth("SUBJECT-OTHER", 0);
  writer.add_event("SUBJECT-OTHER", 10, "A", 1.0);  // another key: fine
  writer.add_event("SUBJECT-ALPHA", 20, "B", 1.0);  // the same id again: its key, no collision
  writer.finish();
  const TimelineRules rules{89.0, 0.1, 0.1};
  // Without the second id, each key is one patient.
  int64_t patients = 0;
  for (int p = 0; p < writer.partitions(); ++p) {
    auto records = read_partition(writer.partition_path(p));
    TimelineCounts counts;
    patients += static_cast<int64_t>(group_timelines(records, writer.codes(), rules, &counts).size());
  }
  EXPECT_EQ(patients, 2);

  testing::TempDir dir2;
  PartitionWriter colliding(dir2.path().string(), 1, Salt{});
  colliding.set_key_function_for_tests([](std::string_view id) -> uint64_t { return 0xfeedull; });
  colliding.add_birth("SUBJECT-ALPHA", 0);
  colliding.add_event("SUBJECT-BRAVO", 10, "A", 1.0);  // a second id with ALPHA's key
  colliding.finish();
  auto records = read_partition(colliding.partition_path(0));
  TimelineCounts counts;
  try {
    group_timelines(records, colliding.codes(), rules, &counts);
    FAIL() << "two subjects were given one key";
  } catch (const Error& e) {
    const std::string message = std::string(e.what()) + e.hint();
    EXPECT_NE(message.find("the same pseudonymous key 000000000000feed"), std::string::npos) << message;
    EXPECT_NE(message.find("another salt"), std::string::npos) << message;
    EXPECT_EQ(message.find("SUBJECT-"), std::string::npos) << "a raw id reached the message: " << message;
  }
}

TEST(Partition, TheIdCacheIsBoundedAndGivesEveryIdItsOwnKey) {
  testing::TempDir dir;
  const Salt salt{};
  PartitionWriter writer(dir.path().string(), 4, salt);
  // 200,000 ids, far more than the cache's slots, each seen twice far apart: keys stay right.
  // The record's time carries the id's number, so every record's key and check can be recomputed.
  constexpr int64_t kRound = 1000000;
  for (int64_t round = 0; round < 2; ++round)
    for (int64_t i = 0; i < 200000; ++i)
      writer.add_event("S" + std::to_string(i), round * kRound + i, "A", 1.0);
  writer.finish();
  std::map<uint64_t, int> per_key;
  int64_t wrong = 0;
  for (int p = 0; p < writer.partitions(); ++p)
    for (const PartitionRecord& r : read_partition(writer.partition_path(p))) {
      per_key[r.key] += 1;
      const SubjectHash expected = subject_hash(salt, "S" + std::to_string(r.time_s % kRound));
      wrong += r.key != expected.key || r.check != expected.check;
    }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(per_key.size(), 200000u);
  int64_t not_twice = 0;
  for (const auto& entry : per_key) not_twice += entry.second != 2;
  EXPECT_EQ(not_twice, 0);
}

}  // namespace
}  // namespace clinfm
