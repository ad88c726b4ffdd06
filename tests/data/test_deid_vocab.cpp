// Pseudonyms, splits, the code hierarchy, value bins and the vocabulary file.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "data/deid.h"
#include "data/vocab.h"
#include "prep_fixture.h"

namespace clinfm {
namespace {
using testing::TempDir;

TEST(Deid, KeysAreKeyedAndStable) {
  Salt a{"secret-a", ""}, b{"secret-b", ""};
  EXPECT_EQ(subject_key(a, "10000032"), subject_key(a, "10000032"));
  EXPECT_NE(subject_key(a, "10000032"), subject_key(b, "10000032"));
  EXPECT_NE(subject_key(a, "10000032"), subject_key(a, "10000033"));
  uint64_t parsed = 0;
  const std::string hex = subject_key_hex(subject_key(a, "x"));
  ASSERT_EQ(hex.size(), 16u);
  ASSERT_TRUE(parse_subject_key_hex(hex, &parsed));
  EXPECT_EQ(parsed, subject_key(a, "x"));
  EXPECT_FALSE(parse_subject_key_hex("0123456789ABCDEF", &parsed));
  EXPECT_FALSE(parse_subject_key_hex("123", &parsed));
}

TEST(Deid, SplitFractionsHoldOnManyPatients) {
  const Salt salt{"salt", ""};
  int counts[3] = {0, 0, 0};
  const int n = 100000;
  for (int i = 0; i < n; ++i) counts[int(assign_split(subject_key(salt, std::to_string(i)), 0.1, 0.2))]++;
  // Binomial standard error for p=0.1 at n=1e5 is ~0.001: 5 SE bounds.
  EXPECT_NEAR(counts[int(Split::kTuning)] / double(n), 0.1, 0.005);
  EXPECT_NEAR(counts[int(Split::kHeldOut)] / double(n), 0.2, 0.0065);
  EXPECT_NEAR(counts[int(Split::kTrain)] / double(n), 0.7, 0.0075);
  EXPECT_EQ(assign_split(12345, 0.0, 0.0), Split::kTrain);
}

TEST(Deid, SaltFileIsCreatedOnceAndReused) {
  TempDir dir;
  const Salt first = load_or_create_salt(dir / "keys/salt", "");
  EXPECT_EQ(first.bytes.size(), 32u);
  EXPECT_EQ(first.id.size(), 16u);
  const Salt again = load_or_create_salt(dir / "keys/salt", "");
  EXPECT_EQ(first.bytes, again.bytes);
  testing::write_text(dir / "empty-salt", "");
  EXPECT_THROW(load_or_create_salt(dir / "empty-salt", ""), InputError);
}

TEST(Deid, ParentCodes) {
  EXPECT_EQ(parent_code("ICD10CM//I2510"), "ICD10CM//I251");
  EXPECT_EQ(parent_code("ICD10CM//I251"), "ICD10CM//I25");
  EXPECT_EQ(parent_code("ICD10CM//I25"), "ICD10CM");
  EXPECT_EQ(parent_code("ICD10CM//I25.1"), "ICD10CM//I25");  // the dot goes with the digit
  EXPECT_EQ(parent_code("LAB//51087//UNK"), "LAB//51087");
  EXPECT_EQ(parent_code("LAB//51087"), "LAB");
  EXPECT_EQ(parent_code("LAB"), std::nullopt);
  EXPECT_EQ(parent_code("MEDS_BIRTH"), std::nullopt);
}

TEST(Vocab, SuppressionCountsDistinctTrainingPatients) {
  CodeStats stats;
  for (int p = 0; p < 5; ++p) stats.add_patient({"A//1", "A//1", "A//1"});  // 5 patients, 15 events
  stats.add_patient({"A//2"});
  stats.add_patient({"B//9"});
  const Vocabulary v = Vocabulary::build(stats, {"A//1", "A//2", "B//9", "C//only_in_tuning"}, 3, 10);
  EXPECT_EQ(v.token(v.find("A//1")).train_patients, 5);
  EXPECT_EQ(v.token(v.find("A//1")).train_events, 15);
  EXPECT_EQ(v.find("A//2"), -1);
  // A//2 (1 patient) falls back to its parent A (6 patients); B//9's parent B has 1: <unk>.
  ASSERT_GE(v.find("A"), 2);
  EXPECT_EQ(v.map_code("A//2"), v.find("A"));
  EXPECT_EQ(v.token(v.find("A")).origin, "parent");
  EXPECT_EQ(v.token(v.find("A")).train_patients, 6);
  EXPECT_EQ(v.map_code("B//9"), kUnkToken);
  EXPECT_EQ(v.find("B"), -1);
  EXPECT_EQ(v.map_code("C//only_in_tuning"), kUnkToken);
  EXPECT_EQ(v.token(kPadToken).code, "<pad>");
  EXPECT_EQ(v.token(kUnkToken).code, "<unk>");
}

TEST(Vocab, StatedParentsComeBeforeTheBuiltInRule) {
  CodeHierarchy hierarchy;
  hierarchy.set_parent("LAB//a//x", "LOINC/1-1", "codes.parquet");
  hierarchy.set_parent("LAB//b//y", "LOINC/1-1", "codes.parquet");
  EXPECT_EQ(hierarchy.parent("LAB//a//x"), "LOINC/1-1");
  EXPECT_EQ(hierarchy.parent("LOINC/1-1"), std::nullopt);  // the rule: no "//" in it
  EXPECT_EQ(hierarchy.parent("LAB//c//z"), "LAB//c");      // not stated: the rule
  CodeStats stats(hierarchy);
  for (int p = 0; p < 2; ++p) stats.add_patient({"LAB//a//x"});
  for (int p = 0; p < 2; ++p) stats.add_patient({"LAB//b//y"});
  EXPECT_EQ(stats.patients_with("LOINC/1-1"), 4);
  EXPECT_EQ(stats.patients_with("LAB//a"), 0);  // the stated parent replaces the rule's
  const Vocabulary v = Vocabulary::build(stats, {"LAB//a//x", "LAB//b//y"}, 3, 10);
  ASSERT_GE(v.find("LOINC/1-1"), 2);
  EXPECT_EQ(v.map_code("LAB//a//x"), v.find("LOINC/1-1"));
  EXPECT_EQ(v.map_code("LAB//b//y"), v.find("LOINC/1-1"));
  // A code never seen maps through the stated parents after a round trip through vocab.json too.
  hierarchy.set_parent("LAB//new//w", "LOINC/1-1", "codes.parquet");
  CodeStats with_new(hierarchy);
  for (int p = 0; p < 2; ++p) with_new.add_patient({"LAB//a//x"});
  for (int p = 0; p < 2; ++p) with_new.add_patient({"LAB//b//y"});
  const Vocabulary saved = Vocabulary::build(with_new, {"LAB//a//x", "LAB//b//y"}, 3, 10);
  const Vocabulary back = Vocabulary::from_json(saved.to_json(), "vocab.json");
  ASSERT_GE(back.find("LOINC/1-1"), 2);
  EXPECT_EQ(back.map_code("LAB//new//w"), back.find("LOINC/1-1"));
  EXPECT_EQ(back.to_json(), saved.to_json());
  EXPECT_FALSE(Vocabulary::build(CodeStats(), {"X"}, 1, 2).to_json().contains("parents"));
}

// Stated parents set all at once: an order that set_parent one by one would refuse is fine (A//B
// has the stated parent C, so A -> A//B is no cycle), and a real cycle is refused.
TEST(Vocab, StatedParentsSetAtOnceDoNotDependOnTheirOrder) {
  CodeHierarchy h;
  h.set_parents({{"A", "A//B"}, {"A//B", "C"}}, "vocab.json");
  EXPECT_EQ(h.parent("A"), "A//B");
  EXPECT_EQ(h.parent("A//B"), "C");
  CodeHierarchy one_by_one;
  EXPECT_THROW(one_by_one.set_parent("A", "A//B", "x"), InputError);  // A//B's rule parent is A
  CodeHierarchy cycle;
  try {
    cycle.set_parents({{"P", "Q"}, {"Q", "P"}}, "vocab.json");
    FAIL() << "a cycle was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.json: code"), std::string::npos) << e.what();
  }
}

