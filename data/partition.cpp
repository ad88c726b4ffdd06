#include "data/partition.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>

#include "common/check.h"
#include "common/error.h"

namespace clinfm {

std::atomic<bool> g_prep_interrupted{false};

namespace {
constexpr size_t kBufferBytes = size_t(32) << 20;    // all partitions' write buffers together
constexpr size_t kHashCacheSlots = size_t(1) << 16;  // a power of two
}  // namespace

PartitionWriter::PartitionWriter(const std::string& dir, int partitions, Salt salt)
    : salt_(std::move(salt)), hash_cache_(kHashCacheSlots) {
  CLINFM_CHECK(partitions >= 1, "need at least one partition");
  buffer_records_ =
      std::clamp(kBufferBytes / sizeof(PartitionRecord) / size_t(partitions), size_t(256), size_t(4096));
  for (int i = 0; i < partitions; ++i) {
    paths_.push_back(fmt::format("{}/part-{:04d}.bin", dir, i));
    FILE* file = std::fopen(paths_.back().c_str(), "wb");
    IO_CHECK(file != nullptr, paths_.back(), "create the partition file");
    files_.push_back(file);
    buffers_.emplace_back();
    buffers_.back().reserve(buffer_records_);
  }
}

PartitionWriter::~PartitionWriter() {
  for (FILE* f : files_)
    if (f) std::fclose(f);
}

const SubjectHash& PartitionWriter::hash_of(std::string_view subject_id) {
  HashSlot& slot = hash_cache_[std::hash<std::string_view>{}(subject_id) & (kHashCacheSlots - 1)];
  if (slot.id != subject_id || slot.id.empty()) {
    slot.id.assign(subject_id);
    slot.hash = subject_hash(salt_, subject_id);
    if (test_key_) slot.hash.key = test_key_(subject_id);
  }
  return slot.hash;
}

uint32_t PartitionWriter::intern(std::string_view code) {
  const auto it = code_ids_.find(code);
  if (it != code_ids_.end()) return it->second;
  const uint32_t id = static_cast<uint32_t>(codes_.size());
  codes_.emplace_back(code);
  code_ids_.emplace(code_storage_.emplace_back(code), id);
  return id;
}

void PartitionWriter::put(const SubjectHash& subject, int64_t time_s, uint32_t code, float value,
                          RecordKind kind) {
  const uint64_t key = subject.key;
  if ((++records_ & 0xFFFF) == 0) {
    if (g_prep_interrupted.load(std::memory_order_relaxed)) {
      throw Error("prep was interrupted", "nothing was written to the output folder; run the command again");
    }
    if (progress_) progress_(records_);
  }
  const size_t partition = static_cast<size_t>(partition_of_key(key, static_cast<int>(files_.size())));
  PartitionRecord record{};
  record.key = key;
  record.time_s = time_s;
  record.code = code;
  record.value = value;
  record.kind = kind;
  record.check = subject.check;
  buffers_[partition].push_back(record);
  if (buffers_[partition].size() == buffer_records_) flush(partition);
}

void PartitionWriter::flush(size_t partition) {
  auto& buffer = buffers_[partition];
  if (buffer.empty()) return;
  const size_t written =
      std::fwrite(buffer.data(), sizeof(PartitionRecord), buffer.size(), files_[partition]);
  IO_CHECK(written == buffer.size(), paths_[partition], "write the partition file");
  buffer.clear();
}

void PartitionWriter::add_birth(std::string_view subject_id, int64_t time_s) {
  put(hash_of(subject_id), time_s, intern(kBirthCode), std::nanf(""), RecordKind::kBirth);
}

void PartitionWriter::add_event(std::string_view subject_id, int64_t time_s, std::string_view code,
                                double value) {
  put(hash_of(subject_id), time_s, intern(code), static_cast<float>(value), RecordKind::kEvent);
}

void PartitionWriter::add_static(std::string_view subject_id, std::string_view code) {
  put(hash_of(subject_id), 0, intern(code), std::nanf(""), RecordKind::kStatic);
}

void PartitionWriter::set_split(std::string_view subject_id, FixedSplit split) {
  put(hash_of(subject_id), 0, static_cast<uint32_t>(split), std::nanf(""), RecordKind::kSplit);
}

void PartitionWriter::finish() {
  for (size_t i = 0; i < files_.size(); ++i) {
    flush(i);
    const int rc = std::fclose(files_[i]);
    files_[i] = nullptr;
    IO_CHECK(rc == 0, paths_[i], "close the partition file");
  }
}

int partitions_for_input_bytes(uint64_t input_bytes) {
  int partitions = 32;
  while (partitions < 4096 && uint64_t(partitions) * (uint64_t(8) << 20) < input_bytes) partitions *= 2;
  return partitions;
}

uint64_t raise_open_file_limit(uint64_t files) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < files) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? files : std::min<rlim_t>(files, limit.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : uint64_t(limit.rlim_cur);
}

std::vector<PartitionRecord> read_partition(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  IO_CHECK(file != nullptr, path, "open the partition file");
  std::fseek(file, 0, SEEK_END);
  const long bytes = std::ftell(file);
  std::fseek(file, 0, SEEK_SET);
  std::vector<PartitionRecord> records(static_cast<size_t>(bytes) / sizeof(PartitionRecord));
  const size_t read = std::fread(records.data(), sizeof(PartitionRecord), records.size(), file);
  std::fclose(file);
  IO_CHECK(read == records.size(), path, "read the partition file");
  return records;
}

}  // namespace clinfm
