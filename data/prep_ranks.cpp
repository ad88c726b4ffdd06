#include "data/prep_ranks.h"

#include <fmt/format.h>

#include <cstring>
#include <exception>
#include <utility>

#include "common/check.h"

namespace clinfm {
namespace fs = std::filesystem;

std::string to_bytes(const nlohmann::json& j, const std::string& raw) {
  const std::vector<uint8_t> cbor = nlohmann::json::to_cbor(j);
  const uint64_t size = cbor.size();
  std::string out(reinterpret_cast<const char*>(&size), sizeof size);
  out.append(cbor.begin(), cbor.end());
  return out + raw;
}

nlohmann::json from_bytes(const std::string& bytes, std::string_view* raw) {
  uint64_t size = 0;
  CLINFM_CHECK(bytes.size() >= sizeof size, "a rank's message is shorter than its header");
  std::memcpy(&size, bytes.data(), sizeof size);
  CLINFM_CHECK(bytes.size() - sizeof size >= size, "a rank's message is cut short");
  const auto begin = bytes.begin() + sizeof size;
  if (raw) *raw = std::string_view(bytes).substr(sizeof size + size);
  return nlohmann::json::from_cbor(begin, begin + static_cast<std::ptrdiff_t>(size));
}

std::function<void(int, std::string)> GatherGuard::wrap(std::function<void(int, std::string)> receive) {
  return [this, receive = std::move(receive)](int rank, std::string bytes) {
    if (error_) return;
    try {
      receive(rank, std::move(bytes));
    } catch (...) {
      error_ = std::current_exception();
    }
  };
}

void GatherGuard::rethrow() const {
  if (error_) std::rethrow_exception(error_);
}

RankFailed::RankFailed(std::string message, int code)
    : Error(std::move(message),
            "nothing was written to the output folder; fix that error and run the command again"),
      code_(code) {}

void Phases::run(const std::function<void()>& phase) {
  std::exception_ptr error;
  try {
    phase();
  } catch (...) {
    error = std::current_exception();
  }
  if (ranks_.size == 1) {
    if (error) std::rethrow_exception(error);
    return;
  }
  // The verdict: the largest exit code of a failing rank, and the last such rank.
  int code = 0;
  if (error) {
    code = 1;
    try {
      std::rethrow_exception(error);
    } catch (const Error& e) {
      code = e.exit_code();
    } catch (...) {
    }
  }
  const int verdict = ranks_.max(error ? (code << 16) | ranks_.rank : -1);
  if (verdict < 0) return;
  if (ranks_.rank == 0 && !temp_.empty()) {
    std::error_code ec;
    fs::remove_all(temp_, ec);
  }
  ranks_.max(0);  // the folder is gone before any rank ends the job
  if (error) std::rethrow_exception(error);
  throw RankFailed(fmt::format("prep failed on rank {} (its error is in this log)", verdict & 0xFFFF),
                   verdict >> 16);
}

int partition_run_start(int rank, int ranks, int partitions) {
  return static_cast<int>(int64_t(rank) * partitions / ranks);
}

std::vector<PartitionRecord> read_partition_of_ranks(const fs::path& dir, int partition,
                                                     const std::vector<std::vector<uint32_t>>& global_code) {
  std::vector<PartitionRecord> records;
  for (size_t r = 0; r < global_code.size(); ++r) {
    const fs::path path = dir / fmt::format("rank-{:05d}", r) / fmt::format("part-{:04d}.bin", partition);
    std::vector<PartitionRecord> part = read_partition(path.string());
    for (auto& record : part) {
      if (record.kind == RecordKind::kSplit) continue;  // `code` holds the split there
      record.code = global_code[r].at(record.code);
    }
    if (records.empty()) {
      records = std::move(part);
    } else {
      records.insert(records.end(), part.begin(), part.end());
    }
  }
  return records;
}

}  // namespace clinfm
