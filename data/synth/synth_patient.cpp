// One synthetic patient: demographics, the latent history before records start, then annual
// visits, each followed by one interval with constant hazards in which death, new diagnoses
// and hospital stays happen. Rows are collected, sorted by time and formatted as MEDS CSV; the
// truth rows are written at the visits they belong to. See synth_cohort.h for why the truth is
// exact. What counts as a disease and how likely it is lives in synth_model.cpp; background
// codes (synth_background.h) are added to the finished timeline at its encounters.
// About 430 lines: one timeline is one narrative (history, visits, intervals, stays); split, its
// steps would pass most of the patient's state between files.
#include "data/synth/synth_patient.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string_view>

#include "data/synth/synth_background.h"
#include "data/synth/synth_model.h"
#include "data/synth/synth_random.h"
#include "data/timestamp.h"

namespace clinfm::synth {
namespace {

const int64_t kFollowUpStart = days_from_civil(2000, 1, 1) * kSecondsPerDayInt;
const int64_t kFollowUpEnd = days_from_civil(2025, 1, 1) * kSecondsPerDayInt;
constexpr int64_t kHorizonDays = 365;
constexpr double kTruthMinAge = 40.0;
// A quarter of the eligible visits keeps the truth file a fraction of the cohort's size.
constexpr double kTruthFraction = 0.25;
constexpr int64_t kHour = 3600;

const char kDeathCode[] = "MEDS_DEATH";
const char* kSmokingCodes[3] = {"SMOKING//NEVER", "SMOKING//CURRENT", "SMOKING//FORMER"};

struct Treatment {
  bool metformin = false, lisinopril = false, amlodipine = false;
  bool furosemide = false, tiotropium = false, statin = false;
};

struct Stay {
  int64_t start, end;  // end = time of death for a stay that ends in death
  bool emergency;
  bool died = false;
};

// Event offsets are rounded up to the minute: an event at offset t lands at or before
// visit + m minutes exactly when t <= m minutes, which keeps the truth exact.
int64_t ceil_minutes(double seconds) {
  return static_cast<int64_t>(std::ceil(seconds / kSecondsPerMinute)) * kSecondsPerMinute;
}

// Clinic hours, 08:00-16:50 in 10-minute slots.
int64_t clinic_time(int64_t day, Random& random) {
  return day * kSecondsPerDayInt + (480 + 10 * random.integer(0, 53)) * kSecondsPerMinute;
}

int64_t stay_seconds(double days) {
  return std::max<int64_t>(4 * kHour, ceil_minutes(days * static_cast<double>(kSecondsPerDayInt)));
}

const char* diagnosis_code(const PatientState& s, int d) {
  return d == kCancer ? kCancerCodes[s.cancer_site] : kDiseaseCodes[d];
}

// P(event with hazard `rate` before a competing event with hazard `competing`, within tau).
double first_within(double rate, double competing, double tau) {
  const double total = rate + competing;
  return total > 0.0 ? rate / total * -std::expm1(-total * tau) : 0.0;
}

void append_truth(std::string& out, int64_t subject_id, int64_t prediction, const char* outcome, double p) {
  fmt::format_to(std::back_inserter(out), "{},", subject_id);
  append_timestamp(out, prediction);
  fmt::format_to(std::back_inserter(out), ",{},{},{:.6g}\n", outcome, kHorizonDays, p);
}

// The mutable part of one patient's generation; lives for one PatientWriter::write call.
class Simulation {
 public:
  Simulation(Random& random, std::vector<PatientWriter::Row>& rows) : random_(random), rows_(rows) {}

  PatientState s;

  void add(int64_t time, const char* code, double value = 0.0, int decimals = -1) {
    rows_.push_back({time, order_++, decimals, code, value});
  }

  // Disease onsets from age 18 to the first visit, without deaths: a patient in the records
  // was alive when they started.
  void latent_history(int64_t first_visit) {
    int64_t t = s.birth + static_cast<int64_t>(18.0 * kSecondsPerYear);
    while (t < first_visit) {
      const int64_t step_end = std::min(t + static_cast<int64_t>(kSecondsPerYear), first_visit);
      age_risk_factors_one_year(s, s.age_years(t), random_);
      s.on_antihypertensive = s.has(kHypertension, t) && random_.bernoulli(0.6);
      const Hazards h = hazards_at(s, t);
      for (int d = 0; d < kDiseaseCount; ++d) {
        if (h.onset[d] <= 0.0) continue;
        const double offset = random_.exponential(h.onset[d]) * kSecondsPerYear;
        if (offset < kSecondsPerYear && t + ceil_minutes(offset) < step_end)
          onset(d, t + ceil_minutes(offset));
      }
      t = step_end;
    }
  }