TEST(Vocab, StatedParentCyclesAreRefusedNamingTheSource) {
  CodeHierarchy hierarchy;
  EXPECT_THROW(hierarchy.set_parent("A//1", "A//1", "codes.parquet"), InputError);
  hierarchy.set_parent("A//1", "B//2", "codes.parquet");
  hierarchy.set_parent("B//2", "C", "codes.parquet");
  try {
    hierarchy.set_parent("C", "A//1", "meta/codes.parquet");
    FAIL() << "a cycle was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("meta/codes.parquet: code 'C' has parent 'A//1'"), std::string::npos)
        << e.what();
  }
  // A cycle through the built-in rule: B//2's rule parent is B, and B -> B//2 is stated.
  CodeHierarchy through_rule;
  EXPECT_THROW(through_rule.set_parent("B", "B//2", "codes.parquet"), InputError);
}

TEST(Vocab, AncestorsCountEachPatientOnce) {
  CodeStats stats;
  // Two codes sharing the ancestors ICD10//I25 and ICD10; the second patient repeats one code.
  stats.add_patient({"ICD10//I25.11", "ICD10//I25.1", "LAB//X"});
  stats.add_patient({"ICD10//I25.1", "ICD10//I25.1"});
  const uint32_t lab = stats.id("LAB//X");
  stats.add_patient_ids({lab, lab});
  EXPECT_EQ(stats.patients_with("ICD10//I25.11"), 1);
  EXPECT_EQ(stats.patients_with("ICD10//I25.1"), 2);
  EXPECT_EQ(stats.patients_with("ICD10//I25"), 2);
  EXPECT_EQ(stats.patients_with("ICD10"), 2);
  EXPECT_EQ(stats.patients_with("LAB//X"), 2);
  EXPECT_EQ(stats.patients_with("LAB"), 2);
  EXPECT_EQ(stats.events_of("ICD10//I25.1"), 3);
  EXPECT_EQ(stats.events_of("ICD10//I25"), 0);  // ancestors get patients, not events
  EXPECT_EQ(stats.events_of("LAB//X"), 3);
  EXPECT_EQ(stats.patients_with("never//seen"), 0);
}

