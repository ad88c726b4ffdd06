// Pass 3 of prep: the shard files of one split, placed by the patients' global positions, so that
// ranks that each write a contiguous run of a split's patients (in key order) give the same files
// as one process: shard k holds the split's patients [k * S, (k + 1) * S). A rank writes the
// shards that lie inside its run itself; a shard that straddles two or more ranks' runs is
// written in pieces (one per rank, beside it) and joined afterwards by the rank that holds its
// first patient (join_pieces), appending the same patients in the same order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/shard.h"

namespace clinfm {

struct ShardFile {
  std::string split;
  int64_t index = 0;
  std::string name;  // shard-XXXXX.h5
  int64_t patients = 0, events = 0;
  uint64_t bytes = 0;
  std::string sha256;
};

class SplitShards {
 public:
  // This rank writes the split's patients [begin, end) of `total`; `rank` names its pieces.
  SplitShards(std::filesystem::path dir, std::string split, int64_t shard_patients,
              ShardCompression compression, int64_t begin, int64_t end, int64_t total, int rank);
  void append(const PatientTimeline& patient);
  // Closes the open file; the whole shards written get their size and SHA-256.
  void close();
  // Whole shards this rank wrote (pieces are not listed).
  const std::vector<ShardFile>& files() const { return files_; }

  static std::string shard_name(int64_t index);
  static std::string piece_name(int64_t index, int rank);

 private:
  void open(int64_t index);
  void close_current();

  std::filesystem::path dir_;
  std::string split_;
  int64_t shard_patients_;
  ShardCompression compression_;
  int64_t next_, end_, total_;
  int rank_;
  int64_t open_index_ = -1;
  bool open_is_piece_ = false;
  std::unique_ptr<ShardWriter> writer_;
  std::vector<ShardFile> files_;
};

// The split's patient runs of every rank: rank r writes [starts[r], starts[r + 1]). For each
// shard that straddles runs and whose first patient is in `rank`'s run, joins the pieces of the
// ranks it spans into the shard file (in rank order), removes them, and returns the shards made.
std::vector<ShardFile> join_pieces(const std::filesystem::path& dir, const std::string& split,
                                   int64_t shard_patients, ShardCompression compression,
                                   const std::vector<int64_t>& starts, int rank);

}  // namespace clinfm
