// data/canaries.h: the draw is seeded by the salt, secrets are distinct and drawn from code
// tokens, keys fall in the training split and their partition, a key equal to a real one is drawn
// again, too small an alphabet is refused, and the file round-trips with mode 0600.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "common/error.h"
#include "data/canaries.h"
#include "data/partition.h"

namespace clinfm {
namespace {

std::vector<std::string> code_list(int codes) {
  std::vector<std::string> all = {"MEDS_BIRTH", "GENDER//F", "GENDER//M"};
  for (int c = 0; c < codes; ++c) all.push_back("DX//" + std::to_string(c));
  return all;
}

Vocabulary small_vocab(int codes) {
  const std::vector<std::string> all = code_list(codes);
  CodeStats stats;
  for (int patient = 0; patient < 5; ++patient) {
    std::vector<std::string_view> seen(all.begin(), all.end());
    stats.add_patient(seen);
  }
  return Vocabulary::build(stats, all, 1, 4);
}

// Interned code ids are positions in code_list(); templates: birth and one sex.
CanaryDrawer drawn(const std::string& salt_bytes, const Vocabulary& vocab, CanaryCounts counts) {
  Salt salt{salt_bytes, "salt-id"};
  CanaryDrawer drawer(salt, counts, 0.1, 0.1, 8);
  const std::vector<std::string> all = code_list(vocab.size() - 5);
  std::vector<int32_t> token_of;
  for (const auto& code : all) token_of.push_back(vocab.map_code(code));
  drawer.offer_template(1, Sex::kFemale, {0, 1});  // MEDS_BIRTH, GENDER//F
  drawer.offer_template(2, Sex::kMale, {0, 2});
  drawer.draw(vocab, token_of, 89.0, "salt-id", "vocab-sha");
  return drawer;
}

TEST(Canaries, SeededDistinctSecretsOfCodeTokensInTheTrainingSplit) {
  const Vocabulary vocab = small_vocab(20);
  const CanaryCounts counts{30, 3, 12, 100};
  CanaryDrawer a = drawn("salt one", vocab, counts), b = drawn("salt one", vocab, counts),
               c = drawn("salt two", vocab, counts);
  EXPECT_EQ(a.canaries().to_json(), b.canaries().to_json());  // the same salt: the same canaries
  EXPECT_NE(a.canaries().to_json(), c.canaries().to_json());
  const CanarySet& set = a.canaries();
  ASSERT_EQ(set.inserted.size(), 30u);
  ASSERT_EQ(set.reference.size(), 100u);
  std::set<std::vector<int32_t>> secrets;
  const int32_t birth = vocab.find("MEDS_BIRTH"), female = vocab.find("GENDER//F"),
                male = vocab.find("GENDER//M");
  for (const auto* group : {&set.inserted, &set.reference}) {
    for (const Canary& canary : *group) {
      ASSERT_EQ(canary.secret_begin, 2);
      ASSERT_EQ(canary.tokens.size(), 14u);
      EXPECT_EQ(canary.tokens[0], birth);
      EXPECT_EQ(canary.tokens[1], canary.sex == Sex::kFemale ? female : male);
      std::vector<int32_t> secret(canary.tokens.begin() + 2, canary.tokens.end());
      for (int32_t token : secret) {
        EXPECT_EQ(vocab.token(token).origin, "code");
        EXPECT_TRUE(token != birth && token != female && token != male);
      }
      EXPECT_TRUE(secrets.insert(secret).second) << "a secret drawn twice";
      for (size_t e = 3; e < canary.age_days.size(); ++e)
        EXPECT_GT(canary.age_days[e], canary.age_days[e - 1]);
      EXPECT_GE(canary.age_days[2], 18 * 365.25 - 1);
    }
  }
  std::set<uint64_t> keys;
  for (const Canary& canary : set.inserted) {
    ASSERT_EQ(canary.keys.size(), 3u);
    for (uint64_t key : canary.keys) {
      EXPECT_EQ(assign_split(key, 0.1, 0.1), Split::kTrain);
      keys.insert(key);
    }
  }
  EXPECT_EQ(keys.size(), 90u);
  EXPECT_EQ(a.events_written(), 90 * 14);
}

TEST(Canaries, PartitionPatientsAreSortedAndNeverARealKey) {
  const Vocabulary vocab = small_vocab(20);
  CanaryDrawer drawer = drawn("salt", vocab, {40, 1, 8, 10});
  int64_t total = 0;
  const uint64_t taken = drawer.canaries().inserted.front().keys.front();
  const int partition_of_taken = partition_of_key(taken, 8);
  for (int partition = 0; partition < 8; ++partition) {
    std::unordered_set<uint64_t> real;
    if (partition == partition_of_taken) real.insert(taken);  // a real patient has that key
    const auto patients = drawer.partition_patients(partition, real);
    for (size_t i = 0; i < patients.size(); ++i) {
      EXPECT_EQ(partition_of_key(patients[i].key, 8), partition);
      EXPECT_FALSE(real.count(patients[i].key));
      EXPECT_EQ(assign_split(patients[i].key, 0.1, 0.1), Split::kTrain);
      if (i > 0) {
        EXPECT_LT(patients[i - 1].key, patients[i].key);
      }
      EXPECT_TRUE(std::isnan(patients[i].values[0]));
    }
    total += int64_t(patients.size());
  }
  EXPECT_EQ(total, 40);
  EXPECT_NE(drawer.canaries().inserted.front().keys.front(), taken);  // drawn again, and recorded
}

TEST(Canaries, TooFewPossibleSecretsAreRefused) {
  const Vocabulary vocab = small_vocab(3);
  try {
    drawn("salt", vocab, {100, 1, 4, 1000});  // 3^4 = 81 secrets for 1100 canaries
    FAIL() << "drew more canaries than distinct secrets";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot all be distinct"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("data.canary_events"), std::string::npos);
  }
}

TEST(Canaries, FileRoundTripsWithMode0600) {
  const Vocabulary vocab = small_vocab(20);
  const CanaryDrawer drawer = drawn("salt", vocab, {5, 2, 6, 20});
  const std::string dir = testing::TempDir() + "/canary-file-test";
  std::filesystem::remove_all(dir);
  const std::string path = dir + "/sub/ds.canaries.json";
  write_canary_file(drawer.canaries(), path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const CanarySet read = read_canary_file(path);
  EXPECT_EQ(read.to_json(), drawer.canaries().to_json());
  EXPECT_EQ(default_canary_file(dir + "/salt", "/data/sets/ds1/"), dir + "/ds1.canaries.json");
  std::filesystem::remove_all(dir);
}

// Templates: the kept sample does not depend on the order of the offers, and drawers of several
// ranks merged (each rank's own offers and then rank 0's merge) draw the same canaries.
TEST(Canaries, TemplateSamplesAreOrderFreeAndMerge) {
  const Vocabulary vocab = small_vocab(20);
  const Salt salt{"salt", "id"};
  const CanaryCounts counts{30, 1, 8, 10};
  std::vector<int32_t> token_of;
  for (const auto& code : code_list(20)) token_of.push_back(vocab.map_code(code));
  const auto offer = [&](CanaryDrawer& d, int from, int to, bool reverse) {
    for (int k = 0; k < to - from; ++k) {
      const int i = reverse ? to - 1 - k : from + k;
      d.offer_template(uint64_t(i) * 0x9e3779b97f4a7c15ULL, i % 2 ? Sex::kMale : Sex::kFemale,
                       {0, uint32_t(1 + i % 2), uint32_t(3 + i % 7)});
    }
  };
  CanaryDrawer single(salt, counts, 0.1, 0.1, 8), backwards(salt, counts, 0.1, 0.1, 8),
      rank0(salt, counts, 0.1, 0.1, 8), rank1(salt, counts, 0.1, 0.1, 8);
  offer(single, 0, 3000, false);
  offer(backwards, 0, 3000, true);
  offer(rank0, 0, 1000, true);
  offer(rank1, 1000, 3000, false);
  rank0.merge_templates(rank1.serialize_templates());
  rank1.merge_templates(rank0.serialize_templates());  // what rank 0 sends back
  EXPECT_EQ(single.serialize_templates(), backwards.serialize_templates());
  for (CanaryDrawer* d : {&single, &backwards, &rank0, &rank1})
    d->draw(vocab, token_of, 89.0, "id", "vocab-sha");
  const std::string want = single.canaries().to_json().dump();
  EXPECT_EQ(backwards.canaries().to_json().dump(), want);
  EXPECT_EQ(rank0.canaries().to_json().dump(), want);
  EXPECT_EQ(rank1.canaries().to_json().dump(), want);
  int64_t in_partitions = 0;
  for (int p = 0; p < 8; ++p) in_partitions += single.partition_count(p);
  EXPECT_EQ(in_partitions, 30);
}

}  // namespace
}  // namespace clinfm
