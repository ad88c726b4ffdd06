// Background codes for `clinfm synth --codes N`: N extra diagnosis, procedure and medication
// codes with a long-tailed frequency and an ICD-like hierarchy, so that a synthetic cohort has
// the vocabulary size of a real hospital's records (MIMIC-IV has tens of thousands of codes).
// They are noise beside the clinical model: drawn on their own random stream, independent of
// the patient's state, so the clinical rows, the truth file and the eval tasks stay as they are.
// This file names the codes and draws ranks; synth_patient.cpp attaches them to encounters.
//
// Frequency. The code of rank r (1-based) has weight 1 / (r + kZipfOffset)^kZipfExponent, a
// Zipf law (s = 1, k = 20; k keeps the head from being one code). Each outpatient encounter
// gets Poisson(1.5) background events and each admission Poisson(6): 49 per patient on
// average (23 encounters and 2.4 admissions; the clinical rows are 91 per patient). Measured
// with 10,000 patients and N = 20,000: the top code is in 28% of the patients and 420 times as
// frequent as the median code (expected 477), 92% of the codes are in 3 patients or more, 75%
// in 5 or more, 39% in 10 or more: a long tail. With 20,000 patients prep keeps about 16,700
// tokens (12,400 codes, 4,400 categories that rarer codes fall back to); docs/data/format.md.
//
// Names, in turns of five ranks: three diagnoses, one procedure, one medication. A kind with
// n codes has ceil(n / 4) categories (at most the name space's), which take the ranks in turn
// (category = index mod categories), so each holds a common code and rarer ones, about four:
// a rare code that prep suppresses (data.min_patients_per_code) falls back to its category,
// which its common sibling makes frequent enough, as ICD codes do in real data. Names are fixed
// by (rank, N), the same for every seed.
//   diagnosis  ICD10CM//A00.0: category c is letter 'A' + c mod 26 (the chapter) and two digits
//              c / 26, up to 2,600 (A00-Z99); the m-th code of a category is ".m" for m < 10,
//              then ".00"-".99". Ancestors by parent_code (data/deid.h): A00.37 -> A00.3 ->
//              A00 -> ICD10CM, and A00.3 is itself a code, so every parent is meaningful.
//   procedure  ICD10PCS//0DTJ0ZZ: section 0, body system and root operation (the category,
//              e.g. ICD10PCS//0DT, up to 1,156), body part and approach, then "ZZ"; ancestors
//              drop one character down to the category, then ICD10PCS.
//   medication ATC//N02B//N02BE01: an ATC-like pharmacological subgroup (the category, up to
//              1,120) and a substance in it; ancestors drop the last "//" part: ATC//N02B, ATC.
// None of these names is a prefix of the clinical model's codes (ICD10//E11, RX//METFORMIN,
// ...), so eval task prefixes never match them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/synth/synth_random.h"

namespace clinfm::synth {

constexpr double kZipfExponent = 1.0;  // s
constexpr double kZipfOffset = 20.0;   // k

constexpr double kBackgroundPerOutpatientVisit = 1.5;  // Poisson mean
constexpr double kBackgroundPerAdmission = 6.0;        // Poisson mean

// The diagnosis name space (2,600 categories x 110 subcodes = 286,000 names) sets the limit:
// three in five codes are diagnoses, so N <= 476,666. Procedures (1.3M names) and medications
// (2.9M) have room for more.
constexpr int64_t kDiagnosisNames = 2600 * 110;
constexpr int64_t kMaxBackgroundCodes = kDiagnosisNames / 3 * 5 + kDiagnosisNames % 3;
static_assert(kMaxBackgroundCodes == 476666);

// The name of the code of 0-based rank `rank` among `codes` (0 <= rank < codes <= kMaxBackgroundCodes).
std::string background_code_name(int64_t rank, int64_t codes);

// The N codes and their cumulative weights; built once per cohort and shared, read-only, by
// every worker thread.
class BackgroundCodes {
 public:
  explicit BackgroundCodes(int64_t codes);

  int64_t size() const { return static_cast<int64_t>(names_.size()); }
  const std::string& name(int64_t rank) const { return names_[static_cast<size_t>(rank)]; }
  // A code drawn by its weight: one uniform and a binary search of the cumulative weights.
  const char* draw(Random& random) const;

 private:
  std::vector<std::string> names_;
  std::vector<double> cumulative_;  // [N] running sums of the weights; back() is the total
};

// Poisson(mean) by multiplying uniforms (Knuth): exact, and cheap for the small means here.
int poisson(double mean, Random& random);

}  // namespace clinfm::synth
