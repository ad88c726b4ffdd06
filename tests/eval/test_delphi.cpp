// Delphi-2M's AUC protocol (eval/delphi_protocol.h) on a hand-made cohort whose cases, controls,
// prediction points and AUCs are known by construction; DeLong against the pairwise definition;
// chapters; the suite's `delphi:` section.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "common/error.h"
#include "data/timestamp.h"
#include "eval/delphi_protocol.h"
#include "eval/suite.h"

namespace clinfm {
namespace {

constexpr int32_t kBirth = 2, kFemale = 3, kMale = 4, kE11 = 5, kDeath = 6, kOther = 7;

double years(double y) { return y * kDaysPerYear; }

// birth and sex at 0, then (token, age in years) events.
PatientTimeline patient(uint64_t key, Sex sex, const std::vector<std::pair<int32_t, double>>& events) {
  PatientTimeline p;
  p.key = key;
  p.sex = sex;
  p.tokens = {kBirth, sex == Sex::kMale ? kMale : kFemale};
  p.age_days = {0, 0};
  for (const auto& [token, age] : events) {
    p.tokens.push_back(token);
    p.age_days.push_back(years(age));
  }
  p.values.assign(p.size(), std::nanf(""));
  p.value_bins.assign(p.size(), 0);
  return p;
}

// Pairwise definition of DeLong's structural components (no ranks): the reference.
DelongAuc pairwise_delong(const std::vector<double>& x, const std::vector<double>& y) {
  const auto psi = [](double a, double b) { return a > b ? 1.0 : a == b ? 0.5 : 0.0; };
  std::vector<double> v10(x.size(), 0.0), v01(y.size(), 0.0);
  double auc = 0;
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t j = 0; j < y.size(); ++j) {
      const double s = psi(x[i], y[j]);
      v10[i] += s / double(y.size());
      v01[j] += s / double(x.size());
      auc += s / double(x.size() * y.size());
    }
  const auto var = [](const std::vector<double>& v) {
    double mean = 0, sum = 0;
    for (double a : v) mean += a / double(v.size());
    for (double a : v) sum += (a - mean) * (a - mean);
    return sum / double(v.size() - 1);
  };
  return {auc, var(v10) / double(x.size()) + var(v01) / double(y.size())};
}

TEST(Delphi, DelongMatchesThePairwiseDefinitionWithTies) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> cases(3 + rng() % 20), controls(3 + rng() % 30);
    for (double& v : cases) v = double(rng() % 10);  // few distinct values: many ties
    for (double& v : controls) v = double(rng() % 8);
    const DelongAuc fast = delong_auc(cases, controls), slow = pairwise_delong(cases, controls);
    EXPECT_NEAR(fast.auc, slow.auc, 1e-12);
    EXPECT_NEAR(fast.variance, slow.variance, 1e-12);
  }
  EXPECT_DOUBLE_EQ(delong_auc({0.9, 0.6, 0.3}, {0.5, 0.2, 0.6}).auc, 6.5 / 9.0);
}

TEST(Delphi, ChaptersFollowTheIcd10LetterRanges) {
  const DelphiSpec spec;
  EXPECT_EQ(delphi_chapter("DELPHI//A00", spec), "I. Infectious Diseases");
  EXPECT_EQ(delphi_chapter("DELPHI//C50_Malignant_neoplasm_of_breast", spec), "II. Neoplasms");
  EXPECT_EQ(delphi_chapter("DELPHI//CXX_Unknown_Cancer", spec), "II. Neoplasms");
  EXPECT_EQ(delphi_chapter("DELPHI//D48", spec), "II. Neoplasms");
  EXPECT_EQ(delphi_chapter("DELPHI//D50", spec), "III. Blood & Immune Disorders");
  EXPECT_EQ(delphi_chapter("DELPHI//E11", spec), "IV. Metabolic Diseases");
  EXPECT_EQ(delphi_chapter("DELPHI//H59", spec), "VII. Eye Diseases");
  EXPECT_EQ(delphi_chapter("DELPHI//H60", spec), "VIII. Ear Diseases");
  EXPECT_EQ(delphi_chapter("DELPHI//I10", spec), "IX. Circulatory Diseases");
  EXPECT_EQ(delphi_chapter("DELPHI//O01_Hydatidiform_mole38", spec), "XV. Pregnancy & Childbirth");
  EXPECT_EQ(delphi_chapter("DELPHI//Q99", spec), "XVII. Congenital Abnormalities");
  EXPECT_EQ(delphi_chapter("DELPHI//Death", spec), "Death");
  for (const char* code : {"DELPHI//R69", "DELPHI//No_event", "DELPHI//BMI_low", "ICD10//E11", "DELPHI//E1"})
    EXPECT_EQ(delphi_chapter(code, spec), "") << code;
}

