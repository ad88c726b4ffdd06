// eval/privacy.h: exposure and its bounds by hand, the membership AUROC of separable and
// identical losses, buckets, the plain-language findings; the suite's privacy section.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/error.h"
#include "eval/privacy.h"
#include "eval/suite.h"

namespace clinfm {
namespace {

TEST(Privacy, ExposureIsTheRankAmongReferences) {
  const std::vector<double> references = {1.0, 2.0, 3.0};  // lower loss = likelier
  const std::vector<double> exposure = canary_exposures({0.5, 2.5, 9.0, 2.0}, references);
  EXPECT_DOUBLE_EQ(exposure[0], 2.0);                   // rank 1 of 4: log2(4) - 0
  EXPECT_DOUBLE_EQ(exposure[1], 2.0 - std::log2(3.0));  // two references likelier
  EXPECT_DOUBLE_EQ(exposure[2], 0.0);                   // least likely: rank 4
  EXPECT_DOUBLE_EQ(exposure[3], 2.0 - std::log2(2.5));  // a tie counts one half
  EXPECT_DOUBLE_EQ(max_exposure(3), 2.0);
  // A uniform rank over 1..4: mean of log2(4/r).
  EXPECT_NEAR(null_mean_exposure(3), (2.0 + 1.0 + (2.0 - std::log2(3.0)) + 0.0) / 4.0, 1e-12);
  EXPECT_NEAR(null_mean_exposure(100000), 1.0 / std::log(2.0), 1e-3);
}

TEST(Privacy, NeverSeenCanariesAverageTheNull) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> loss(10.0, 2.0);
  std::vector<double> canaries(4000), references(1000);
  for (double& v : canaries) v = loss(rng);
  for (double& v : references) v = loss(rng);
  const std::vector<double> exposure = canary_exposures(canaries, references);
  double mean = 0;
  for (double e : exposure) mean += e / double(exposure.size());
  EXPECT_NEAR(mean, null_mean_exposure(1000), 0.08);
}

std::vector<MembershipRow> rows(double member_shift, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> loss(2.0, 0.3);
  std::vector<MembershipRow> out;
  for (int i = 0; i < 2 * n; ++i) {
    MembershipRow row;
    row.key = uint64_t(i) + 1;
    row.member = i < n ? 1 : 0;
    row.loss = loss(rng) - (row.member ? member_shift : 0.0);
    row.events = 10 + (i % 4) * 40;  // buckets <16, 16-63, 64-255 (10, 50, 90, 130)
    row.rarest_code_patients = 1 + i % 30;
    out.push_back(row);
  }
  return out;
}

TEST(Privacy, MembershipAurocSeparatesOnlyWhatDiffers) {
  BootstrapOptions bootstrap;
  bootstrap.samples = 200;
  PrivacyResult leaky, clean;
  score_membership(rows(2.0, 300, 1), bootstrap, leaky);
  score_membership(rows(0.0, 300, 2), bootstrap, clean);
  ASSERT_TRUE(leaky.membership.reported && clean.membership.reported);
  EXPECT_GT(leaky.membership.auroc.point, 0.99);
  EXPECT_LT(clean.membership.auroc.lo, 0.5);
  EXPECT_GT(clean.membership.auroc.hi, 0.5);
  EXPECT_EQ(leaky.membership.n, 600);
  EXPECT_EQ(leaky.member_loss.size(), 300u);
  ASSERT_EQ(leaky.by_length.size(), 3u);
  EXPECT_EQ(leaky.by_length[0].name, "timelines of 0-15 events");
  EXPECT_EQ(leaky.by_length[2].name, "timelines of 64-255 events");
  EXPECT_EQ(leaky.by_length[2].auc.n, 300);  // 90 and 130
  ASSERT_EQ(leaky.by_rarity.size(), 3u);
  int64_t covered = 0;
  for (const auto& bucket : leaky.by_rarity) covered += bucket.auc.n;
  EXPECT_EQ(covered, 600);
  EXPECT_TRUE(leaky.length_balance.reported);  // members and others alike in length: near 0.5
  EXPECT_NEAR(leaky.length_balance.auroc.point, 0.5, 0.01);
  describe_privacy(leaky);
  describe_privacy(clean);
  EXPECT_NE(leaky.findings.at(0).find("membership leakage"), std::string::npos) << leaky.findings[0];
  EXPECT_NE(clean.findings.at(0).find("no measurable membership leakage"), std::string::npos)
      << clean.findings[0];
  const nlohmann::json json = privacy_to_json(leaky);
  EXPECT_GT(json["membership"]["overall"]["auroc"]["point"].get<double>(), 0.99);
  EXPECT_FALSE(json.contains("canaries"));
}

TEST(Privacy, FindingsForCanariesAndAReversedSample) {
  PrivacyResult result;
  score_canaries({0.1, 0.2, 50.0}, {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0}, result);
  EXPECT_DOUBLE_EQ(result.exposure_max, 3.0);
  EXPECT_DOUBLE_EQ(result.exposure[0], 3.0);
  EXPECT_DOUBLE_EQ(result.exposure[2], 0.0);
  BootstrapOptions bootstrap;
  bootstrap.samples = 200;
  score_membership(rows(-1.0, 200, 4), bootstrap, result);  // members have the higher loss
  describe_privacy(result);
  ASSERT_EQ(result.findings.size(), 2u);
  EXPECT_NE(result.findings[0].find("below 0.5"), std::string::npos) << result.findings[0];
  EXPECT_NE(result.findings[1].find("highest 3.00 of at most 3.00 (2 of 3 canaries"), std::string::npos)
      << result.findings[1];
}

TEST(Privacy, SuitePrivacySection) {
  const SuiteSpec alone = parse_suite("name: p\nprivacy:\n  max_patients: 50\n", "p.yaml");
  EXPECT_TRUE(alone.privacy.enabled);
  EXPECT_EQ(alone.privacy.max_patients, 50);
  EXPECT_TRUE(alone.tasks.empty());
  EXPECT_TRUE(parse_suite("name: p\nprivacy:\n", "p.yaml").privacy.enabled);
  EXPECT_EQ(parse_suite("name: p\nprivacy:\n", "p.yaml").privacy.max_patients, 1000);
  try {
    parse_suite("name: p\nprivacy: {max_patient: 5}\n", "p.yaml");
    FAIL() << "a misspelt key parsed";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("privacy.max_patient"), std::string::npos) << e.what();
    EXPECT_NE((e.what() + e.hint()).find("max_patients'"), std::string::npos) << e.what() << e.hint();
  }
  EXPECT_THROW(parse_suite("name: p\nprivacy: {max_patients: -1}\n", "p.yaml"), InputError);
  EXPECT_THROW(parse_suite("name: p\n", "p.yaml"), InputError);  // neither tasks nor privacy
}

}  // namespace
}  // namespace clinfm
