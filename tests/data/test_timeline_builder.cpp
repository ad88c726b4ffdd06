// group_timelines' record order: the run-based fast path must give exactly what a stable sort by
// (key; birth, statics, events by time) gives, for every layout a partition can have.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "data/timeline_builder.h"

namespace clinfm {
namespace {

PartitionRecord record(uint64_t key, RecordKind kind, int64_t time_s, uint32_t code) {
  PartitionRecord r{};
  r.key = key;
  r.kind = kind;
  r.time_s = time_s;
  r.code = code;
  r.value = std::nanf("");
  return r;
}

// What group_timelines must produce, computed the slow, obvious way.
std::vector<GroupedPatient> reference(std::vector<PartitionRecord> records,
                                      const std::vector<std::string>& codes, const TimelineRules& rules) {
  std::stable_sort(records.begin(), records.end(), [](const PartitionRecord& a, const PartitionRecord& b) {
    auto rank = [](RecordKind k) { return k == RecordKind::kBirth ? 0 : k == RecordKind::kStatic ? 1 : 2; };
    if (a.key != b.key) return a.key < b.key;
    if (rank(a.kind) != rank(b.kind)) return rank(a.kind) < rank(b.kind);
    return rank(a.kind) == 2 && a.time_s < b.time_s;
  });
  TimelineCounts counts;
  // Sorted input takes the fast path's identity case; group_timelines' own grouping is reused.
  return group_timelines(records, codes, rules, &counts);
}

void expect_same(const std::vector<GroupedPatient>& got, const std::vector<GroupedPatient>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t p = 0; p < got.size(); ++p) {
    EXPECT_EQ(got[p].key, want[p].key);
    ASSERT_EQ(got[p].events.size(), want[p].events.size()) << "patient " << p;
    for (size_t e = 0; e < got[p].events.size(); ++e) {
      EXPECT_EQ(got[p].events[e].code, want[p].events[e].code) << "patient " << p << " event " << e;
      EXPECT_EQ(got[p].events[e].age_days, want[p].events[e].age_days);
    }
  }
}

// Patients with a birth, a static and events at a few distinct times (ties included); the code
// id is the record's position in the export, so any change of tie order shows.
std::vector<std::vector<PartitionRecord>> patients(std::mt19937& rng, int n, bool time_ordered) {
  std::vector<std::vector<PartitionRecord>> out;
  uint32_t serial = 0;
  for (int p = 0; p < n; ++p) {
    const uint64_t key = rng();
    std::vector<PartitionRecord> rs;
    rs.push_back(record(key, RecordKind::kBirth, 0, serial++));
    rs.push_back(record(key, RecordKind::kStatic, 0, serial++));
    const int events = 1 + int(rng() % 12);
    for (int e = 0; e < events; ++e)
      rs.push_back(record(key, RecordKind::kEvent, 86400 * int64_t(1 + rng() % 4), serial++));
    if (time_ordered) {
      std::stable_sort(rs.begin() + 2, rs.end(), [](auto& a, auto& b) { return a.time_s < b.time_s; });
    } else {
      std::shuffle(rs.begin(), rs.end(), rng);  // births and statics anywhere too
    }
    out.push_back(std::move(rs));
  }
  return out;
}

std::vector<PartitionRecord> concat(const std::vector<std::vector<PartitionRecord>>& groups) {
  std::vector<PartitionRecord> all;
  for (const auto& g : groups) all.insert(all.end(), g.begin(), g.end());
  return all;
}

const std::vector<std::string> kCodes(100000, "X//1");
const TimelineRules kRules{};

TEST(TimelineBuilder, ContiguousTimeOrderedPatientsKeepTheStableSortOrder) {
  std::mt19937 rng(1);
  auto records = concat(patients(rng, 200, true));
  const auto want = reference(records, kCodes, kRules);
  TimelineCounts counts;
  expect_same(group_timelines(records, kCodes, kRules, &counts), want);
}

TEST(TimelineBuilder, ContiguousUnorderedPatientsAreSortedStably) {
  std::mt19937 rng(2);
  auto records = concat(patients(rng, 200, false));
  const auto want = reference(records, kCodes, kRules);
  TimelineCounts counts;
  expect_same(group_timelines(records, kCodes, kRules, &counts), want);
}

TEST(TimelineBuilder, PatientsSplitOverSeveralRunsTakeTheGeneralSort) {
  std::mt19937 rng(3);
  auto groups = patients(rng, 100, true);
  std::vector<PartitionRecord> records;
  // Every patient's records in two pieces, the second piece after everyone's first piece.
  for (const auto& g : groups) records.insert(records.end(), g.begin(), g.begin() + long(g.size() / 2));
  for (const auto& g : groups) records.insert(records.end(), g.begin() + long(g.size() / 2), g.end());
  const auto want = reference(records, kCodes, kRules);
  TimelineCounts counts;
  const auto got = group_timelines(records, kCodes, kRules, &counts);
  ASSERT_EQ(got.size(), 100u);
  expect_same(got, want);
}

TEST(TimelineBuilder, PatientsWithoutBirthAreDroppedAndCounted) {
  std::vector<PartitionRecord> records = {
      record(5, RecordKind::kEvent, 10, 0), record(5, RecordKind::kEvent, 20, 1),
      record(3, RecordKind::kEvent, 86400, 2), record(3, RecordKind::kBirth, 0, 3)};
  TimelineCounts counts;
  const auto got = group_timelines(records, kCodes, kRules, &counts);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, 3u);
  ASSERT_EQ(got[0].events.size(), 2u);
  EXPECT_EQ(got[0].events[0].code, 3u);  // birth first
  EXPECT_DOUBLE_EQ(got[0].events[1].age_days, 1.0);
  EXPECT_EQ(counts.patients_without_birth, 1);
  EXPECT_EQ(counts.events_of_patients_without_birth, 2);
}

