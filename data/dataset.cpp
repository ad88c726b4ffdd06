#include "data/dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "common/file_hash.h"
#include "common/fs.h"
#include "common/sha256.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

nlohmann::json parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", path, e.what()),
                     "the file is truncated or was edited by hand; re-run `clinfm prep`");
  }
}

}  // namespace

Dataset::Dataset(const std::string& dir) : dir_(dir) {
  const std::string manifest_path = (fs::path(dir) / "manifest.json").string();
  if (!fs::is_regular_file(manifest_path)) {
    throw InputError(fmt::format("'{}' is not a clinfm data set: {} is missing", dir, manifest_path),
                     "a data set is the --output folder of `clinfm prep`");
  }
  manifest_ = parse_json_file(manifest_path);
  try {
    if (manifest_.at("format").get<std::string>() != kDatasetFormat) {
      throw InputError(fmt::format("{}: format is not {}", manifest_path, kDatasetFormat));
    }
    const int version = manifest_.at("schema_version").get<int>();
    if (version != kDatasetSchemaVersion) {
      throw InputError(fmt::format("{}: data set schema version {} is not supported (this clinfm reads {})",
                                   manifest_path, version, kDatasetSchemaVersion),
                       "re-run `clinfm prep` with this version of clinfm");
    }
    const std::string vocab_path =
        (fs::path(dir) / manifest_.at("vocabulary").at("file").get<std::string>()).string();
    const std::string vocab_text = read_file(vocab_path);
    vocab_sha256_ = sha256_hex(vocab_text);
    if (vocab_sha256_ != manifest_.at("vocabulary").at("sha256").get<std::string>()) {
      throw InputError(fmt::format("{}: its SHA-256 does not match the manifest", vocab_path),
                       "the vocabulary was changed after prep; re-run `clinfm prep`");
    }
    nlohmann::json vocab_json;
    try {
      vocab_json = nlohmann::json::parse(vocab_text);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(fmt::format("{}: not valid JSON: {}", vocab_path, e.what()));
    }
    vocab_ = Vocabulary::from_json(vocab_json, vocab_path);
    for (const auto& s : manifest_.at("shards")) {
      shards_.push_back({s.at("split").get<std::string>(), s.at("file").get<std::string>(),
                         s.at("patients").get<int64_t>(), s.at("events").get<int64_t>(),
                         s.value("bytes", int64_t(-1)), s.at("sha256").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: missing or malformed field: {}", manifest_path, e.what()),
                     "re-run `clinfm prep`");
  }
}

std::vector<ShardEntry> Dataset::shards_of(const std::string& split) const {
  std::vector<ShardEntry> out;
  for (const auto& s : shards_)
    if (s.split == split) out.push_back(s);
  return out;
}

ShardReader Dataset::open_shard(const ShardEntry& entry) const {
  ShardReader reader((fs::path(dir_) / entry.file).string());
  if (reader.patients() != entry.patients || reader.events() != entry.events ||
      reader.split() != entry.split) {
    throw InputError(
        fmt::format("{}: holds {} patients and {} events of split {}, the manifest says {}, {} and {}",
                    reader.path(), reader.patients(), reader.events(), reader.split(), entry.patients,
                    entry.events, entry.split),
        "the shard and the manifest do not belong together; re-run `clinfm prep`");
  }
  return reader;
}

std::string Dataset::check_shard(const ShardEntry& entry) const {
  const fs::path path = fs::path(dir_) / entry.file;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return "missing or unreadable (" + ec.message() + ")";
  if (entry.bytes >= 0 && int64_t(size) != entry.bytes)
    return fmt::format("{} bytes, the manifest says {} (truncated or replaced)", size, entry.bytes);
  try {
    if (file_sha256_hex(path.string()) != entry.sha256) return "SHA-256 differs from the manifest (damaged)";
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

void Dataset::verify_shards(const std::vector<std::string>& splits) const {
  std::vector<std::pair<std::string, std::string>> damaged;
  size_t checked = 0;
  for (const auto& entry : shards_) {
    if (!splits.empty() && std::find(splits.begin(), splits.end(), entry.split) == splits.end()) continue;
    ++checked;
    const std::string problem = check_shard(entry);
    if (!problem.empty()) damaged.emplace_back(entry.file, problem);
  }
  if (!damaged.empty()) throw_damaged(damaged, checked);
}

void Dataset::throw_damaged(const std::vector<std::pair<std::string, std::string>>& damaged,
                            size_t checked) const {
  std::string listing;
  for (const auto& [file, problem] : damaged)
    listing += fmt::format("\n  {}: {}", (fs::path(dir_) / file).string(), problem);
  throw InputError(fmt::format("data set {}: {} of {} shard(s) checked are damaged:{}", dir_, damaged.size(),
                               checked, listing),
                   "restore the data set from a copy, or re-run `clinfm prep` (nothing was trained or "
                   "evaluated on these bytes)");
}

}  // namespace clinfm