  // Drugs prescribed at this visit, for diagnoses made before it. Treatment is part of the
  // state that fixes the hazards of the coming interval.
  Treatment treat(int64_t visit, double age) {
    Treatment rx;
    rx.metformin = s.has(kDiabetes, visit) && random_.bernoulli(0.85);
    rx.lisinopril = (s.has(kHypertension, visit) && random_.bernoulli(0.65)) ||
                    (s.has(kHeartFailure, visit) && random_.bernoulli(0.5));
    rx.amlodipine = s.has(kHypertension, visit) && random_.bernoulli(0.35);
    rx.furosemide = s.has(kHeartFailure, visit) && random_.bernoulli(0.85);
    rx.tiotropium = s.has(kCopd, visit) && random_.bernoulli(0.8);
    const bool vascular = s.has(kDiabetes, visit) || s.has(kHeartFailure, visit) || s.has(kKidney, visit);
    rx.statin = vascular ? random_.bernoulli(0.55) : (age > 55.0 && random_.bernoulli(0.08));
    s.on_metformin = rx.metformin;
    s.on_antihypertensive = rx.lisinopril || rx.amlodipine;
    return rx;
  }

  void visit_rows(int64_t visit, double age, bool first, const Treatment& rx) {
    add(visit, "ENCOUNTER//OUTPATIENT");
    if (s.smoking_decided && (!smoking_recorded_ || recorded_smoking_ != s.smoking)) {
      add(visit, kSmokingCodes[static_cast<int>(s.smoking)]);
      smoking_recorded_ = true;
      recorded_smoking_ = s.smoking;
    }
    if (first) {  // what began before records started is coded as history at the first visit
      for (int d = 0; d < kDiseaseCount; ++d)
        if (s.has(static_cast<Disease>(d), visit)) add(visit, diagnosis_code(s, d));
    }
    if (age >= 18.0) {
      const bool t2d = s.has(kDiabetes, visit), ckd = s.has(kKidney, visit), hf = s.has(kHeartFailure, visit);
      if (random_.bernoulli(0.75)) add(visit, "LAB//SBP", draw_sbp(s, visit, random_), 0);
      if (random_.bernoulli(0.4)) {
        const double bmi = draw_bmi(s, random_);
        add(visit, "LAB//BMI", bmi, 1);
        if (bmi >= 30.0 && !obesity_recorded_ && random_.bernoulli(0.7)) {
          add(visit, "ICD10//E66");
          obesity_recorded_ = true;
        }
      }
      if (random_.bernoulli(t2d ? 0.85 : age >= 40.0 ? 0.3 : 0.1))
        add(visit, "LAB//HBA1C", draw_hba1c(s, visit, random_), 1);
      if (random_.bernoulli(t2d || ckd || s.has(kHypertension, visit) ? 0.75 : 0.25))
        add(visit, "LAB//CREATININE", draw_creatinine(s, visit, random_), 2);
      if (random_.bernoulli(hf ? 0.8 : 0.05)) add(visit, "LAB//BNP", draw_bnp(s, visit, random_), 0);
    }
    if (rx.metformin) add(visit, "RX//METFORMIN");
    if (rx.lisinopril) add(visit, "RX//LISINOPRIL");
    if (rx.amlodipine) add(visit, "RX//AMLODIPINE");
    if (rx.furosemide) add(visit, "RX//FUROSEMIDE");
    if (rx.tiotropium) add(visit, "RX//TIOTROPIUM");
    if (rx.statin) add(visit, "RX//ATORVASTATIN");
  }

