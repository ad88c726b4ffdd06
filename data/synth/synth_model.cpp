// Hazards and lab values of the synthetic cohort. The numbers are chosen to look like an adult
// hospital population (annual mortality about 0.5% in the 50s, 3% in the 70s, 7% in the 80s;
// hypertension recorded in three quarters and type 2 diabetes in a third of the over-75s), not
// fitted to any data. Every hazard is log-linear in age with multiplicative links between risk
// factors and diseases; see synth_cohort.h for how they are used. Nothing here knows about
// rows, files or the truth.
#include "data/synth/synth_model.h"

#include <algorithm>
#include <cmath>

namespace clinfm::synth {
namespace {

// exp(intercept + slope * (age - 50)): the annual hazard of a 50-year-old is exp(intercept).
double age_hazard(double intercept, double slope, double age) {
  return std::exp(intercept + slope * (age - 50.0));
}

constexpr double kMaxDeathHazard = 4.0;

double round_to(double value, double step) { return std::round(value / step) * step; }

}  // namespace

const char* const kDiseaseCodes[kDiseaseCount] = {"ICD10//I10", "ICD10//E11", "ICD10//N18",
                                                  "ICD10//I50", "ICD10//J44", "ICD10//C80"};
// Lung, breast, prostate, colon, unspecified site.
const char* const kCancerCodes[5] = {"ICD10//C34", "ICD10//C50", "ICD10//C61", "ICD10//C18", "ICD10//C80"};

Hazards hazards_at(const PatientState& s, int64_t now) {
  const double age = s.age_years(now);
  const bool ht = s.has(kHypertension, now), t2d = s.has(kDiabetes, now), ckd = s.has(kKidney, now);
  const bool hf = s.has(kHeartFailure, now), copd = s.has(kCopd, now), cancer = s.has(kCancer, now);
  const bool current = s.smoking == Smoking::kCurrent, former = s.smoking == Smoking::kFormer;
  const double smoke_lung = current ? 6.0 : former ? 2.5 : 1.0;
  const double smoke_cancer = current ? 1.8 : former ? 1.3 : 1.0;
  const double ht_heart = ht ? (s.on_antihypertensive ? 1.5 : 2.2) : 1.0;
  const double ht_kidney = ht ? (s.on_antihypertensive ? 1.6 : 2.2) : 1.0;

  // Chronic disease in childhood is rare; the adult age slopes would overstate it.
  const double child = age < 18.0 ? 0.05 : 1.0;
  Hazards h;
  if (!ht)
    h.onset[kHypertension] = age_hazard(-4.3, 0.05, age) * (s.obese() ? 1.7 : 1.0) *
                             std::exp(0.2 * s.metabolic) * (s.male ? 1.1 : 1.0);
  if (!t2d)
    h.onset[kDiabetes] = age_hazard(-5.9, 0.035, age) * (s.obese() ? 2.5 : 1.0) *
                         std::exp(0.6 * s.metabolic) * (ht ? 1.3 : 1.0);
  if (!ckd) h.onset[kKidney] = age_hazard(-6.1, 0.06, age) * (t2d ? 2.5 : 1.0) * ht_kidney * (hf ? 1.5 : 1.0);
  if (!hf)
    h.onset[kHeartFailure] = age_hazard(-7.3, 0.07, age) * ht_heart * (t2d ? 1.6 : 1.0) * (ckd ? 1.7 : 1.0) *
                             (current ? 1.5 : 1.0) * (s.male ? 1.3 : 1.0);
  if (!copd) h.onset[kCopd] = age_hazard(-7.0, 0.04, age) * smoke_lung;
  if (!cancer) h.onset[kCancer] = age_hazard(-5.6, 0.05, age) * smoke_cancer * (s.obese() ? 1.2 : 1.0);
  for (double& onset : h.onset) onset *= child;

  // Cancer is most lethal in the first two years after diagnosis.
  const double cancer_death = cancer ? (s.years_since(kCancer, now) < 2.0 ? 3.0 : 1.4) : 1.0;
  const double bmi_death = s.bmi < 18.5 ? 1.5 : s.bmi >= 35.0 ? 1.3 : 1.0;
  h.death = age_hazard(-6.3, 0.085, age) * (s.male ? 1.35 : 1.0) * (t2d ? 1.3 : 1.0) * (ckd ? 1.5 : 1.0) *
            (hf ? 2.2 : 1.0) * (copd ? 1.7 : 1.0) * cancer_death * (current ? 1.7 : 1.0) * bmi_death;
  // A ceiling keeps the truth's death probability printably below 1 (1 - exp(-4) = 0.98).
  h.death = std::min(h.death, kMaxDeathHazard);

  h.emergency_admission = age_hazard(-3.3, 0.03, age) * (hf ? 2.5 : 1.0) * (copd ? 2.0 : 1.0) *
                          (ckd ? 1.5 : 1.0) * (t2d ? 1.3 : 1.0) * (cancer ? 1.8 : 1.0);
  h.elective_admission = 0.02 + (age > 60.0 ? 0.015 : 0.0) + (cancer ? 0.25 : 0.0);
  return h;
}

int draw_cancer_site(const PatientState& s, Random& random) {
  const double u = random.uniform();
  const double lung = s.smoking == Smoking::kCurrent ? 0.35 : s.smoking == Smoking::kFormer ? 0.2 : 0.06;
  if (u < lung) return 0;
  if (u < lung + 0.3) return s.male ? 2 : 1;
  if (u < lung + 0.45) return 3;
  return 4;
}

double draw_hba1c(const PatientState& s, int64_t time, Random& random) {
  const double age = s.age_years(time);
  double value;
  if (s.has(kDiabetes, time)) {
    const double years = std::min(s.years_since(kDiabetes, time), 10.0);
    value = random.normal(7.4 + 0.3 * s.metabolic + 0.05 * years - (s.on_metformin ? 0.6 : 0.0), 0.9);
    value = std::max(value, 5.6);
  } else {
    value = random.normal(5.3 + 0.2 * s.metabolic + (s.obese() ? 0.15 : 0.0) + 0.004 * (age - 40.0), 0.25);
    value = std::clamp(value, 4.2, 6.9);
  }
  return round_to(value, 0.1);
}

double draw_creatinine(const PatientState& s, int64_t time, Random& random) {
  const double age = s.age_years(time);
  double median = (s.male ? 0.95 : 0.75) * std::exp(0.004 * std::max(age - 40.0, 0.0));
  double sigma = 0.12;
  if (s.has(kKidney, time)) {
    median *= 1.8 * std::exp(0.06 * std::min(s.years_since(kKidney, time), 15.0));
    sigma = 0.25;
  }
  if (s.has(kHeartFailure, time)) median *= 1.1;
  return std::max(round_to(random.lognormal(median, sigma), 0.01), 0.3);
}

double draw_bnp(const PatientState& s, int64_t time, Random& random) {
  const double age = s.age_years(time);
  double median = 30.0 * std::exp(0.03 * (age - 50.0));
  if (s.has(kKidney, time)) median *= 1.8;
  if (s.has(kHeartFailure, time)) median *= 12.0;
  return std::max(std::round(random.lognormal(median, 0.6)), 5.0);
}

double draw_sbp(const PatientState& s, int64_t time, Random& random) {
  const double age = s.age_years(time);
  double mean = 118.0 + 0.45 * std::max(age - 40.0, 0.0) + (s.male ? 4.0 : 0.0);
  if (s.has(kHypertension, time)) mean += s.on_antihypertensive ? 10.0 : 22.0;
  return std::clamp(std::round(random.normal(mean, 11.0)), 80.0, 240.0);
}

double draw_bmi(const PatientState& s, Random& random) {
  return std::clamp(round_to(random.normal(s.bmi, 0.3), 0.1), 14.0, 70.0);
}

void age_risk_factors_one_year(PatientState& s, double age, Random& random) {
  if (age < 18.0) return;  // children keep the adult BMI drawn at birth until they are adults
  if (!s.smoking_decided) {
    s.smoking_decided = true;
    s.smoking = random.bernoulli(s.male ? 0.38 : 0.30) ? Smoking::kCurrent : Smoking::kNever;
  }
  // Adults gain weight slowly until about 60 and lose some after 70.
  const double drift = age < 60.0 ? 0.12 : age < 70.0 ? 0.0 : -0.1;
  s.bmi = std::clamp(s.bmi + drift + random.normal(0.0, 0.3), 15.0, 60.0);
  if (s.smoking == Smoking::kCurrent && random.bernoulli(0.04)) s.smoking = Smoking::kFormer;
}

}  // namespace clinfm::synth