// A split the export fixed wins over the key's; kDevelopment never gives held_out; two different
// fixed splits for one patient hold it out; a split record is never an event.
TEST(GroupTimelines, FixedSplitsWinOverTheKey) {
  const std::vector<std::string> codes = {"MEDS_BIRTH", "X"};
  TimelineRules rules;
  rules.split_tuning = 0.3;
  rules.split_held_out = 0.3;
  std::vector<PartitionRecord> records;
  const auto split_record = [](uint64_t key, FixedSplit split) {
    return record(key, RecordKind::kSplit, 0, static_cast<uint32_t>(split));
  };
  for (uint64_t key = 1; key <= 400; ++key) {
    records.push_back(record(key << 20, RecordKind::kBirth, 0, 0));
    records.push_back(record(key << 20, RecordKind::kEvent, 86400, 1));
    if (key % 4 == 1) records.push_back(split_record(key << 20, FixedSplit::kHeldOut));
    if (key % 4 == 2) records.push_back(split_record(key << 20, FixedSplit::kDevelopment));
    if (key % 4 == 3) {
      records.push_back(split_record(key << 20, FixedSplit::kTrain));
      records.push_back(split_record(key << 20, FixedSplit::kTuning));
    }
  }
  TimelineCounts counts;
  const auto patients = group_timelines(records, codes, rules, &counts);
  ASSERT_EQ(patients.size(), 400u);
  std::map<Split, int> by_key;
  int development_tuning = 0;
  for (const GroupedPatient& p : patients) {
    const uint64_t key = p.key >> 20;
    EXPECT_EQ(p.events.size(), 2u) << "a split record is not an event";
    if (key % 4 == 1 || key % 4 == 3) {
      EXPECT_EQ(p.split, Split::kHeldOut) << key;
    }
    if (key % 4 == 2) {
      EXPECT_NE(p.split, Split::kHeldOut) << key;
      EXPECT_EQ(p.split, assign_split(p.key, rules.split_tuning, 0.0));
      development_tuning += p.split == Split::kTuning;
    }
    if (key % 4 == 0) {
      EXPECT_EQ(p.split, assign_split(p.key, rules.split_tuning, rules.split_held_out));
      by_key[p.split] += 1;
    }
  }
  EXPECT_GT(by_key[Split::kHeldOut], 0) << "without a fixed split the key still decides";
  EXPECT_GT(development_tuning, 0);
  EXPECT_EQ(counts.patients_with_fixed_split, 300);
  EXPECT_EQ(counts.patients_with_conflicting_splits, 100);
}

}  // namespace
}  // namespace clinfm
