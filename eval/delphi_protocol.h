// Delphi-2M's AUC protocol (gerstung-lab/Delphi evaluate_auc.py, read and re-written; details and
// differences in docs/delphi.md), in plain C++: which diseases, cases and controls, where each is
// predicted from, DeLong AUCs and their aggregation. The model's scores arrive as a matrix.
//   diseases   codes <prefix><ICD-10> of chapters I-XVII (letters A-Q) and the death code, with at
//              least min_occurrences training events
//   case       a patient's first event of disease d, predicted from the last event of its timeline
//              whose age is < event age - offset_days (none: not a case)
//   control    a patient who never has d: every event after the first is a candidate target,
//              predicted the same way; one candidate per patient and age bracket, drawn with the
//              protocol's seed (one draw per patient and bracket, shared by every disease)
//   stratum    sex x age bracket of the prediction point's age; >= 2 cases and >= 2 controls
//   AUC        DeLong (midranks, ties 1/2) and its variance per stratum; per disease the unweighted
//              mean over strata, variance sum(var) / n^2; mean over diseases and per chapter, with
//              variance sum(var_d) / D^2 (diseases taken as independent)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/shard.h"
#include "eval/logistic.h"
#include "eval/suite.h"

namespace clinfm {

// "I. Infectious" ... "XVII. Congenital", or "Death", from the code after the prefix ("E11",
// "C50_...", "CXX_Unknown_Cancer"); "" when the code is not one Delphi scores.
std::string delphi_chapter(const std::string& code, const DelphiSpec& spec);

struct DelphiDisease {
  int32_t token = 0;
  std::string code, chapter;
  int64_t train_events = 0;
};

// The diseases the protocol scores, in token order.
std::vector<DelphiDisease> delphi_diseases(const Vocabulary& vocab, const DelphiSpec& spec);

// A prediction point: the model reads patient `patient`'s events [0, position] (inclusive).
struct DelphiPoint {
  int32_t patient = 0;
  int32_t position = 0;
  double age_days = 0;
};

struct DelphiCase {
  int32_t point = 0;    // index into DelphiPlan::points
  int32_t stratum = 0;  // sex x bracket: sex_index * brackets + bracket
};

// Where every case and control of one split is predicted from.
struct DelphiPlan {
  int64_t brackets = 0;
  std::vector<DelphiPoint> points;             // unique (patient, position)
  std::vector<std::vector<DelphiCase>> cases;  // [disease] at most one per patient
  std::vector<DelphiCase> controls;            // one per patient and stratum; all diseases
  std::vector<int32_t> control_patient;        // [controls] patient of each
  std::vector<std::vector<char>> patient_has;  // [disease][patient]: ever has it (never a control)
  int64_t patients_without_sex = 0;            // skipped
};

// Sex index 0 female, 1 male; patients of unknown sex are skipped (counted).
DelphiPlan plan_delphi(const std::vector<PatientTimeline>& patients,
                       const std::vector<DelphiDisease>& diseases, const DelphiSpec& spec);

struct DelongAuc {
  double auc = 0, variance = 0;
};
// DeLong's AUC and variance with midranks (Sun & Xu's fast algorithm, as Delphi's fastDeLong).
DelongAuc delong_auc(const std::vector<double>& cases, const std::vector<double>& controls);

struct DelphiStratum {
  int32_t sex = 0;  // 0 female, 1 male
  double age_lo = 0, age_hi = 0;
  int64_t cases = 0, controls = 0;
  DelongAuc auc;
};

struct DelphiDiseaseResult {
  DelphiDisease disease;
  int64_t cases = 0;                  // held-out cases at a prediction point in some bracket
  std::vector<DelphiStratum> strata;  // those with >= 2 cases and >= 2 controls
  double auc = 0, variance = 0;       // mean over strata; NaN when none
};

struct DelphiSummary {
  std::string name;  // "all", a chapter
  int64_t diseases = 0;
  double mean_auc = 0, lo = 0, hi = 0;  // 95% interval of the mean
};

struct DelphiMethodResult {
  std::string method;  // model | age_sex_baseline | count_baseline
  std::vector<DelphiDiseaseResult> diseases;
  std::vector<DelphiSummary> summaries;  // "all" first, then chapters in order
};

// Scores [points, diseases] (row-major) of `plan` -> per-disease and summary AUCs.
DelphiMethodResult score_delphi(const std::string& method, const DelphiPlan& plan,
                                const std::vector<DelphiDisease>& diseases, const std::vector<float>& scores,
                                const DelphiSpec& spec);

// Age-and-sex baseline: log incidence of each disease per sex and year of age on `train`
// (first events over person-years at risk, +0.5 / +1 smoothing), evaluated at `plan`'s points.
std::vector<float> age_sex_scores(const std::vector<PatientTimeline>& train,
                                  const std::vector<PatientTimeline>& held_out, const DelphiPlan& plan,
                                  const std::vector<DelphiDisease>& diseases);

// Count baseline: per disease an L2 logistic regression (l2 = 1 on standardised features) on
// history token counts and age (count_features.h) at the train split's cases and up to
// count_baseline_controls of its controls, scored at `plan`'s points.
std::vector<float> count_baseline_scores(const std::vector<PatientTimeline>& train,
                                         const DelphiPlan& train_plan,
                                         const std::vector<PatientTimeline>& held_out, const DelphiPlan& plan,
                                         const std::vector<DelphiDisease>& diseases, int32_t vocab_size,
                                         const DelphiSpec& spec);

// Calibration of 1-year risks: at every control point of a patient without the disease before it,
// predicted risk 1 - exp(-rate * years) against whether the disease follows within `years`,
// pooled over diseases, in quantile bins of the predicted risk.
struct DelphiCalibrationBin {
  double predicted = 0, observed = 0;
  int64_t n = 0;
};
std::vector<DelphiCalibrationBin> delphi_calibration(const std::vector<PatientTimeline>& patients,
                                                     const DelphiPlan& plan,
                                                     const std::vector<DelphiDisease>& diseases,
                                                     const std::vector<float>& log_rates, double years,
                                                     int bins = 20);

// Everything the protocol found, for results.json and the reports (eval/report_delphi.cpp).
struct DelphiResult {
  std::vector<DelphiDisease> diseases;
  std::vector<DelphiMethodResult> methods;  // model first, then the baselines
  std::vector<DelphiCalibrationBin> calibration;
  int64_t patients = 0, patients_without_sex = 0, prediction_points = 0, context_events = 0;
  double model_seconds = 0;
  DelphiSpec spec;
};

}  // namespace clinfm