TEST(Vocab, ValueBinsAreQuantilesAndRoundTrip) {
  CodeStats stats;
  std::vector<std::string_view> codes;
  for (int p = 0; p < 20; ++p) stats.add_patient({"LAB//X"});
  for (int i = 1; i <= 1000; ++i) stats.add_value("LAB//X", float(i));
  stats.add_value("LAB//X", std::nanf(""));  // ignored
  const Vocabulary v = Vocabulary::build(stats, {"LAB//X"}, 1, 4);
  const int32_t x = v.find("LAB//X");
  ASSERT_EQ(v.token(x).value_edges, (std::vector<float>{251, 501, 751}));
  EXPECT_EQ(v.value_bin(x, 1.0f), 1);
  EXPECT_EQ(v.value_bin(x, 250.9f), 1);
  EXPECT_EQ(v.value_bin(x, 251.0f), 2);
  EXPECT_EQ(v.value_bin(x, 1e6f), 4);
  EXPECT_EQ(v.value_bin(x, std::nanf("")), 0);
  const Vocabulary back = Vocabulary::from_json(v.to_json(), "vocab.json");
  EXPECT_EQ(back.to_json(), v.to_json());
  EXPECT_EQ(back.value_bin(back.find("LAB//X"), 600.0f), 3);
  nlohmann::json bad = v.to_json();
  bad["schema_version"] = 99;
  EXPECT_THROW(Vocabulary::from_json(bad, "vocab.json"), InputError);
  bad.erase("tokens");
  EXPECT_THROW(Vocabulary::from_json(bad, "vocab.json"), InputError);
}

