#include "data/canaries.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <set>

#include "common/check.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "data/partition.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

constexpr const char* kCanaryFormat = "clinfm-canaries";
constexpr int kCanaryVersion = 1;
constexpr size_t kTemplates = 256;  // training patients' starts kept to copy from
constexpr double kDaysPerYear = 365.25;

std::mt19937_64 seeded_rng(const Salt& salt) {
  const auto digest = hmac_sha256(salt.bytes, "clinfm canaries v1");
  std::vector<uint32_t> words(digest.size() / 4);
  for (size_t i = 0; i < words.size(); ++i)
    words[i] = uint32_t(digest[4 * i]) << 24 | uint32_t(digest[4 * i + 1]) << 16 |
               uint32_t(digest[4 * i + 2]) << 8 | uint32_t(digest[4 * i + 3]);
  std::seed_seq seed(words.begin(), words.end());
  return std::mt19937_64(seed);
}

nlohmann::json canary_json(const Canary& c) {
  nlohmann::json keys = nlohmann::json::array();
  for (uint64_t key : c.keys) keys.push_back(subject_key_hex(key));
  nlohmann::json out = {{"sex", static_cast<int>(c.sex)},
                        {"tokens", c.tokens},
                        {"age_days", c.age_days},
                        {"secret_begin", c.secret_begin}};
  if (!c.keys.empty()) out["keys"] = keys;
  return out;
}

Canary canary_from_json(const nlohmann::json& j, const std::string& path, bool inserted) {
  Canary c;
  c.sex = static_cast<Sex>(j.at("sex").get<int>());
  c.tokens = j.at("tokens").get<std::vector<int32_t>>();
  c.age_days = j.at("age_days").get<std::vector<double>>();
  c.secret_begin = j.at("secret_begin").get<int64_t>();
  if (c.tokens.size() != c.age_days.size() || c.secret_begin < 1 ||
      c.secret_begin >= static_cast<int64_t>(c.tokens.size()))
    throw InputError(fmt::format("{}: a canary's tokens, ages and secret_begin disagree", path),
                     "the canary file is damaged: prep the data set again to get a new one");
  if (inserted) {
    for (const auto& text : j.at("keys")) {
      uint64_t key = 0;
      if (!parse_subject_key_hex(text.get<std::string>(), &key))
        throw InputError(fmt::format("{}: '{}' is not a subject key", path, text.get<std::string>()),
                         "the canary file is damaged: prep the data set again to get a new one");
      c.keys.push_back(key);
    }
  }
  return c;
}

}  // namespace

PatientTimeline Canary::timeline(uint64_t key) const {
  PatientTimeline t;
  t.key = key;
  t.sex = sex;
  t.tokens = tokens;
  t.age_days = age_days;
  t.values.assign(tokens.size(), std::nanf(""));
  t.value_bins.assign(tokens.size(), 0);
  return t;
}

nlohmann::json CanarySet::to_json() const {
  nlohmann::json in = nlohmann::json::array(), ref = nlohmann::json::array();
  for (const auto& c : inserted) in.push_back(canary_json(c));
  for (const auto& c : reference) ref.push_back(canary_json(c));
  return {{"format", kCanaryFormat},
          {"version", kCanaryVersion},
          {"note",
           "SECRET: which patients of the data set are canaries. Keep it as you keep the salt; "
           "`clinfm eval --canaries` reads it (docs/privacy.md)."},
          {"salt_id", salt_id},
          {"vocab_sha256", vocab_sha256},
          {"copies", copies},
          {"events", events},
          {"inserted", in},
          {"reference", ref}};
}

CanarySet read_canary_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::exception& e) {
    throw InputError(fmt::format("canary file '{}' cannot be read: {}", path, e.what()),
                     "pass the file `clinfm prep` wrote (data.canary_file) with --canaries");
  }
  CanarySet set;
  try {
    const auto j = nlohmann::json::parse(text);
    if (!j.is_object() || j.value("format", "") != kCanaryFormat)
      throw InputError(fmt::format("'{}' is not a clinfm canary file", path),
                       "pass the file `clinfm prep` wrote (data.canary_file) with --canaries");
    if (j.at("version").get<int>() != kCanaryVersion)
      throw InputError(fmt::format("{}: canary file version {} (this clinfm reads {})", path,
                                   j.at("version").get<int>(), kCanaryVersion),
                       "prep the data set again with this clinfm");
    set.salt_id = j.at("salt_id").get<std::string>();
    set.vocab_sha256 = j.at("vocab_sha256").get<std::string>();
    set.copies = j.at("copies").get<int64_t>();
    set.events = j.at("events").get<int64_t>();
    for (const auto& c : j.at("inserted")) set.inserted.push_back(canary_from_json(c, path, true));
    for (const auto& c : j.at("reference")) set.reference.push_back(canary_from_json(c, path, false));
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(
        fmt::format("canary file '{}' is damaged: {}", path, std::string(e.what()).substr(0, 200)),
        "prep the data set again to get a new one");
  }
  return set;
}

