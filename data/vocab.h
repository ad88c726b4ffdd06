// The vocabulary of a data set: special tokens, one token per code kept after small-cell
// suppression, parent tokens that suppressed codes fall back to, train-split counts, and
// per-token numeric value bins (quantiles fitted on the training split only).
// Built once by prep from CodeStats; saved as vocab.json beside the shards.
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/deid.h"

namespace clinfm {

inline constexpr int32_t kPadToken = 0;
inline constexpr int32_t kUnkToken = 1;
inline constexpr int kVocabSchemaVersion = 1;

// What prep learns about codes from the training split. Codes are interned once (id()), so
// prep's hot loop counts by integer id; the string calls are for tests and small inputs.
class CodeStats {
 public:
  CodeStats() = default;
  // Ancestors from `hierarchy` (an export's stated parents) instead of parent_code's rule alone.
  explicit CodeStats(CodeHierarchy hierarchy) : hierarchy_(std::move(hierarchy)) {}
  const CodeHierarchy& hierarchy() const { return hierarchy_; }
  // The id of a code (interned on first sight, with its ancestors; see parent_code).
  uint32_t id(std::string_view code);
  // One training patient's codes (duplicates allowed): counts distinct patients per code and
  // per ancestor code, events per code.
  void add_patient(const std::vector<std::string_view>& codes);
  void add_patient_ids(const std::vector<uint32_t>& ids);
  // A numeric value of a training event, kept in a bounded sample per code: the values of the
  // kValueSampleSize smallest `priority`s (ties by the value's bits), so that the sample depends
  // only on which (priority, value) pairs were offered, never on their order, and samples taken
  // on several ranks merge into exactly the one a single pass takes (prep: a hash of the
  // patient's key and the event's place in the timeline). add_value draws the priority from the
  // code's own sequence (tests and small inputs).
  void add_value(std::string_view code, float value);
  void add_value_id(uint32_t id, float value, uint64_t priority);

  // The counts and samples as bytes, and their merge into these (prep on several ranks). Both
  // sides must have interned the same codes in the same order (the same global code table and
  // hierarchy): InputError otherwise.
  std::string serialize() const;
  void merge_serialized(std::string_view bytes);

  int64_t patients_with(std::string_view code) const;
  int64_t events_of(std::string_view code) const;
  // The value sample of a code; nullptr when it has none.
  const std::vector<float>* value_sample(std::string_view code) const;

 private:
  // A max-heap on (priority, value bits) of at most kValueSampleSize entries.
  struct Sample {
    std::vector<uint64_t> priority;
    std::vector<float> value;
    void offer(uint64_t p, float v);
  };
  int64_t find(std::string_view code) const;  // id or -1

  CodeHierarchy hierarchy_;
  std::deque<std::string> names_;                       // by id; stable addresses for ids_
  std::unordered_map<std::string_view, uint32_t> ids_;  // code -> id
  std::vector<std::vector<uint32_t>> chain_;            // by id: the id, then its ancestors' ids
  std::vector<int64_t> patients_;                       // codes and ancestors
  std::vector<int64_t> events_;                         // codes only
  std::vector<Sample> values_;
  std::vector<uint64_t> value_sequence_;  // by id: add_value's priority state
  std::vector<uint64_t> last_patient_;    // by id: the patient that last counted it
  uint64_t patient_serial_ = 0;
};

struct Token {
  std::string code;
  std::string origin;  // "special", "code", or "parent" (exists only as a fallback)
  int64_t train_patients = 0;
  int64_t train_events = 0;
  std::vector<float> value_edges;  // ascending; bin b in 1..edges+1; empty: no values seen
};

class Vocabulary {
 public:
  // Keeps codes seen in >= min_patients distinct training patients; a rarer code maps to its
  // nearest ancestor that is frequent enough, else to <unk>. Codes seen in any split get a
  // mapping; codes never seen in training resolve through their parents the same way.
  static Vocabulary build(const CodeStats& stats, const std::vector<std::string>& all_codes,
                          int64_t min_patients, int value_bins);

  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  const Token& token(int32_t id) const { return tokens_.at(static_cast<size_t>(id)); }
  // Token of a code as prep maps it (suppression applied); <unk> when nothing fits.
  int32_t map_code(std::string_view code) const;
  // Token whose own code is `code`, or -1.
  int32_t find(std::string_view code) const;
  // 0 when the value is NaN or the token has no bins; else 1..number of bins.
  uint8_t value_bin(int32_t token, float value) const;
  int max_value_bins() const { return max_bins_; }

  nlohmann::json to_json() const;
  static Vocabulary from_json(const nlohmann::json& json, const std::string& path);

 private:
  std::vector<Token> tokens_;
  std::unordered_map<std::string, int32_t> index_;    // token code -> id
  std::unordered_map<std::string, int32_t> mapping_;  // every source code seen -> id
  CodeHierarchy hierarchy_;                           // map_code's walk for codes never seen
  int max_bins_ = 0;
};

}  // namespace clinfm