  // The interval [visit, next) under the hazards `h`. Returns the time of death, or kNoOnset.
  int64_t interval(const Hazards& h, int64_t visit, int64_t next) {
    const double length = static_cast<double>(next - visit);
    const double death_offset = random_.exponential(h.death) * kSecondsPerYear;
    int64_t death_at = kNoOnset;
    if (death_offset < length && visit + ceil_minutes(death_offset) < next)
      death_at = visit + ceil_minutes(death_offset);

    // Independent exponential onset times; one that would come after death never happens.
    int64_t new_onset[kDiseaseCount];
    for (int d = 0; d < kDiseaseCount; ++d) {
      new_onset[d] = kNoOnset;
      if (h.onset[d] <= 0.0) continue;
      const double offset = random_.exponential(h.onset[d]) * kSecondsPerYear;
      if (offset < death_offset && offset < length && visit + ceil_minutes(offset) < next) {
        new_onset[d] = visit + ceil_minutes(offset);
        onset(d, new_onset[d]);
      }
    }

    plan_stays(h, visit, next, death_at, new_onset);
    for (const Stay& stay : stays_) stay_rows(stay);
    for (int d = 0; d < kDiseaseCount; ++d) {
      if (new_onset[d] == kNoOnset) continue;
      const int64_t t = new_onset[d];
      const auto stay = std::find_if(stays_.begin(), stays_.end(),
                                     [t](const Stay& st) { return st.start <= t && t <= st.end; });
      if (stay == stays_.end()) add(t, "ENCOUNTER//OUTPATIENT");  // an unscheduled visit makes the diagnosis
      add(t, diagnosis_code(s, d));
      if (stay == stays_.end() || stay->start != t)
        confirming_lab(d, t);  // admission labs cover its first minute
    }
    if (death_at != kNoOnset) add(death_at, kDeathCode);
    return death_at;
  }

 private:
  void onset(int d, int64_t time) {
    s.onset[d] = time;
    if (d == kCancer) s.cancer_site = draw_cancer_site(s, random_);
  }

  // Labs describe the state including what began at that very minute, hence time + 1.
  void confirming_lab(int d, int64_t t) {
    if (d == kHypertension) add(t, "LAB//SBP", draw_sbp(s, t + 1, random_), 0);
    if (d == kDiabetes) add(t, "LAB//HBA1C", draw_hba1c(s, t + 1, random_), 1);
    if (d == kKidney) add(t, "LAB//CREATININE", draw_creatinine(s, t + 1, random_), 2);
    if (d == kHeartFailure) add(t, "LAB//BNP", draw_bnp(s, t + 1, random_), 0);
  }

  // Admissions of the interval: a Poisson process at the visit's rates, heart-failure onsets
  // that present as emergencies, cancer work-ups, and possibly a terminal stay. Stays never
  // overlap and end a day before the next visit; none changes when death or onsets happen.
  void plan_stays(const Hazards& h, int64_t visit, int64_t next, int64_t death_at, const int64_t* new_onset) {
    candidates_.clear();
    stays_.clear();
    const double length = static_cast<double>(next - visit);
    const double rate = h.emergency_admission + h.elective_admission;
    for (double t = random_.exponential(rate) * kSecondsPerYear; t < length;
         t += random_.exponential(rate) * kSecondsPerYear) {
      const bool emergency = random_.bernoulli(h.emergency_admission / rate);
      int64_t start = visit + ceil_minutes(t);
      if (!emergency)
        start = std::max(clinic_time(start / kSecondsPerDayInt, random_), visit + kHour);  // planned
      candidates_.push_back(
          {start, start + stay_seconds(emergency ? random_.lognormal(3.5, 0.7) : random_.lognormal(2.0, 0.6)),
           emergency});
    }
    if (new_onset[kHeartFailure] != kNoOnset && random_.bernoulli(0.6)) {
      const int64_t start = new_onset[kHeartFailure];
      candidates_.push_back({start, start + stay_seconds(random_.lognormal(5.0, 0.5)), true});
    }
    if (new_onset[kCancer] != kNoOnset && random_.bernoulli(0.4)) {
      const int64_t start =
          clinic_time(new_onset[kCancer] / kSecondsPerDayInt + random_.integer(7, 40), random_);
      candidates_.push_back({start, start + stay_seconds(random_.lognormal(4.0, 0.5)), false});
    }
    std::stable_sort(candidates_.begin(), candidates_.end(),
                     [](const Stay& a, const Stay& b) { return a.start < b.start; });
    int64_t last_end = visit;
    for (Stay c : candidates_) {
      if (c.start < last_end + kHour || c.start >= death_at) continue;
      c.died = death_at <= c.end;
      if (!c.died && c.end >= next - kSecondsPerDayInt) continue;
      if (c.died) c.end = death_at;
      stays_.push_back(c);
      last_end = c.end;
      if (c.died) break;
    }
    const bool died_in_stay = !stays_.empty() && stays_.back().died;
    if (death_at != kNoOnset && !died_in_stay && random_.bernoulli(0.45)) {
      const int64_t start = std::max(death_at - stay_seconds(random_.lognormal(4.0, 0.8)),
                                     std::max(last_end + kHour, visit + kSecondsPerMinute));
      if (start < death_at) stays_.push_back({start, death_at, true, true});
    }
  }

