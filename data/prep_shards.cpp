#include "data/prep_shards.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/check.h"
#include "common/file_hash.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

ShardFile describe(const fs::path& dir, const std::string& split, int64_t index, int64_t patients,
                   int64_t events) {
  const fs::path path = dir / SplitShards::shard_name(index);
  return {split,
          index,
          path.filename().string(),
          patients,
          events,
          fs::file_size(path),
          file_sha256_hex(path.string())};
}

}  // namespace

std::string SplitShards::shard_name(int64_t index) { return fmt::format("shard-{:05d}.h5", index); }

std::string SplitShards::piece_name(int64_t index, int rank) {
  return fmt::format("shard-{:05d}.h5.piece-{:05d}", index, rank);
}

SplitShards::SplitShards(fs::path dir, std::string split, int64_t shard_patients,
                         ShardCompression compression, int64_t begin, int64_t end, int64_t total, int rank)
    : dir_(std::move(dir)),
      split_(std::move(split)),
      shard_patients_(shard_patients),
      compression_(compression),
      next_(begin),
      end_(end),
      total_(total),
      rank_(rank) {
  CLINFM_CHECK(shard_patients_ > 0 && begin <= end && end <= total, "bad shard run");
}

void SplitShards::open(int64_t index) {
  open_index_ = index;
  // Whole here when the shard starts with this run's next patient and ends within the run.
  const int64_t first = index * shard_patients_;
  open_is_piece_ = first < next_ || std::min(total_, first + shard_patients_) > end_;
  const std::string name = open_is_piece_ ? piece_name(index, rank_) : shard_name(index);
  writer_ = std::make_unique<ShardWriter>((dir_ / name).string(), split_, index, compression_);
}

void SplitShards::append(const PatientTimeline& patient) {
  CLINFM_CHECK(next_ < end_, "more patients than this rank's run of the split");
  const int64_t index = next_ / shard_patients_;
  if (index != open_index_) {
    close_current();
    open(index);
  }
  writer_->append(patient);
  ++next_;
}

void SplitShards::close_current() {
  if (!writer_) return;
  writer_->close();
  if (!open_is_piece_)
    files_.push_back(describe(dir_, split_, open_index_, writer_->patients(), writer_->events()));
  writer_.reset();
}

void SplitShards::close() {
  CLINFM_CHECK(next_ == end_, "fewer patients than this rank's run of the split");
  close_current();
}

std::vector<ShardFile> join_pieces(const fs::path& dir, const std::string& split, int64_t shard_patients,
                                   ShardCompression compression, const std::vector<int64_t>& starts,
                                   int rank) {
  std::vector<ShardFile> made;
  const int64_t total = starts.back(), begin = starts[size_t(rank)], end = starts[size_t(rank) + 1];
  if (begin == end) return made;
  for (int64_t index = begin / shard_patients; index * shard_patients < end; ++index) {
    const int64_t first = index * shard_patients, last = std::min(total, first + shard_patients);
    if (first < begin || last <= end) continue;  // not this rank's to join, or whole here
    ShardWriter writer((dir / SplitShards::shard_name(index)).string(), split, index, compression);
    for (size_t r = size_t(rank); r + 1 < starts.size() && starts[r] < last; ++r) {
      if (starts[r] == starts[r + 1]) continue;  // that rank wrote none of this split
      const fs::path piece = dir / SplitShards::piece_name(index, int(r));
      {
        ShardReader reader(piece.string());
        for (int64_t i = 0; i < reader.patients(); ++i) writer.append(reader.read(i));
      }
      fs::remove(piece);
    }
    writer.close();
    made.push_back(describe(dir, split, index, writer.patients(), writer.events()));
  }
  return made;
}

}  // namespace clinfm