// The cohort: E11 cases and controls in the female and male 45-50 brackets, each case and control
// with exactly one prediction point there, so every score's place is known.
struct Cohort {
  std::vector<PatientTimeline> patients;
  std::vector<double> e11_score;  // per patient: the model's score of E11 at its point
};

Cohort make_cohort() {
  Cohort c;
  const auto add = [&](Sex sex, const std::vector<std::pair<int32_t, double>>& events, double score) {
    c.patients.push_back(patient(100 + c.patients.size(), sex, events));
    c.e11_score.push_back(score);
  };
  // Female cases: predicted from the event at 46 (E11 at 48); one E11 shares its day with another
  // event, which is therefore not its prediction point (offset 0.1 day).
  add(Sex::kFemale, {{kOther, 46}, {kE11, 48}}, 0.9);
  add(Sex::kFemale, {{kOther, 46}, {kOther, 48}, {kE11, 48}}, 0.6);
  add(Sex::kFemale, {{kOther, 46}, {kE11, 48}, {kE11, 55}}, 0.3);  // a second E11: still one case
  // Female controls: one candidate each (the event at 47, predicting the one at 52).
  add(Sex::kFemale, {{kOther, 47}, {kOther, 52}}, 0.5);
  add(Sex::kFemale, {{kOther, 47}, {kOther, 52}}, 0.2);
  add(Sex::kFemale, {{kOther, 47}, {kOther, 52}}, 0.6);
  // Male: cases {0.8, 0.7}, controls {0.1, 0.75}: AUC 3/4.
  add(Sex::kMale, {{kOther, 46}, {kE11, 48}}, 0.8);
  add(Sex::kMale, {{kOther, 46}, {kE11, 48}}, 0.7);
  add(Sex::kMale, {{kOther, 47}, {kDeath, 52}}, 0.1);
  add(Sex::kMale, {{kOther, 47}, {kOther, 52}}, 0.75);
  // One male case at 61, predicted at 60: a stratum with one case is not scored.
  add(Sex::kMale, {{kOther, 60}, {kE11, 61}}, 0.99);
  // E11 before 40 (predicted at 30): no bracket, not a case; never a control either.
  add(Sex::kFemale, {{kOther, 30}, {kE11, 31}, {kOther, 47}, {kOther, 52}}, 0.0);
  // Unknown sex: skipped.
  PatientTimeline unknown = patient(999, Sex::kUnknown, {{kOther, 46}, {kE11, 48}});
  c.patients.push_back(unknown);
  c.e11_score.push_back(0.0);
  return c;
}

const std::vector<DelphiDisease> kDiseases = {{kE11, "DELPHI//E11", "IV. Metabolic Diseases", 500},
                                              {kDeath, "DELPHI//Death", "Death", 300}};

TEST(Delphi, CasesControlsAndPointsAreTheProtocols) {
  const Cohort c = make_cohort();
  const DelphiSpec spec;
  const DelphiPlan plan = plan_delphi(c.patients, kDiseases, spec);
  EXPECT_EQ(plan.patients_without_sex, 1);
  ASSERT_EQ(plan.cases[0].size(), 6u);  // 3 female + 2 male at 45-50, 1 male at 60-65
  for (const DelphiCase& k : plan.cases[0]) {
    const DelphiPoint& point = plan.points[size_t(k.point)];
    const double age = point.age_days / kDaysPerYear;
    EXPECT_TRUE(age == 46 || age == 60) << "patient " << point.patient << " predicted at " << age;
    EXPECT_EQ(c.patients[size_t(point.patient)].tokens[size_t(point.position) + 1] == kE11 ||
                  c.patients[size_t(point.patient)].tokens[size_t(point.position) + 2] == kE11,
              true);
  }
  // Patient 11 has E11 before any bracket: not a case, and never an E11 control.
  EXPECT_TRUE(plan.patient_has[0][11]);
  // Controls: one per patient and bracket with a candidate; the male control with Death is a Death case.
  ASSERT_EQ(plan.cases[1].size(), 1u);
  EXPECT_EQ(plan.points[size_t(plan.cases[1][0].point)].patient, 8);
}

