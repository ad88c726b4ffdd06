// Label definitions on small handmade timelines: every rule of docs/eval.md "Labels" and every
// exclusion reason, one case each.
#include <gtest/gtest.h>

#include "eval/labeler.h"

namespace clinfm {
namespace {

enum : int32_t { kBirth = 2, kAdmit = 3, kDischarge = 4, kDeath = 5, kE11 = 6, kLab = 7, kVisit = 8, kV = 9 };

std::vector<char> flags(std::initializer_list<int32_t> tokens) {
  std::vector<char> f(kV, 0);
  for (int32_t t : tokens) f[size_t(t)] = 1;
  return f;
}

PatientTimeline timeline(std::vector<std::pair<double, int32_t>> events) {
  PatientTimeline p;
  p.key = 42;
  for (auto [age, token] : events) {
    p.tokens.push_back(token);
    p.age_days.push_back(age);
    p.values.push_back(NAN);
    p.value_bins.push_back(0);
  }
  return p;
}

struct Fixture {
  TaskSpec spec;
  ResolvedTask task;
  Fixture(LabelKind kind, int32_t anchor, int32_t label, double offset_hours, double horizon) {
    spec.name = "t";
    spec.kind = kind;
    spec.offset_hours = offset_hours;
    spec.horizon_days = horizon;
    task.spec = &spec;
    task.anchor_tokens = flags({anchor});
    task.label_tokens = flags({label});
    task.death_tokens = flags({kDeath});
    task.max_age_days = 1e9;
  }
  std::vector<LabeledTime> run(const PatientTimeline& p, LabelCounts* c = nullptr) {
    return label_patient(p, task, c);
  }
};

// Death within 30 days of admission + 24 h.
Fixture mortality() { return Fixture(LabelKind::kEventWithin, kAdmit, kDeath, 24, 30); }

TEST(Labeler, DeathWithinHorizonIsPositiveAndHistoryStopsAtThePredictionTime) {
  Fixture f = mortality();
  const auto out =
      f.run(timeline({{0, kBirth}, {1000, kAdmit}, {1000.5, kLab}, {1001, kLab}, {1010, kDeath}}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].label, 1);
  EXPECT_DOUBLE_EQ(out[0].prediction_age_days, 1001);
  EXPECT_EQ(out[0].history_events, 3);  // the lab at exactly 1001 is not history
}

TEST(Labeler, DeathAfterTheHorizonIsNegative) {
  Fixture f = mortality();
  const auto out = f.run(timeline({{0, kBirth}, {1000, kAdmit}, {1003, kDischarge}, {1040, kDeath}}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].label, 0);
}

TEST(Labeler, DeathAtTheHorizonEdgeIsPositive) {
  Fixture f = mortality();
  EXPECT_EQ(f.run(timeline({{0, kBirth}, {1000, kAdmit}, {1031, kDeath}}))[0].label, 1);
}

TEST(Labeler, FollowUpEndingBeforeTheHorizonIsCensored) {
  Fixture f = mortality();
  LabelCounts c;
  EXPECT_TRUE(f.run(timeline({{0, kBirth}, {1000, kAdmit}, {1003, kDischarge}, {1020, kLab}}), &c).empty());
  EXPECT_EQ(c.censored, 1);
  EXPECT_EQ(c.candidates, 1);
}

TEST(Labeler, DeathBeforeThePredictionTimeIsExcluded) {
  Fixture f = mortality();
  LabelCounts c;
  EXPECT_TRUE(f.run(timeline({{0, kBirth}, {1000, kAdmit}, {1000.5, kDeath}}), &c).empty());
  EXPECT_EQ(c.death_excluded, 1);
}

TEST(Labeler, NoHistoryIsExcluded) {
  Fixture f(LabelKind::kEventWithin, kAdmit, kDeath, -1, 30);
  LabelCounts c;
  EXPECT_TRUE(f.run(timeline({{1000, kAdmit}, {1100, kLab}}), &c).empty());
  EXPECT_EQ(c.no_history, 1);
}

TEST(Labeler, FirstDiagnosisExcludesPatientsAlreadyDiagnosed) {
  Fixture f(LabelKind::kEventWithin, kVisit, kE11, -1.0 / 60, 365);
  f.spec.exclude_prior = true;
  LabelCounts c;
  // Visits at 1000, 1370, 1740; E11 coded at 1200 (within a year of visit 1).
  const auto out = f.run(
      timeline({{0, kBirth}, {1000, kVisit}, {1200, kE11}, {1370, kVisit}, {1740, kVisit}, {2200, kLab}}),
      &c);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].label, 1);
  EXPECT_EQ(c.prior_outcome, 2);
  f.spec.exclude_prior = false;
  EXPECT_EQ(
      f.run(timeline(
                {{0, kBirth}, {1000, kVisit}, {1200, kE11}, {1370, kVisit}, {1740, kVisit}, {2200, kLab}}))
          .size(),
      3u);
}