  void stay_rows(const Stay& stay) {
    const int64_t t = stay.start;
    const double age = s.age_years(t);
    add(t, stay.emergency ? "HOSPITAL_ADMISSION//EMERGENCY" : "HOSPITAL_ADMISSION//ELECTIVE");
    for (int d = 0; d < kDiseaseCount; ++d)  // comorbidities are coded at every admission
      if (s.has(static_cast<Disease>(d), t) && random_.bernoulli(0.9)) add(t, diagnosis_code(s, d));
    const bool hf = s.has(kHeartFailure, t + 1);
    if (random_.bernoulli(0.7)) add(t, "LAB//SBP", draw_sbp(s, t + 1, random_), 0);
    if (random_.bernoulli(0.95)) add(t, "LAB//CREATININE", draw_creatinine(s, t + 1, random_), 2);
    if (random_.bernoulli(hf ? 0.8 : stay.emergency ? 0.3 : 0.05))
      add(t, "LAB//BNP", draw_bnp(s, t + 1, random_), 0);
    if (random_.bernoulli(s.has(kDiabetes, t + 1) ? 0.4 : 0.05))
      add(t, "LAB//HBA1C", draw_hba1c(s, t + 1, random_), 1);
    if (stay.died) return;
    const bool care_home = age > 80.0 && random_.bernoulli(0.3);
    add(stay.end, care_home ? "HOSPITAL_DISCHARGE//SNF" : "HOSPITAL_DISCHARGE//HOME");
    if (s.has(kHeartFailure, stay.end) && random_.bernoulli(0.7)) add(stay.end, "RX//FUROSEMIDE");
  }