void write_canary_file(const CanarySet& canaries, const std::string& path) {
  const fs::path target = fs::absolute(expand_home(path));
  std::error_code ec;
  if (!fs::exists(target.parent_path(), ec)) {
    fs::create_directories(target.parent_path());
    ::chmod(target.parent_path().c_str(), 0700);
  }
  const std::string tmp = target.string() + fmt::format(".tmp-{}", ::getpid());
  const std::string bytes = canaries.to_json().dump(1) + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  IO_CHECK(fd >= 0, tmp, "create");
  const int error = write_all(fd, bytes.data(), bytes.size());
  const bool synced = error == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    ::unlink(tmp.c_str());
    errno = error != 0 ? error : errno;
    IO_CHECK(false, tmp, "write");
  }
  ::chmod(tmp.c_str(), 0600);  // O_CREAT's mode is masked by the umask; never wider than 0600
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int rename_error = errno;
    ::unlink(tmp.c_str());
    errno = rename_error;
    IO_CHECK(false, target.string(), "rename into place");
  }
  fsync_directory(target.parent_path().string());
}

std::string default_canary_file(const std::string& salt_file, const std::string& dataset_dir) {
  const fs::path salt = fs::absolute(expand_home(salt_file));
  fs::path dataset = fs::absolute(dataset_dir).lexically_normal();
  if (dataset.filename().empty()) dataset = dataset.parent_path();  // "DIR/"
  const std::string name = dataset.filename().string();
  return (salt.parent_path() / (name + ".canaries.json")).string();
}

CanaryDrawer::CanaryDrawer(const Salt& salt, const CanaryCounts& counts, double split_tuning,
                           double split_held_out, int partitions)
    : counts_(counts),
      split_tuning_(split_tuning),
      split_held_out_(split_held_out),
      partitions_(partitions),
      rng_(seeded_rng(salt)) {
  template_seed_ = rng_();
}

void CanaryDrawer::offer_template(uint64_t key, Sex sex, std::vector<uint32_t> codes) {
  templates_.push_back({mix64(key ^ template_seed_), key, {sex, std::move(codes)}});
  if (templates_.size() >= 4 * kTemplates) keep_lowest(templates_);
}

void CanaryDrawer::keep_lowest(std::vector<Kept>& templates) {
  // Sorted by priority, each patient once (a merge may offer a template twice), the lowest kept.
  std::sort(templates.begin(), templates.end(), [](const Kept& a, const Kept& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.key < b.key;
  });
  templates.erase(std::unique(templates.begin(), templates.end(),
                              [](const Kept& a, const Kept& b) { return a.key == b.key; }),
                  templates.end());
  if (templates.size() > kTemplates) templates.resize(kTemplates);
}

std::string CanaryDrawer::serialize_templates() const {
  std::vector<Kept> kept = templates_;
  keep_lowest(kept);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& k : kept)
    out.push_back({std::to_string(k.priority), std::to_string(k.key), static_cast<int>(k.t.sex), k.t.codes});
  return out.dump();
}

void CanaryDrawer::merge_templates(std::string_view bytes) {
  for (const auto& k : nlohmann::json::parse(bytes)) {
    templates_.push_back({std::stoull(k.at(0).get<std::string>()),
                          std::stoull(k.at(1).get<std::string>()),
                          {static_cast<Sex>(k.at(2).get<int>()), k.at(3).get<std::vector<uint32_t>>()}});
  }
  keep_lowest(templates_);
}

uint64_t CanaryDrawer::draw_key(int partition, std::mt19937_64& rng) const {
  // A uniform key of the training split in `partition` (rejection: ~1/(P * train fraction) draws).
  for (;;) {
    const uint64_t key = rng();
    if (partition >= 0 && partition_of_key(key, partitions_) != partition) continue;
    if (assign_split(key, split_tuning_, split_held_out_) == Split::kTrain) return key;
  }
}