TEST(Vocab, ValueSampleIsBoundedAndDeterministic) {
  CodeStats a, b;
  for (int i = 0; i < 100000; ++i) {
    a.add_value("LAB//Y", float(i % 1000));
    b.add_value("LAB//Y", float(i % 1000));
  }
  ASSERT_NE(a.value_sample("LAB//Y"), nullptr);
  EXPECT_EQ(a.value_sample("LAB//Y")->size(), 8192u);
  EXPECT_EQ(*a.value_sample("LAB//Y"), *b.value_sample("LAB//Y"));
  EXPECT_EQ(a.value_sample("LAB//Z"), nullptr);
}

// The sample keeps the values of the smallest priorities whatever the order of the offers, and
// the samples of several ranks merge into exactly the single pass's (prep over MPI ranks).
TEST(Vocab, ValueSamplesAreOrderFreeAndMergeExactly) {
  struct Offer {
    uint64_t priority;
    float value;
  };
  std::vector<Offer> offers;
  uint64_t state = 7;
  for (int i = 0; i < 30000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    offers.push_back({state ^ (state >> 29), float(i % 977) * 0.5f});
  }
  const std::vector<std::string> codes = {"LAB//A", "LAB//B"};
  const auto fill = [&](CodeStats& s, size_t begin, size_t end, bool reverse) {
    for (const auto& c : codes) s.id(c);  // the same code table on every "rank"
    for (size_t k = 0; k < end - begin; ++k) {
      const Offer& o = offers[reverse ? end - 1 - k : begin + k];
      s.add_value_id(s.id(codes[o.priority % 2]), o.value, o.priority);
    }
    s.add_patient_ids({s.id("LAB//A")});
  };
  CodeStats single, backwards, rank0, rank1, rank2;
  fill(single, 0, offers.size(), false);
  fill(backwards, 0, offers.size(), true);
  fill(rank0, 0, 10000, false);
  fill(rank1, 10000, 10001, false);  // one offer only
  fill(rank2, 10001, offers.size(), true);
  rank0.merge_serialized(rank1.serialize());
  rank0.merge_serialized(rank2.serialize());
  for (const auto& code : codes) {
    std::vector<float> a = *single.value_sample(code), b = *backwards.value_sample(code),
                       c = *rank0.value_sample(code);
    ASSERT_EQ(a.size(), 8192u);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    std::sort(c.begin(), c.end());
    EXPECT_EQ(a, b) << code;
    EXPECT_EQ(a, c) << code;
  }
  EXPECT_EQ(rank0.patients_with("LAB//A"), 3);  // one patient on each rank
  EXPECT_EQ(rank0.events_of("LAB//A"), 3);
  // The kept values are those of the smallest priorities.
  std::vector<Offer> of_a;
  for (const auto& o : offers)
    if (o.priority % 2 == 0) of_a.push_back(o);
  std::sort(of_a.begin(), of_a.end(), [](const Offer& x, const Offer& y) { return x.priority < y.priority; });
  std::vector<float> lowest;
  for (size_t i = 0; i < 8192; ++i) lowest.push_back(of_a[i].value);
  std::sort(lowest.begin(), lowest.end());
  std::vector<float> kept = *single.value_sample("LAB//A");
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(kept, lowest);
}

TEST(Vocab, MergingStatsOfAnotherCodeTableIsRefused) {
  CodeStats a, b;
  a.id("LAB//A");
  b.id("LAB//B");
  EXPECT_THROW(a.merge_serialized(b.serialize()), InputError);
  EXPECT_THROW(a.merge_serialized(a.serialize().substr(0, 12)), InputError);
}

}  // namespace
}  // namespace clinfm