TEST(Delphi, AucsAreTheHandComputedOnes) {
  const Cohort c = make_cohort();
  const DelphiSpec spec;
  const DelphiPlan plan = plan_delphi(c.patients, kDiseases, spec);
  std::vector<float> scores(plan.points.size() * kDiseases.size(), 0.0f);
  for (size_t k = 0; k < plan.points.size(); ++k) {
    scores[k * 2 + 0] = static_cast<float>(c.e11_score[size_t(plan.points[k].patient)]);
    scores[k * 2 + 1] = static_cast<float>(plan.points[k].patient);  // Death: any order
  }
  const DelphiMethodResult result = score_delphi("model", plan, kDiseases, scores, spec);
  const DelphiDiseaseResult& e11 = result.diseases[0];
  ASSERT_EQ(e11.strata.size(), 2u) << "female 45-50 and male 45-50; male 60-65 has one case";
  EXPECT_EQ(e11.strata[0].sex, 0);
  EXPECT_EQ(e11.strata[0].age_lo, 45);
  EXPECT_EQ(e11.strata[0].cases, 3);
  EXPECT_EQ(e11.strata[0].controls, 3);
  EXPECT_NEAR(e11.strata[0].auc.auc, 6.5 / 9.0, 1e-6);
  EXPECT_EQ(e11.strata[1].sex, 1);
  EXPECT_EQ(e11.strata[1].cases, 2);
  EXPECT_EQ(e11.strata[1].controls, 2);
  EXPECT_NEAR(e11.strata[1].auc.auc, 0.75, 1e-6);
  EXPECT_NEAR(e11.auc, (6.5 / 9.0 + 0.75) / 2, 1e-6);
  const DelongAuc f = pairwise_delong({0.9, 0.6, 0.3}, {0.5, 0.2, 0.6});
  const DelongAuc m = pairwise_delong({0.8, 0.7}, {0.1, 0.75});
  EXPECT_NEAR(e11.variance, (f.variance + m.variance) / 4, 1e-6);
  // Death has one case: no stratum, no AUC; the summaries count E11 only.
  EXPECT_TRUE(std::isnan(result.diseases[1].auc));
  ASSERT_GE(result.summaries.size(), 2u);
  EXPECT_EQ(result.summaries[0].name, "all");
  EXPECT_EQ(result.summaries[0].diseases, 1);
  EXPECT_NEAR(result.summaries[0].mean_auc, e11.auc, 1e-9);
  EXPECT_NEAR(result.summaries[0].hi - result.summaries[0].mean_auc,
              1.959963984540054 * std::sqrt(e11.variance), 1e-9);
  EXPECT_EQ(result.summaries[1].name, "IV. Metabolic Diseases");
}

TEST(Delphi, ControlDrawsAreSeededAndOnePerPatientAndBracket) {
  // A control with many candidates in one bracket: the draw depends on the seed only.
  std::vector<PatientTimeline> patients = {
      patient(5, Sex::kFemale, {{kOther, 45.1}, {kOther, 45.5}, {kOther, 46}, {kOther, 47}, {kOther, 52}})};
  DelphiSpec spec;
  std::map<int32_t, int> positions;
  for (int64_t seed = 0; seed < 64; ++seed) {
    spec.seed = seed;
    const DelphiPlan plan = plan_delphi(patients, kDiseases, spec);
    ASSERT_EQ(plan.controls.size(), 1u);
    positions[plan.points[size_t(plan.controls[0].point)].position] += 1;
    const DelphiPlan again = plan_delphi(patients, kDiseases, spec);
    EXPECT_EQ(again.points[size_t(again.controls[0].point)].position,
              plan.points[size_t(plan.controls[0].point)].position);
  }
  EXPECT_EQ(positions.size(), 4u) << "positions 2..5 (ages 45.1-47) are all candidates";
}

TEST(Delphi, AgeSexBaselineRanksByIncidence) {
  // Train: E11 at 47 in every female, never in males: female points score above male points.
  std::vector<PatientTimeline> train;
  for (int i = 0; i < 20; ++i) {
    train.push_back(patient(i, Sex::kFemale, {{kOther, 46}, {kE11, 47}, {kOther, 60}}));
    train.push_back(patient(100 + i, Sex::kMale, {{kOther, 46}, {kOther, 60}}));
  }
  const Cohort c = make_cohort();
  const DelphiPlan plan = plan_delphi(c.patients, kDiseases, DelphiSpec());
  const std::vector<float> scores = age_sex_scores(train, c.patients, plan, kDiseases);
  for (size_t k = 0; k < plan.points.size(); ++k) {
    const DelphiPoint& point = plan.points[k];
    const bool female = c.patients[size_t(point.patient)].sex == Sex::kFemale;
    const int year = int(point.age_days / kDaysPerYear);
    if (year == 47 || year == 46) {
      EXPECT_EQ(scores[k * 2] > -3.0f, female && year == 47)
          << "patient " << point.patient << " age " << year;
    }
  }
}

TEST(Delphi, SuiteSectionIsRead) {
  const SuiteSpec suite = parse_suite(
      "name: d\ncontext_events: 48\ndelphi:\n  min_occurrences: 50\n  age_brackets: [40, 60, 80]\n",
      "d.yaml");
  EXPECT_TRUE(suite.delphi.enabled);
  EXPECT_TRUE(suite.tasks.empty());
  EXPECT_EQ(suite.delphi.min_occurrences, 50);
  EXPECT_EQ(suite.delphi.age_brackets, (std::vector<double>{40, 60, 80}));
  try {
    parse_suite("name: d\ndelphi:\n  min_occurences: 50\n", "d.yaml");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("min_occurrences"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_suite("name: d\ndelphi:\n  age_brackets: [40]\n", "d.yaml"), InputError);
}

}  // namespace
}  // namespace clinfm