void CanaryDrawer::draw(const Vocabulary& vocab, const std::vector<int32_t>& token_of, double max_age_years,
                        const std::string& salt_id, const std::string& vocab_sha256) {
  set_ = CanarySet{};
  set_.salt_id = salt_id;
  set_.vocab_sha256 = vocab_sha256;
  set_.copies = counts_.copies;
  set_.events = counts_.events;
  if (counts_.inserted == 0) return;
  keep_lowest(templates_);
  if (templates_.empty())
    throw InputError("data.canaries: the training split has no patient to model the canaries on",
                     "prep a data set with training patients, or set data.canaries=0");
  // The secret's alphabet: code tokens (no specials, no parent-only tokens) that are not a
  // template's birth or static token.
  std::set<int32_t> start_tokens;
  std::vector<std::vector<int32_t>> template_tokens;
  for (const auto& kept : templates_) {
    std::vector<int32_t> tokens;
    for (uint32_t code : kept.t.codes) tokens.push_back(token_of.at(code));
    start_tokens.insert(tokens.begin(), tokens.end());
    template_tokens.push_back(std::move(tokens));
  }
  std::vector<int32_t> alphabet;
  for (int32_t id = 0; id < vocab.size(); ++id)
    if (vocab.token(id).origin == "code" && !start_tokens.count(id)) alphabet.push_back(id);
  const int64_t wanted = counts_.inserted + counts_.reference;
  const double secrets = double(counts_.events) * std::log2(std::max<double>(1, double(alphabet.size())));
  if (alphabet.size() < 2 || secrets < std::log2(double(wanted)) + 10)
    throw InputError(
        fmt::format("data.canaries: {} canaries and {} references of {} events over {} code tokens "
                    "cannot all be distinct (and unlikely to be guessed)",
                    counts_.inserted, counts_.reference, counts_.events, alphabet.size()),
        "raise data.canary_events, or lower data.canaries / data.reference_canaries");
  std::set<std::vector<int32_t>> seen;
  const double max_days = max_age_years * kDaysPerYear;
  // Events spread over at most 20 years, from an age of 18 to 60.
  const double step_days = std::max(1.0, 20.0 * kDaysPerYear / double(counts_.events));
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int64_t i = 0; i < wanted; ++i) {
    Canary c;
    const size_t pick = static_cast<size_t>(rng_() % templates_.size());
    c.sex = templates_[pick].t.sex;
    c.tokens = template_tokens[pick];
    c.age_days.assign(c.tokens.size(), 0.0);
    c.secret_begin = static_cast<int64_t>(c.tokens.size());
    std::vector<int32_t> secret;
    do {
      secret.clear();
      for (int64_t e = 0; e < counts_.events; ++e) secret.push_back(alphabet[rng_() % alphabet.size()]);
    } while (!seen.insert(secret).second);
    double age = std::min(max_days, (18.0 + 42.0 * uniform(rng_)) * kDaysPerYear);
    for (int64_t e = 0; e < counts_.events; ++e) {
      c.tokens.push_back(secret[size_t(e)]);
      c.age_days.push_back(std::round(age * 1440.0) / 1440.0);  // whole minutes, as real events
      age = std::min(max_days, age + step_days * (0.05 + uniform(rng_)));
    }
    if (i < counts_.inserted) {
      for (int64_t copy = 0; copy < counts_.copies; ++copy) c.keys.push_back(draw_key(-1, rng_));
      set_.inserted.push_back(std::move(c));
    } else {
      set_.reference.push_back(std::move(c));
    }
  }
}

std::vector<PatientTimeline> CanaryDrawer::partition_patients(int partition,
                                                              const std::unordered_set<uint64_t>& real_keys) {
  std::vector<PatientTimeline> out;
  for (auto& canary : set_.inserted) {
    for (uint64_t& key : canary.keys) {
      if (partition_of_key(key, partitions_) != partition) continue;
      if (real_keys.count(key)) {  // ~never: 64-bit keys
        std::mt19937_64 again(mix64(key ^ template_seed_));
        const uint64_t old = key;
        while (real_keys.count(key)) key = draw_key(partition, again);
        redrawn_.emplace_back(old, key);
      }
      out.push_back(canary.timeline(key));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  return out;
}

int64_t CanaryDrawer::partition_count(int partition) const {
  int64_t n = 0;
  for (const auto& canary : set_.inserted)
    for (const uint64_t key : canary.keys) n += partition_of_key(key, partitions_) == partition;
  return n;
}

void CanaryDrawer::apply_redrawn_keys(const std::vector<std::pair<uint64_t, uint64_t>>& redrawn) {
  for (const auto& [old, key] : redrawn)
    for (auto& canary : set_.inserted)
      for (uint64_t& k : canary.keys)
        if (k == old) k = key;
}

int64_t CanaryDrawer::events_written() const {
  int64_t events = 0;
  for (const auto& c : set_.inserted) events += static_cast<int64_t>(c.tokens.size() * c.keys.size());
  return events;
}

}  // namespace clinfm
