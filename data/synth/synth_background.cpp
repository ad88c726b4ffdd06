// Names, weights and draws of the background codes; see synth_background.h for the design and
// the numbers. Names are built once per cohort, so a draw is one uniform and a binary search.
#include "data/synth/synth_background.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace clinfm::synth {
namespace {

constexpr int64_t kDiagnosisCategories = 2600;  // A00-Z99
constexpr int64_t kDiagnosisSubcodes = 110;     // .0-.9, then .00-.99
// ICD-10-PCS characters: digits and letters without I and O.
constexpr char kPcsAlphabet[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
constexpr int64_t kPcsCharacters = 34;
constexpr int64_t kProcedureCategories = kPcsCharacters * kPcsCharacters;  // body system x operation
constexpr char kAtcAnatomicalGroups[] = "ABCDGHJLMNPRSV";
constexpr int64_t kAtcAnatomicalCount = 14;
constexpr int64_t kMedicationGroups = kAtcAnatomicalCount * 20 * 4;  // e.g. N02B: group, 01-20, A-D
constexpr int64_t kCodesPerCategory = 4;

static_assert(kDiagnosisCategories * kDiagnosisSubcodes == kDiagnosisNames);
// Procedures and medications are a fifth of the codes each; their name spaces hold that many.
static_assert(kProcedureCategories * kPcsCharacters * kPcsCharacters >= kMaxBackgroundCodes / 5 + 1);
static_assert(kMedicationGroups * 26 * 99 >= kMaxBackgroundCodes / 5);

// ceil(count / 4) categories, at least 1, at most the name space's.
int64_t categories_for(int64_t count, int64_t most) {
  return std::clamp<int64_t>((count + kCodesPerCategory - 1) / kCodesPerCategory, 1, most);
}

std::string diagnosis_name(int64_t index, int64_t categories) {
  const int64_t category = index % categories, subcode = index / categories;
  const char chapter = static_cast<char>('A' + category % 26);
  if (subcode < 10) return fmt::format("ICD10CM//{}{:02d}.{}", chapter, category / 26, subcode);
  return fmt::format("ICD10CM//{}{:02d}.{:02d}", chapter, category / 26, subcode - 10);
}

std::string procedure_name(int64_t index, int64_t categories) {
  const int64_t category = index % categories, detail = index / categories;
  std::string name = "ICD10PCS//0";                                // section 0: medical and surgical
  name += kPcsAlphabet[category % kPcsCharacters];                 // body system
  name += kPcsAlphabet[category / kPcsCharacters];                 // root operation
  name += kPcsAlphabet[detail % kPcsCharacters];                   // body part
  name += kPcsAlphabet[detail / kPcsCharacters % kPcsCharacters];  // approach
  name += "ZZ";                                                    // no device, no qualifier
  return name;
}

std::string medication_name(int64_t index, int64_t categories) {
  const int64_t group = index % categories, substance = index / categories;
  const char anatomical = kAtcAnatomicalGroups[group % kAtcAnatomicalCount];
  const int64_t therapeutic = group / kAtcAnatomicalCount % 20 + 1;
  const char pharmacological = static_cast<char>('A' + group / (kAtcAnatomicalCount * 20));
  const std::string subgroup = fmt::format("{}{:02d}{}", anatomical, therapeutic, pharmacological);
  return fmt::format("ATC//{}//{}{}{:02d}", subgroup, subgroup, static_cast<char>('A' + substance / 99 % 26),
                     substance % 99 + 1);
}

}  // namespace

std::string background_code_name(int64_t rank, int64_t codes) {
  CLINFM_CHECK(rank >= 0 && rank < codes && codes <= kMaxBackgroundCodes,
               "background code rank {} of {} out of range", rank, codes);
  // Ranks come in turns of five: diagnosis, diagnosis, diagnosis, procedure, medication.
  const int64_t turns = codes / 5, left = codes % 5;
  const int64_t turn = rank / 5, slot = rank % 5;
  if (slot < 3) {
    const int64_t diagnoses = 3 * turns + std::min<int64_t>(left, 3);
    return diagnosis_name(3 * turn + slot, categories_for(diagnoses, kDiagnosisCategories));
  }
  if (slot == 3) {
    const int64_t procedures = turns + (left == 4 ? 1 : 0);
    return procedure_name(turn, categories_for(procedures, kProcedureCategories));
  }
  return medication_name(turn, categories_for(turns, kMedicationGroups));
}

BackgroundCodes::BackgroundCodes(int64_t codes) {
  names_.reserve(static_cast<size_t>(codes));
  cumulative_.reserve(static_cast<size_t>(codes));
  double total = 0.0;
  for (int64_t rank = 0; rank < codes; ++rank) {
    names_.push_back(background_code_name(rank, codes));
    total += std::pow(static_cast<double>(rank + 1) + kZipfOffset, -kZipfExponent);
    cumulative_.push_back(total);
  }
}

const char* BackgroundCodes::draw(Random& random) const {
  const double target = random.uniform() * cumulative_.back();
  const auto at = std::upper_bound(cumulative_.begin(), cumulative_.end(), target) - cumulative_.begin();
  // target < total in exact arithmetic; the clamp covers a product rounded up to the total.
  return names_[static_cast<size_t>(std::min<int64_t>(at, size() - 1))].c_str();
}

int poisson(double mean, Random& random) {
  const double limit = std::exp(-mean);
  int count = 0;
  for (double product = random.uniform(); product > limit; product *= random.uniform()) ++count;
  return count;
}

}  // namespace clinfm::synth
