// One shard file of a data set: patients in CSR form. Layout (schema version 1; documented in
// docs/data/format.md and readable with h5py):
//   /                      attrs: format="clinfm-shard", schema_version, split, shard_index,
//                                 n_patients, n_events
//   /patients/key          [P]   16-byte strings: pseudonymous subject keys (hex)
//   /patients/sex          [P]   int8: 0 unknown, 1 female, 2 male
//   /patients/offsets      [P+1] int64: events of patient i are [offsets[i], offsets[i+1])
//   /events/token          [E]   int32 vocabulary ids
//   /events/age_days       [E]   float64 age at the event, in days since birth
//   /events/value          [E]   float32 numeric value, NaN when none
//   /events/value_bin      [E]   uint8: 0 no value, 1..B quantile bin of the value
// One patient's events are one contiguous hyperslab of each /events dataset.
// Reads are serialised by a process-wide mutex: Debian's HDF5 is not built thread-safe, and
// the prefetch thread and evaluation may read at the same time.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "data/h5_util.h"

namespace clinfm {

inline constexpr int kShardSchemaVersion = 1;

// Guards every HDF5 call of shard reading (see above).
std::mutex& hdf5_mutex();
inline constexpr const char* kShardFormat = "clinfm-shard";

enum class Sex : int8_t { kUnknown = 0, kFemale = 1, kMale = 2 };

struct PatientTimeline {
  uint64_t key = 0;
  Sex sex = Sex::kUnknown;
  std::vector<int32_t> tokens;      // [T]
  std::vector<double> age_days;     // [T], non-decreasing
  std::vector<float> values;        // [T], NaN when none
  std::vector<uint8_t> value_bins;  // [T]
  size_t size() const { return tokens.size(); }
};

// Which event columns are shuffle+deflate compressed (data.shard_compression). Deflating the
// float columns (ages, values) saves ~45% of the data set and costs ~1.7x prep time.
enum class ShardCompression { kIntegers, kAll, kNone };
// "integers" | "all" | "none"; InputError otherwise.
ShardCompression parse_shard_compression(const std::string& name);

class ShardWriter {
 public:
  ShardWriter(const std::string& path, const std::string& split, int64_t shard_index,
              ShardCompression compression = ShardCompression::kIntegers);
  ~ShardWriter();
  void append(const PatientTimeline& patient);
  // Writes the patient arrays and attributes and closes the file.
  void close();
  int64_t patients() const { return static_cast<int64_t>(sexes_.size()); }
  int64_t events() const { return events_written_ + static_cast<int64_t>(tokens_.size()); }
  const std::string& path() const { return path_; }

 private:
  void flush_events();
  std::string path_;
  h5::Id file_, token_set_, age_set_, value_set_, bin_set_;
  hsize_t stored_ = 0;
  int64_t events_written_ = 0;
  std::vector<int32_t> tokens_;
  std::vector<double> ages_;
  std::vector<float> values_;
  std::vector<uint8_t> bins_;
  std::vector<char> keys_;  // 16 bytes per patient
  std::vector<int8_t> sexes_;
  std::vector<int64_t> offsets_{0};
  bool closed_ = false;
};

class ShardReader {
 public:
  // Opens and validates a shard; InputError naming the file on a wrong format or version.
  explicit ShardReader(const std::string& path);
  ~ShardReader();
  ShardReader(ShardReader&&) = default;
  const std::string& path() const { return path_; }
  const std::string& split() const { return split_; }
  int64_t patients() const { return static_cast<int64_t>(keys_.size()); }
  int64_t events() const { return offsets_.back(); }
  uint64_t key(int64_t i) const { return keys_.at(static_cast<size_t>(i)); }
  Sex sex(int64_t i) const { return static_cast<Sex>(sexes_.at(static_cast<size_t>(i))); }
  int64_t length(int64_t i) const { return offsets_.at(size_t(i) + 1) - offsets_.at(size_t(i)); }
  PatientTimeline read(int64_t i) const;
  // Events [start, start + count) of patient i only (one hyperslab per array).
  PatientTimeline read_window(int64_t i, int64_t start, int64_t count) const;
  // Reads only the tokens of patient i (cheap statistics).
  std::vector<int32_t> read_tokens(int64_t i) const;
  // Every event's value bin (for coverage statistics).
  std::vector<uint8_t> read_all_value_bins() const;

 private:
  std::string path_, split_;
  h5::Id file_, token_set_, age_set_, value_set_, bin_set_;
  std::vector<uint64_t> keys_;
  std::vector<int8_t> sexes_;
  std::vector<int64_t> offsets_;
};

}  // namespace clinfm