  Random& random_;
  std::vector<PatientWriter::Row>& rows_;
  uint32_t order_ = 0;
  bool smoking_recorded_ = false, obesity_recorded_ = false;
  Smoking recorded_smoking_ = Smoking::kNever;
  std::vector<Stay> candidates_, stays_;
};

// Background codes at every encounter, on the patient's own background stream: the clinical
// rows are the same with or without them. Their emission order comes after every clinical row,
// so they sort after the encounter's own rows at the same minute (a visit still begins with
// ENCOUNTER//OUTPATIENT). Encounters after the end of follow-up are censored with their codes.
void add_background_rows(const BackgroundCodes& background, Random& random,
                         std::vector<PatientWriter::Row>& rows) {
  const size_t clinical_rows = rows.size();
  uint32_t order = static_cast<uint32_t>(clinical_rows);
  for (size_t i = 0; i < clinical_rows; ++i) {
    const std::string_view code = rows[i].code;
    const double mean = code == "ENCOUNTER//OUTPATIENT"              ? kBackgroundPerOutpatientVisit
                        : code.rfind("HOSPITAL_ADMISSION//", 0) == 0 ? kBackgroundPerAdmission
                                                                     : 0.0;
    if (mean == 0.0) continue;
    const int64_t time = rows[i].time;
    for (int count = poisson(mean, random); count > 0; --count)
      rows.push_back({time, order++, -1, background.draw(random), 0.0});
  }
}

void append_row(std::string& out, int64_t subject_id, const PatientWriter::Row& row) {
  fmt::format_to(std::back_inserter(out), "{},", subject_id);
  append_timestamp(out, row.time);
  out += ',';
  out += row.code;
  out += ',';
  if (row.decimals >= 0) fmt::format_to(std::back_inserter(out), "{:.{}f}", row.value, row.decimals);
  out += ",\n";
}

}  // namespace

void append_timestamp(std::string& out, int64_t seconds) {
  // Civil date from days since 1970 (H. Hinnant's algorithm), proleptic Gregorian.
  int64_t days = seconds / kSecondsPerDayInt;
  int64_t second_of_day = seconds % kSecondsPerDayInt;
  if (second_of_day < 0) {
    second_of_day += kSecondsPerDayInt;
    --days;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const int64_t hour = second_of_day / 3600, minute = second_of_day / 60 % 60, second = second_of_day % 60;
  char text[20];
  auto two = [&](int at, int64_t v) {
    text[at] = static_cast<char>('0' + v / 10);
    text[at + 1] = static_cast<char>('0' + v % 10);
  };
  two(0, year / 100);
  two(2, year % 100);
  text[4] = '-';
  two(5, month);
  text[7] = '-';
  two(8, day);
  text[10] = ' ';
  two(11, hour);
  text[13] = ':';
  two(14, minute);
  text[16] = ':';
  two(17, second);
  out.append(text, 19);
}

void PatientWriter::write(uint64_t seed, int64_t subject_id, std::string& cohort_csv, std::string& truth_csv,
                          PatientCounts& counts) {
  Random random(seed, static_cast<uint64_t>(subject_id), 0);
  Random selection(seed, static_cast<uint64_t>(subject_id), 1);  // which visits get truth rows
  rows_.clear();
  Simulation sim(random, rows_);
  PatientState& s = sim.s;

  // Older ages a little more common, as in a hospital population.
  const double age_at_end = 18.0 + 77.0 * std::pow(random.uniform(), 0.8);
  s.male = random.bernoulli(0.5);
  s.birth =
      (kFollowUpEnd / kSecondsPerDayInt - static_cast<int64_t>(age_at_end * 365.25)) * kSecondsPerDayInt +
      random.integer(0, 1439) * kSecondsPerMinute;
  s.metabolic = random.normal();
  s.bmi = std::clamp(random.normal(23.5, 3.5), 16.0, 45.0);
  int64_t visit =
      clinic_time(std::max(s.birth, kFollowUpStart) / kSecondsPerDayInt + random.integer(1, 365), random);
  sim.latent_history(visit);

  const double tau =
      static_cast<double>(kHorizonDays * kSecondsPerDayInt - kSecondsPerMinute) / kSecondsPerYear;
  for (int index = 0; visit < kFollowUpEnd; ++index) {
    const double age = s.age_years(visit);
    if (index > 0) age_risk_factors_one_year(s, age, random);
    const Treatment rx = sim.treat(visit, age);
    const Hazards h = hazards_at(s, visit);

    const int64_t prediction = visit - kSecondsPerMinute;
    if (index > 0 && age >= kTruthMinAge && prediction + kHorizonDays * kSecondsPerDayInt < kFollowUpEnd &&
        selection.bernoulli(kTruthFraction)) {
      append_truth(truth_csv, subject_id, prediction, "death_365d", -std::expm1(-h.death * tau));
      counts.truth_rows += 1;
      if (!s.has(kDiabetes, visit)) {
        append_truth(truth_csv, subject_id, prediction, "new_t2d_365d",
                     first_within(h.onset[kDiabetes], h.death, tau));
        counts.truth_rows += 1;
      }
      if (!s.has(kHeartFailure, visit)) {
        append_truth(truth_csv, subject_id, prediction, "new_hf_365d",
                     first_within(h.onset[kHeartFailure], h.death, tau));
        counts.truth_rows += 1;
      }
    }

    sim.visit_rows(visit, age, index == 0, rx);
    const int64_t next = clinic_time(visit / kSecondsPerDayInt + 366 + random.integer(0, 20), random);
    if (sim.interval(h, visit, next) != kNoOnset) break;
    visit = next;
  }
  const size_t clinical_rows = rows_.size();
  if (background_ != nullptr) {
    Random background_random(seed, static_cast<uint64_t>(subject_id), 2);
    add_background_rows(*background_, background_random, rows_);
  }

  std::sort(rows_.begin(), rows_.end(), [](const Row& a, const Row& b) {
    return a.time != b.time ? a.time < b.time : a.order < b.order;
  });
  fmt::format_to(std::back_inserter(cohort_csv), "{},", subject_id);
  append_timestamp(cohort_csv, s.birth);
  fmt::format_to(std::back_inserter(cohort_csv), ",MEDS_BIRTH,,\n{},,GENDER//{},,\n", subject_id,
                 s.male ? 'M' : 'F');
  counts.events += 2;
  for (const Row& row : rows_) {
    if (row.time >= kFollowUpEnd) break;  // censored at the end of follow-up
    append_row(cohort_csv, subject_id, row);
    counts.events += 1;
    if (row.order >= clinical_rows) counts.background_events += 1;
    if (row.code == kDeathCode) counts.deaths += 1;
  }
}

}  // namespace clinfm::synth
