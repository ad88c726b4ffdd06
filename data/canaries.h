// Canaries for the privacy audit of a trained model (docs/privacy.md; Carlini et al. 2019, "The
// Secret Sharer"). Prep inserts N synthetic patients into the training split: each starts as a
// real training patient starts (birth and the statics recorded at birth, copied from a sampled
// patient: the template) and goes on with `events` codes drawn uniformly from the vocabulary's
// code tokens at random ages: its secret. M reference canaries are drawn the same way and never
// written. Every secret is unique. A model that memorised a canary scores it above the
// references; `clinfm eval` measures how far (exposure).
//
// The draw is seeded by the secret salt (HMAC), so the same salt, export and settings give the
// same canaries, and nobody without the salt can reproduce them. Canary keys are random, fall in
// the training split by the same rule as real keys (assign_split) and never equal a real key, so
// nothing in the data set tells a canary from a patient. Which patients they are lives only in
// the canary file (mode 0600, outside the data set): never in the manifest or a log.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "data/deid.h"
#include "data/shard.h"
#include "data/vocab.h"

namespace clinfm {

struct Canary {
  Sex sex = Sex::kUnknown;
  std::vector<int32_t> tokens;   // the template's tokens, then the secret events'
  std::vector<double> age_days;  // [tokens]
  int64_t secret_begin = 0;      // index of the first secret event
  std::vector<uint64_t> keys;    // inserted: the keys of its copies in the data set; reference: none
  // The canary as a data set patient: values none (NaN, bin 0).
  PatientTimeline timeline(uint64_t key) const;
};

struct CanarySet {
  std::string salt_id;       // the salt that drew them (and keyed the data set)
  std::string vocab_sha256;  // of the data set's vocab.json: token ids mean these tokens
  int64_t copies = 1, events = 0;
  std::vector<Canary> inserted, reference;
  nlohmann::json to_json() const;
};

// Reads a canary file; InputError naming the file and what is wrong.
CanarySet read_canary_file(const std::string& path);
// Writes it atomically with mode 0600 (the folder is created with 0700 when missing).
void write_canary_file(const CanarySet& canaries, const std::string& path);
// data.canary_file when set, else <salt folder>/<data set folder name>.canaries.json.
std::string default_canary_file(const std::string& salt_file, const std::string& dataset_dir);

struct CanaryTemplate {
  Sex sex = Sex::kUnknown;
  std::vector<uint32_t> codes;  // interned code ids of the events at the birth age
};

struct CanaryCounts {
  int64_t inserted = 0, copies = 1, events = 16, reference = 1000;
};

class CanaryDrawer {
 public:
  CanaryDrawer(const Salt& salt, const CanaryCounts& counts, double split_tuning, double split_held_out,
               int partitions);
  // Pass 2: every training patient's start is offered; the kTemplates whose keys hash (seeded by
  // the salt) lowest are kept: a uniform sample that does not depend on the order of the offers,
  // so the samples of several ranks merge into the one a single pass keeps.
  void offer_template(uint64_t key, Sex sex, std::vector<uint32_t> codes);
  // The kept templates as bytes, and their merge into these (prep on several ranks).
  std::string serialize_templates() const;
  void merge_templates(std::string_view bytes);
  // After the vocabulary: draws the canaries and their keys. `token_of` maps interned code ids to
  // tokens. InputError when the vocabulary cannot give that many distinct secrets or no
  // training patient was seen.
  void draw(const Vocabulary& vocab, const std::vector<int32_t>& token_of, double max_age_years,
            const std::string& salt_id, const std::string& vocab_sha256);
  // Canary patients whose keys fall in `partition` (what partition_patients returns there).
  int64_t partition_count(int partition) const;
  // Pass 3: the canary patients of partition `partition`, sorted by key, given the keys of the
  // real patients there (a canary key equal to one is drawn again, in the same partition, from a
  // sequence seeded by the salt and the old key: the same on any rank).
  std::vector<PatientTimeline> partition_patients(int partition,
                                                  const std::unordered_set<uint64_t>& real_keys);
  // The keys partition_patients drew again (old, new), and their record on another rank's
  // drawer (prep on several ranks: rank 0 writes the canary file).
  const std::vector<std::pair<uint64_t, uint64_t>>& redrawn_keys() const { return redrawn_; }
  void apply_redrawn_keys(const std::vector<std::pair<uint64_t, uint64_t>>& redrawn);
  const CanarySet& canaries() const { return set_; }
  int64_t events_written() const;

 private:
  uint64_t draw_key(int partition, std::mt19937_64& rng) const;

  CanaryCounts counts_;
  double split_tuning_, split_held_out_;
  int partitions_;
  std::mt19937_64 rng_;
  uint64_t template_seed_ = 0;
  struct Kept {
    uint64_t priority, key;
    CanaryTemplate t;
  };
  static void keep_lowest(std::vector<Kept>& templates);
  std::vector<Kept> templates_;
  CanarySet set_;
  std::vector<std::pair<uint64_t, uint64_t>> redrawn_;
};

}  // namespace clinfm
