// A prepared data set folder (written by `clinfm prep`):
//   manifest.json  format, schema version, de-identification summary, splits, shard list with
//                  sizes and SHA-256, vocabulary hash
//   vocab.json     the vocabulary (data/vocab.h)
//   train/ tuning/ held_out/   shard-NNNNN.h5 files (data/shard.h)
//   audit.md, audit.json       what prep did with every source column and row
// Opening checks the format and versions and that vocab.json matches the manifest's hash;
// verify_shards() also checks every shard's SHA-256.
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
  // Recomputes every shard's SHA-256; InputError naming the first that differs.
  void verify_shards() const;

 private:
  std::string dir_;
  nlohmann::json manifest_;
  Vocabulary vocab_;
  std::string vocab_sha256_;
  std::vector<ShardEntry> shards_;
};

}  // namespace clinfm
