#include "data/shard.h"

#include <fmt/format.h>

#include "common/check.h"
#include "data/deid.h"
#include "data/h5_error.h"

namespace clinfm {
std::mutex& hdf5_mutex() {
  static std::mutex mutex;
  return mutex;
}

namespace {

constexpr hsize_t kEventChunk = 1 << 16;
constexpr size_t kFlushEvents = 1 << 20;
constexpr size_t kKeyBytes = 16;

}  // namespace

ShardCompression parse_shard_compression(const std::string& name) {
  if (name == "integers") return ShardCompression::kIntegers;
  if (name == "all") return ShardCompression::kAll;
  if (name == "none") return ShardCompression::kNone;
  throw InputError(fmt::format("data.shard_compression '{}' is not known", name),
                   "use integers, all or none");
}

ShardWriter::ShardWriter(const std::string& path, const std::string& split, int64_t shard_index,
                         ShardCompression compression)
    : path_(path) {
  silence_hdf5_errors();
  file_ = h5::Id(H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT)));
  h5::write_attribute(file_, "format", std::string(kShardFormat));
  h5::write_attribute(file_, "schema_version", int64_t{kShardSchemaVersion});
  h5::write_attribute(file_, "split", split);
  h5::write_attribute(file_, "shard_index", shard_index);
  h5::Id events = h5::create_group(file_, "events");
  const bool integers = compression != ShardCompression::kNone;
  const bool floats = compression == ShardCompression::kAll;
  token_set_ = h5::create_extendible(events, "token", H5T_STD_I32LE, kEventChunk, integers);
  age_set_ = h5::create_extendible(events, "age_days", H5T_IEEE_F64LE, kEventChunk, floats);
  value_set_ = h5::create_extendible(events, "value", H5T_IEEE_F32LE, kEventChunk, floats);
  bin_set_ = h5::create_extendible(events, "value_bin", H5T_STD_U8LE, kEventChunk, integers);
}

ShardWriter::~ShardWriter() = default;  // an unclosed shard is an aborted prep: its folder is removed

void ShardWriter::append(const PatientTimeline& patient) {
  CLINFM_CHECK(!closed_, "append to a closed shard {}", path_);
  const std::string key = subject_key_hex(patient.key);
  keys_.insert(keys_.end(), key.begin(), key.end());
  sexes_.push_back(static_cast<int8_t>(patient.sex));
  tokens_.insert(tokens_.end(), patient.tokens.begin(), patient.tokens.end());
  ages_.insert(ages_.end(), patient.age_days.begin(), patient.age_days.end());
  values_.insert(values_.end(), patient.values.begin(), patient.values.end());
  bins_.insert(bins_.end(), patient.value_bins.begin(), patient.value_bins.end());
  offsets_.push_back(offsets_.back() + static_cast<int64_t>(patient.size()));
  if (tokens_.size() >= kFlushEvents) flush_events();
}

void ShardWriter::flush_events() {
  const hsize_t n = tokens_.size();
  hsize_t size = stored_;
  h5::append(token_set_, H5T_NATIVE_INT32, tokens_.data(), n, &size);
  size = stored_;
  h5::append(age_set_, H5T_NATIVE_DOUBLE, ages_.data(), n, &size);
  size = stored_;
  h5::append(value_set_, H5T_NATIVE_FLOAT, values_.data(), n, &size);
  size = stored_;
  h5::append(bin_set_, H5T_NATIVE_UINT8, bins_.data(), n, &size);
  stored_ = size;
  events_written_ += static_cast<int64_t>(n);
  tokens_.clear();
  ages_.clear();
  values_.clear();
  bins_.clear();
}

void ShardWriter::close() {
  if (closed_) return;
  flush_events();
  h5::Id patients = h5::create_group(file_, "patients");
  h5::Id key_type(H5_CHECK(H5Tcopy(H5T_C_S1)));
  H5_CHECK(H5Tset_size(key_type, kKeyBytes));
  H5_CHECK(H5Tset_strpad(key_type, H5T_STR_NULLPAD));
  const hsize_t n = sexes_.size();
  h5::write_array(patients, "key", key_type, keys_.data(), n);
  h5::write_array(patients, "sex", H5T_STD_I8LE, sexes_.data(), n);
  h5::write_array(patients, "offsets", H5T_STD_I64LE, offsets_.data(), offsets_.size());
  h5::write_attribute(file_, "n_patients", static_cast<int64_t>(n));
  h5::write_attribute(file_, "n_events", offsets_.back());
  token_set_.reset();
  age_set_.reset();
  value_set_.reset();
  bin_set_.reset();
  patients.reset();
  H5_CHECK(H5Fflush(file_, H5F_SCOPE_GLOBAL));
  file_.reset();
  closed_ = true;
}

