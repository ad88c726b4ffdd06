// The built-in synthetic cohort: a hospital population written as MEDS CSV, plus a truth file
// holding the exact probabilities of the outcomes the generator itself drew. It exists so that
// the whole pipeline (prep, training, evaluation) can be run and checked without real data,
// and so that a model's calibration can be compared with the best possible one. It is not a
// validated epidemiological model; its numbers are plausible, not fitted to any population.
//
// Cohort. Ages at the end of follow-up (2025-01-01) spread over 18-95, sex 50/50. Records start
// within a year after max(birth, 2000-01-01). Each patient has a latent state: sex, smoking
// (never/current/former), BMI (obesity = BMI >= 30), a metabolic-risk score, and the onset
// times of hypertension (ICD10//I10), type 2 diabetes (E11), chronic kidney disease (N18),
// heart failure (I50), COPD (J44) and cancer (C34/C50/C61/C18/C80). Diseases that began
// before records start are simulated from age 18 (without death) and coded at the first visit.
//
// Time steps and exact truth. A patient has one annual outpatient visit (ENCOUNTER//OUTPATIENT)
// every 366-386 days. The state at a visit (age, diseases, smoking, BMI, treatment chosen at
// that visit) fixes every hazard until the next visit: hazards are piecewise constant. Within
// the interval, death and each new diagnosis are independent exponential times with those
// constant hazards; a diagnosis made within the interval changes hazards only from the next
// visit. So, with h per year of 365.25 days and tau the horizon in years:
//   P(death within tau)                      = 1 - exp(-h_death * tau)
//   P(diagnosis d before death, within tau)  = h_d / (h_d + h_death) * (1 - exp(-(h_d + h_death) * tau))
// and these are the probabilities in the truth file, exactly. Event times are rounded UP to
// the minute, which keeps the statement exact for horizons that are whole minutes.
//
// Prediction time. For a visit at time V, the truth row's prediction_time is V - 1 minute and
// all of the visit's own rows (labs, prescriptions, codes) are at V, so a model may use every
// row strictly before (or at) prediction_time and never sees the visit it is asked about. The
// horizon is 365 days after prediction_time; the hazards hold for the whole horizon because
// the next visit is at least 366 days later. The state behind the truth includes latent parts
// (smoking, true BMI, metabolic risk), so the truth is an oracle, not something a model can
// reach exactly.
//
// Truth rows: `subject_id,prediction_time,outcome,horizon_days,probability` for a random
// quarter of the visits at age >= 40 (chosen independently of the future, so calibration is
// unbiased), except a patient's first visit (no history yet) and visits whose horizon is not
// complete by the end of follow-up. Outcomes: death_365d (all), new_t2d_365d (no T2D at the
// visit), new_hf_365d (no heart failure at the visit).
//
// Hospital: emergency admissions (rate rises with age and disease burden, and heart-failure
// onset often presents as one), elective admissions (more with cancer), lognormal lengths of
// stay, comorbidities coded at admission, and deaths in hospital (a death is preceded by a
// terminal admission with some probability; this never changes when the death happens). Labs
// (HBA1C %, CREATININE mg/dL, BNP pg/mL, SBP mmHg, BMI kg/m2) depend on the state; drugs
// (METFORMIN, LISINOPRIL, AMLODIPINE, FUROSEMIDE, TIOTROPIUM, ATORVASTATIN) follow diagnoses.
//
// Background codes (options.codes = N > 0, `clinfm synth --codes N`): N extra ICD-10-CM,
// ICD-10-PCS and ATC-like codes, Zipf-distributed and hierarchical, at every encounter (about
// 49 rows per patient), so that prep gives a vocabulary of a real hospital's size. They are
// independent of the clinical model and drawn on their own stream: with or without them the
// clinical rows and the truth file are the same bytes. See synth_background.h.
//
// Output. Per patient (subject_id 1..N): MEDS_BIRTH at birth, GENDER//F or GENDER//M with an
// empty time, then timed rows sorted by time ("YYYY-MM-DD HH:MM:SS"), MEDS_DEATH last when the
// patient dies before the end of follow-up. text_value is always empty. A path ending in .gz
// is written as gzip (level 1, one gzip member per block of patients, which every gzip reader
// reads as one stream). Both files are written to temporary files and renamed at the end.
// The same (patients, seed, codes) gives byte-identical files whatever the number of threads.
#pragma once

#include <cstdint>
#include <string>

namespace clinfm {

struct SynthOptions {
  int64_t patients = 1000;
  uint64_t seed = 1;
  std::string out;    // .csv, or .csv.gz for gzip
  int threads = 0;    // 0 = hardware threads
  int64_t codes = 0;  // background codes; 0: none (0 <= codes <= synth::kMaxBackgroundCodes)
};

struct SynthSummary {
  int64_t patients = 0, events = 0, deaths = 0, truth_rows = 0;  // events: CSV rows, header excluded
  int64_t background_events = 0;                                 // of the events, background codes
  std::string out, truth_path;
};

// Writes the cohort as MEDS CSV to options.out (.csv, or gzip when it ends in .gz) and the truth
// file beside it. Throws InputError for bad options or an output path that cannot be written.
SynthSummary write_synthetic_cohort(const SynthOptions& options);

// The truth file path for an output path: "x/cohort.csv.gz" -> "x/cohort.truth.csv".
std::string synth_truth_path(const std::string& out);

}  // namespace clinfm
