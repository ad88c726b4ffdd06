// De-identification primitives: the secret salt, keyed-hash subject pseudonyms, the
// patient-level split drawn from the pseudonym, and the code hierarchy used for small-cell
// suppression. The raw subject id goes into subject_key() and nowhere else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace clinfm {

struct Salt {
  std::string bytes;  // secret: never written outside the salt file
  std::string id;     // first 16 hex digits of SHA-256(bytes): names the salt in manifests
};

// Reads the salt file; creates it with 32 random bytes and mode 0600 when missing (and its
// folder with 0700). `~/` is expanded. Throws InputError when it exists but is empty or
// unreadable, or when it lies inside `forbidden_dir` (the data set being written).
Salt load_or_create_salt(const std::string& path, const std::string& forbidden_dir);
std::string expand_home(const std::string& path);

// HMAC-SHA256(salt, raw id), first 8 bytes big-endian. Same salt and id, same key.
uint64_t subject_key(const Salt& salt, std::string_view raw_subject_id);
// The key and the next 4 bytes of the same keyed hash: prep keeps the check beside every record,
// so two ids that share a key (a 64-bit collision) are told apart later without keeping raw ids.
struct SubjectHash {
  uint64_t key = 0;
  uint32_t check = 0;
};
SubjectHash subject_hash(const Salt& salt, std::string_view raw_subject_id);
// 16 lower-case hex digits: the pseudonymous key shown to users and stored in shards.
std::string subject_key_hex(uint64_t key);
bool parse_subject_key_hex(std::string_view text, uint64_t* key);

enum class Split { kTrain = 0, kTuning = 1, kHeldOut = 2 };
const char* split_name(Split split);
// A uniform number drawn from the key decides the split; so the split of a patient depends
// only on the salt and the raw id, not on the order of the export or the shard count.
Split assign_split(uint64_t key, double tuning_fraction, double held_out_fraction);

// One SplitMix64 step from `z`: a well-mixed 64-bit value (splits, sample priorities, seeds).
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The coarser parent of a code for suppression, or nothing at the top:
//   ICD codes lose a character down to 3 (ICD10CM//I2510 -> ICD10CM//I251 -> ICD10CM//I25),
//   then drop the code (ICD10CM); other codes drop their last "//" part
//   (LAB//51087//UNK -> LAB//51087 -> LAB).
std::optional<std::string> parent_code(std::string_view code);

// The parents suppression walks: those an export states (MEDS metadata/codes.parquet's
// parent_codes, the first of them) before the rule of parent_code for the codes it does not name.
class CodeHierarchy {
 public:
  // InputError (naming `source`) when the parent is the code itself or closes a cycle.
  void set_parent(const std::string& code, const std::string& parent, const std::string& source);
  std::optional<std::string> parent(std::string_view code) const;
  size_t stated_parents() const { return parents_.size(); }
  // Every stated (code, parent), sorted by code (prep on several ranks sends them to the others).
  std::vector<std::pair<std::string, std::string>> stated() const;
  // Adds stated parents all at once, then refuses a cycle (InputError naming `source`): unlike
  // set_parent one by one, the order of `parents` does not matter.
  void set_parents(const std::vector<std::pair<std::string, std::string>>& parents,
                   const std::string& source);

 private:
  std::unordered_map<std::string, std::string> parents_;
};

}  // namespace clinfm
