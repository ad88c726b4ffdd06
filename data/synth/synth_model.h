// The clinical model behind the synthetic cohort: a patient's latent state, the annual hazards
// it implies (disease onsets, death, admissions) and the lab values a state produces. Pure
// functions of the state and the random stream; the timeline, the rows and the truth are built
// in synth_patient.cpp. Hazards are per year of 365.25 days. See synth_cohort.h for the design.
#pragma once

#include <cstdint>
#include <limits>

#include "data/synth/synth_random.h"

namespace clinfm::synth {

constexpr int64_t kSecondsPerMinute = 60;
constexpr int64_t kSecondsPerDayInt = 86400;
constexpr double kSecondsPerYear = 365.25 * 86400.0;
constexpr int64_t kNoOnset = std::numeric_limits<int64_t>::max();

enum Disease : int { kHypertension = 0, kDiabetes, kKidney, kHeartFailure, kCopd, kCancer, kDiseaseCount };
enum class Smoking { kNever, kCurrent, kFormer };

struct PatientState {
  int64_t birth = 0;  // seconds since 1970
  bool male = false;
  double metabolic = 0.0;  // latent metabolic risk, N(0, 1): raises T2D risk and HbA1c
  double bmi = 23.0;       // true BMI (kg/m2); measurements add noise
  Smoking smoking = Smoking::kNever;
  bool smoking_decided = false;  // smoking starts (or not) at 18
  int64_t onset[kDiseaseCount] = {kNoOnset, kNoOnset, kNoOnset, kNoOnset, kNoOnset, kNoOnset};
  int cancer_site = 0;  // index into kCancerCodes
  // Treatment chosen at the latest visit; part of the state because it changes hazards.
  bool on_antihypertensive = false;
  bool on_metformin = false;

  bool has(Disease d, int64_t time) const { return onset[d] < time; }
  bool obese() const { return bmi >= 30.0; }
  double age_years(int64_t time) const { return static_cast<double>(time - birth) / kSecondsPerYear; }
  double years_since(Disease d, int64_t time) const {
    return has(d, time) ? static_cast<double>(time - onset[d]) / kSecondsPerYear : 0.0;
  }
};

struct Hazards {
  double onset[kDiseaseCount] = {};  // 0 for a disease the patient already has
  double death = 0.0;
  double emergency_admission = 0.0;
  double elective_admission = 0.0;
};

extern const char* const kDiseaseCodes[kDiseaseCount];
extern const char* const kCancerCodes[5];

// Hazards (per year) implied by the state at time `now`; constant until the next visit.
Hazards hazards_at(const PatientState& state, int64_t now);

// Cancer site at onset (lung more often in smokers, breast in women, prostate in men).
int draw_cancer_site(const PatientState& state, Random& random);

// Lab values for the state at `time`, rounded the way a lab reports them.
double draw_hba1c(const PatientState& state, int64_t time, Random& random);       // %
double draw_creatinine(const PatientState& state, int64_t time, Random& random);  // mg/dL
double draw_bnp(const PatientState& state, int64_t time, Random& random);         // pg/mL
double draw_sbp(const PatientState& state, int64_t time, Random& random);         // mmHg
double draw_bmi(const PatientState& state, Random& random);                       // kg/m2

// One year of the slowly changing risk factors: BMI drift and quitting smoking.
void age_risk_factors_one_year(PatientState& state, double age, Random& random);

}  // namespace clinfm::synth
