// How prep's passes run over several ranks (PrepRanks, data/prep.h): the agreement on failure,
// the runs of partitions each rank takes, and partitions read back as one process wrote them.
#pragma once

#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "data/partition.h"
#include "data/prep.h"

namespace clinfm {

// What the ranks exchange: JSON as CBOR (codes are bytes, not always UTF-8 text), optionally
// followed by raw bytes (the code statistics) that are not copied into the JSON.
std::string to_bytes(const nlohmann::json& j, const std::string& raw = {});
nlohmann::json from_bytes(const std::string& bytes, std::string_view* raw = nullptr);

// Wraps a gather's receiver so that an exception on rank 0 is kept, not thrown out of the
// collective (the other ranks would be left waiting): rethrow() it in the phase that follows.
class GatherGuard {
 public:
  std::function<void(int, std::string)> wrap(std::function<void(int, std::string)> receive);
  void rethrow() const;

 private:
  std::exception_ptr error_;
};

// Another rank's failure, ending this rank with that rank's exit code.
class RankFailed : public Error {
 public:
  RankFailed(std::string message, int code);
  int exit_code() const override { return code_; }

 private:
  int code_;
};

// Runs one phase of prep on every rank and agrees on its outcome: when it throws on any rank,
// every rank throws (the failing ones their own error, the others RankFailed) after rank 0 has
// removed the temporary folder, so that no rank is still writing into it and none is left
// waiting in a collective. A phase makes no collective call itself.
class Phases {
 public:
  explicit Phases(const PrepRanks& ranks) : ranks_(ranks) {}
  void set_temporary(std::filesystem::path temp) { temp_ = std::move(temp); }
  void run(const std::function<void()>& phase);

 private:
  const PrepRanks& ranks_;
  std::filesystem::path temp_;
};

// The first partition of `rank`'s contiguous run of the partitions (passes 2 and 3); rank
// `ranks` gives the end.
int partition_run_start(int rank, int ranks, int partitions);

// Partition `partition` as one process would have written it: every rank's file of it
// (DIR/rank-RRRRR/part-PPPP.bin), in rank order, with each rank's code ids mapped to the global
// table's (global_code[rank][local id]).
std::vector<PartitionRecord> read_partition_of_ranks(const std::filesystem::path& dir, int partition,
                                                     const std::vector<std::vector<uint32_t>>& global_code);

}  // namespace clinfm
