// A prepared data set folder (written by `clinfm prep`):
//   manifest.json  format, schema version, de-identification summary, splits, shard list with
//                  sizes and SHA-256, vocabulary hash
//   vocab.json     the vocabulary (data/vocab.h)
//   train/ tuning/ held_out/   shard-NNNNN.h5 files (data/shard.h)
//   audit.md, audit.json       what prep did with every source column and row
// Opening checks the format and versions and that vocab.json matches the manifest's hash;
// verify_shards() also checks the shards' sizes and SHA-256 (streamed): every command that reads
// shards calls it first (training once per run: trainer/trainer_run_folder.cpp), so that a
// damaged shard is an error naming it, never data.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/shard.h"
#include "data/vocab.h"

namespace clinfm {

inline constexpr const char* kDatasetFormat = "clinfm-dataset";
inline constexpr int kDatasetSchemaVersion = 1;

struct ShardEntry {
  std::string split;
  std::string file;  // relative to the data set folder
  int64_t patients = 0;
  int64_t events = 0;
  int64_t bytes = -1;  // -1: not in the manifest
  std::string sha256;
};

class Dataset {
 public:
  explicit Dataset(const std::string& dir);
  const std::string& dir() const { return dir_; }
  const nlohmann::json& manifest() const { return manifest_; }
  const Vocabulary& vocab() const { return vocab_; }
  const std::string& vocab_sha256() const { return vocab_sha256_; }
  const std::vector<ShardEntry>& shards() const { return shards_; }
  std::vector<ShardEntry> shards_of(const std::string& split) const;
  ShardReader open_shard(const ShardEntry& entry) const;
  // What is wrong with one shard ("missing", "N bytes, the manifest says M", "SHA-256 differs
  // from the manifest"), or empty when its bytes are the ones prep wrote.
  std::string check_shard(const ShardEntry& entry) const;
  // Checks every shard of `splits` (all shards when empty); an InputError naming each damaged one.
  void verify_shards(const std::vector<std::string>& splits = {}) const;
  // The InputError of verify_shards for `damaged` (shard file -> problem), for callers that check
  // shards in parallel.
  [[noreturn]] void throw_damaged(const std::vector<std::pair<std::string, std::string>>& damaged,
                                  size_t checked) const;

 private:
  std::string dir_;
  nlohmann::json manifest_;
  Vocabulary vocab_;
  std::string vocab_sha256_;
  std::vector<ShardEntry> shards_;
};

}  // namespace clinfm