ShardReader::ShardReader(const std::string& path) : path_(path) {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  silence_hdf5_errors();
  if (H5Fis_hdf5(path.c_str()) <= 0) {  // HDF5 1.10 (Debian 12) has no H5Fis_accessible
    throw InputError(fmt::format("{}: not a readable HDF5 file", path),
                     "the shard may be truncated or overwritten; re-run `clinfm prep`");
  }
  file_ = h5::Id(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)));
  if (!h5::has_attribute(file_, "format") || h5::read_string_attribute(file_, "format") != kShardFormat) {
    throw InputError(fmt::format("{}: not a clinfm shard (no format=\"{}\" attribute)", path, kShardFormat));
  }
  const int64_t version = h5::read_int_attribute(file_, "schema_version");
  if (version != kShardSchemaVersion) {
    throw InputError(fmt::format("{}: shard schema version {} is not supported (this clinfm reads {})", path,
                                 version, kShardSchemaVersion),
                     "re-run `clinfm prep` with this version of clinfm");
  }
  split_ = h5::read_string_attribute(file_, "split");
  token_set_ = h5::Id(H5_CHECK(H5Dopen2(file_, "events/token", H5P_DEFAULT)));
  age_set_ = h5::Id(H5_CHECK(H5Dopen2(file_, "events/age_days", H5P_DEFAULT)));
  value_set_ = h5::Id(H5_CHECK(H5Dopen2(file_, "events/value", H5P_DEFAULT)));
  bin_set_ = h5::Id(H5_CHECK(H5Dopen2(file_, "events/value_bin", H5P_DEFAULT)));
  h5::Id offsets(H5_CHECK(H5Dopen2(file_, "patients/offsets", H5P_DEFAULT)));
  offsets_.resize(h5::length(offsets));
  h5::read_range(offsets, H5T_NATIVE_INT64, 0, offsets_.size(), offsets_.data());
  const size_t n = offsets_.empty() ? 0 : offsets_.size() - 1;
  h5::Id key_set(H5_CHECK(H5Dopen2(file_, "patients/key", H5P_DEFAULT)));
  h5::Id key_type(H5_CHECK(H5Dget_type(key_set)));
  CLINFM_CHECK(H5Tget_size(key_type) == kKeyBytes, "{}: patients/key must hold 16-byte strings", path);
  std::vector<char> keys(n * kKeyBytes);
  h5::read_range(key_set, key_type, 0, n, keys.data());
  keys_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (!parse_subject_key_hex(std::string_view(keys.data() + i * kKeyBytes, kKeyBytes), &keys_[i])) {
      throw InputError(fmt::format("{}: patient {} has a malformed key", path, i));
    }
  }
  h5::Id sex_set(H5_CHECK(H5Dopen2(file_, "patients/sex", H5P_DEFAULT)));
  sexes_.resize(n);
  h5::read_range(sex_set, H5T_NATIVE_INT8, 0, n, sexes_.data());
  const hsize_t stored = h5::length(token_set_);
  if (offsets_.empty() || offsets_.front() != 0 || static_cast<hsize_t>(offsets_.back()) != stored ||
      h5::length(age_set_) != stored || h5::length(value_set_) != stored || h5::length(bin_set_) != stored) {
    throw InputError(fmt::format("{}: inconsistent shard: offsets and event arrays disagree", path),
                     "the shard is damaged; re-run `clinfm prep`");
  }
  for (size_t i = 0; i < n; ++i) {
    if (offsets_[i + 1] < offsets_[i])
      throw InputError(fmt::format("{}: inconsistent shard: patient {} has a negative length", path, i),
                       "the shard is damaged; re-run `clinfm prep`");
  }
}

ShardReader::~ShardReader() {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  token_set_.reset();
  age_set_.reset();
  value_set_.reset();
  bin_set_.reset();
  file_.reset();
}

PatientTimeline ShardReader::read(int64_t i) const { return read_window(i, 0, length(i)); }

PatientTimeline ShardReader::read_window(int64_t i, int64_t first, int64_t n) const {
  CLINFM_CHECK(first >= 0 && n >= 0 && first + n <= length(i),
               "window [{}, {}) outside patient {} of {} ({} events)", first, first + n, i, path_, length(i));
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  PatientTimeline p;
  p.key = key(i);
  p.sex = sex(i);
  const hsize_t start = static_cast<hsize_t>(offsets_.at(size_t(i)) + first);
  const hsize_t count = static_cast<hsize_t>(n);
  p.tokens.resize(count);
  p.age_days.resize(count);
  p.values.resize(count);
  p.value_bins.resize(count);
  h5::read_range(token_set_, H5T_NATIVE_INT32, start, count, p.tokens.data());
  h5::read_range(age_set_, H5T_NATIVE_DOUBLE, start, count, p.age_days.data());
  h5::read_range(value_set_, H5T_NATIVE_FLOAT, start, count, p.values.data());
  h5::read_range(bin_set_, H5T_NATIVE_UINT8, start, count, p.value_bins.data());
  return p;
}

std::vector<int32_t> ShardReader::read_tokens(int64_t i) const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  std::vector<int32_t> tokens(static_cast<size_t>(length(i)));
  h5::read_range(token_set_, H5T_NATIVE_INT32, static_cast<hsize_t>(offsets_.at(size_t(i))), tokens.size(),
                 tokens.data());
  return tokens;
}

}  // namespace clinfm

namespace clinfm {
std::vector<uint8_t> ShardReader::read_all_value_bins() const {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  std::vector<uint8_t> bins(static_cast<size_t>(events()));
  h5::read_range(bin_set_, H5T_NATIVE_UINT8, 0, bins.size(), bins.data());
  return bins;
}
}  // namespace clinfm