TEST(Labeler, OutcomeAtThePredictionTimeBelongsToTheFuture) {
  Fixture f(LabelKind::kEventWithin, kVisit, kE11, 0, 365);
  f.spec.exclude_prior = true;
  const auto out = f.run(timeline({{0, kBirth}, {1000, kVisit}, {1000, kE11}, {1500, kLab}}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].label, 1);
  EXPECT_EQ(out[0].history_events, 1);
}

TEST(Labeler, DeathCompetingWithTheOutcome) {
  Fixture f(LabelKind::kEventWithin, kDischarge, kAdmit, 0, 30);  // readmission within 30 days
  const PatientTimeline p = timeline({{0, kBirth}, {1000, kAdmit}, {1005, kDischarge}, {1010, kDeath}});
  EXPECT_EQ(f.run(p)[0].label, 0);  // death: negative (default)
  f.spec.death = DeathHandling::kExclude;
  LabelCounts c;
  EXPECT_TRUE(f.run(p, &c).empty());
  EXPECT_EQ(c.death_excluded, 1);
}

TEST(Labeler, ReadmissionIsPositive) {
  Fixture f(LabelKind::kEventWithin, kDischarge, kAdmit, 0, 30);
  const auto out = f.run(timeline(
      {{0, kBirth}, {1000, kAdmit}, {1005, kDischarge}, {1020, kAdmit}, {1022, kDischarge}, {1400, kLab}}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].label, 1);
  EXPECT_EQ(out[1].label, 0);  // second discharge: nothing within 30 days, follow-up to 1400
}

Fixture long_stay() { return Fixture(LabelKind::kStayLongerThan, kAdmit, kDischarge, 24, 7); }

TEST(Labeler, StayLongerThanSevenDays) {
  Fixture f = long_stay();
  EXPECT_EQ(f.run(timeline({{0, kBirth}, {1000, kAdmit}, {1010, kDischarge}}))[0].label, 1);
  EXPECT_EQ(f.run(timeline({{0, kBirth}, {1000, kAdmit}, {1005, kDischarge}}))[0].label, 0);
  EXPECT_EQ(f.run(timeline({{0, kBirth}, {1000, kAdmit}, {1007, kDischarge}}))[0].label,
            0);  // exactly 7 days
}

TEST(Labeler, StayExclusions) {
  Fixture f = long_stay();
  LabelCounts c;
  EXPECT_TRUE(f.run(timeline({{0, kBirth}, {1000, kAdmit}, {1000.5, kDischarge}}), &c).empty());
  EXPECT_EQ(c.stay_over, 1);
  EXPECT_TRUE(f.run(timeline({{0, kBirth}, {1000, kAdmit}, {1020, kLab}}), &c).empty());
  EXPECT_EQ(c.censored, 1);
  const PatientTimeline died = timeline({{0, kBirth}, {1000, kAdmit}, {1004, kDeath}});
  EXPECT_EQ(f.run(died)[0].label, 0);  // death ends the stay (death: negative)
  f.spec.death = DeathHandling::kExclude;
  EXPECT_TRUE(f.run(died, &c).empty());
  EXPECT_EQ(c.death_excluded, 1);
}

TEST(Labeler, HorizonPastTheTopCodedAgeIsExcluded) {
  Fixture f = mortality();
  f.task.max_age_days = 1020;
  LabelCounts c;
  EXPECT_TRUE(f.run(timeline({{0, kBirth}, {1000, kAdmit}, {1010, kDeath}}), &c).empty());
  EXPECT_EQ(c.past_top_age, 1);
}

TEST(Labeler, SimultaneousAnchorsMakeOnePredictionTimeAndFirstKeepsOne) {
  Fixture f(LabelKind::kEventWithin, kVisit, kE11, 0, 100);
  const PatientTimeline p =
      timeline({{0, kBirth}, {1000, kVisit}, {1000, kVisit}, {1200, kVisit}, {1500, kLab}});
  EXPECT_EQ(f.run(p).size(), 2u);
  f.spec.per_patient = PerPatient::kFirst;
  LabelCounts c;
  const auto out = f.run(p, &c);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_DOUBLE_EQ(out[0].prediction_age_days, 1000);
  EXPECT_EQ(c.not_first, 1);
  EXPECT_EQ(c.kept, 1);
}

}  // namespace
}  // namespace clinfm
