// Pass 1 of prep: an EventSink that pseudonymises every subject id at once (keyed hash), interns
// codes, and appends fixed-size records to one of P partition files chosen by the key. Later
// passes read one partition at a time, so prep's memory is bounded by the largest partition,
// not by the export. Raw ids are never written: only keys reach the partition files.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "data/deid.h"
#include "data/source.h"

namespace clinfm {

// kSplit: a FixedSplit the export set (its value in `code`).
enum class RecordKind : uint8_t { kEvent = 0, kBirth = 1, kStatic = 2, kSplit = 3 };

struct PartitionRecord {
  uint64_t key;
  int64_t time_s;  // seconds since 1970; unused for static records
  uint32_t code;   // interned code id (PartitionWriter::codes())
  float value;     // NaN when none
  RecordKind kind;
  uint8_t padding[3];
  uint32_t check;  // bytes 8-11 of the subject's keyed hash (SubjectHash): collisions show in pass 2
};
static_assert(sizeof(PartitionRecord) == 32, "partition records are written as raw 32-byte structs");

// Set by prep's SIGINT/SIGTERM handler; the sink checks it and stops the import.
extern std::atomic<bool> g_prep_interrupted;

// The partition file a key's records go to: a range of keys (by their top 32 bits), so that the
// partitions read in order give the patients in key order whatever their number: the data set
// does not depend on how many partitions prep used.
inline int partition_of_key(uint64_t key, int partitions) {
  return static_cast<int>(((key >> 32) * static_cast<uint64_t>(partitions)) >> 32);
}

// Prep's partition count for an input of `input_bytes` on disk: one partition per 8 MiB (at least
// 32, at most 4096, a power of two), so that a partition holds about 2M records (64 MB) or fewer
// for any export (an event takes ~5-60 bytes of compressed or plain input), and prep's passes 2
// and 3, which read one partition at a time, stay within a bounded memory.
int partitions_for_input_bytes(uint64_t input_bytes);

// Raises this process's open-file limit to at least `files` (up to the hard limit); returns the
// limit now in force.
uint64_t raise_open_file_limit(uint64_t files);

class PartitionWriter : public EventSink {
 public:
  PartitionWriter(const std::string& dir, int partitions, Salt salt);
  ~PartitionWriter() override;
  void add_birth(std::string_view subject_id, int64_t time_s) override;
  void add_event(std::string_view subject_id, int64_t time_s, std::string_view code, double value) override;
  void add_static(std::string_view subject_id, std::string_view code) override;
  void set_split(std::string_view subject_id, FixedSplit split) override;
  void finish();
  // Called with the number of records so far, every 65,536 records (progress display).
  void set_progress(std::function<void(int64_t)> callback) { progress_ = std::move(callback); }

  int partitions() const { return static_cast<int>(paths_.size()); }
  const std::string& partition_path(int i) const { return paths_.at(static_cast<size_t>(i)); }
  const std::vector<std::string>& codes() const { return codes_; }
  int64_t records() const { return records_; }
  // Tests only: keys from `key` instead of the keyed hash, to force a collision of two ids.
  void set_key_function_for_tests(std::function<uint64_t(std::string_view)> key) {
    test_key_ = std::move(key);
  }

 private:
  const SubjectHash& hash_of(std::string_view subject_id);
  uint32_t intern(std::string_view code);
  void put(const SubjectHash& subject, int64_t time_s, uint32_t code, float value, RecordKind kind);
  void flush(size_t partition);

  Salt salt_;
  std::vector<std::string> paths_;
  std::vector<FILE*> files_;
  std::vector<std::vector<PartitionRecord>> buffers_;
  size_t buffer_records_ = 0;  // records a partition buffers before a write: 32 MB in all
  // The keyed hashes of recently seen ids (memory only, never written), so that an export that
  // is not grouped by subject (MIMIC-IV's tables) does not pay an HMAC per row. Bounded: a
  // direct-mapped table of kHashCacheSlots ids, whatever the number of patients. A 64-bit key
  // collision (probability ~n^2/2^65) is found in pass 2 from the records' check bytes
  // (group_timelines), so no set of all keys or ids is kept either.
  struct HashSlot {
    std::string id;
    SubjectHash hash;
  };
  std::vector<HashSlot> hash_cache_;
  std::function<uint64_t(std::string_view)> test_key_;
  std::deque<std::string> code_storage_;                     // stable addresses for the views below
  std::unordered_map<std::string_view, uint32_t> code_ids_;  // lookups without allocating
  std::vector<std::string> codes_;
  int64_t records_ = 0;
  std::function<void(int64_t)> progress_;
};

std::vector<PartitionRecord> read_partition(const std::string& path);

}  // namespace clinfm
