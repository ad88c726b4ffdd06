#include "data/inspect.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "data/dataset.h"
#include "data/deid.h"
#include "data/timestamp.h"

namespace clinfm {
namespace {

const std::vector<std::pair<int64_t, int64_t>> kLengthBuckets = {
    {1, 16}, {17, 64}, {65, 256}, {257, 1024}, {1025, 4096}, {4097, INT64_MAX}};

int64_t percentile(std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * double(sorted.size())))];
}

const char* sex_name(Sex sex) { return sex == Sex::kFemale ? "F" : sex == Sex::kMale ? "M" : "unknown"; }

}  // namespace

nlohmann::json inspect_dataset(const std::string& dir, int top_codes) {
  const Dataset dataset(dir);
  dataset.verify_shards();  // an InputError naming every damaged shard
  const Vocabulary& vocab = dataset.vocab();
  nlohmann::json out;
  out["dataset"] = dir;
  out["source_format"] = dataset.manifest().at("source").at("format");
  out["created_by"] = dataset.manifest().at("created_by");
  out["vocabulary_size"] = vocab.size();
  out["shards_verified"] = dataset.shards().size();
  std::vector<int64_t> all_lengths;
  std::vector<int64_t> bin_counts(size_t(vocab.max_value_bins()) + 1, 0);
  int64_t total_events = 0;
  nlohmann::json splits = nlohmann::json::object();
  for (const std::string split : {"train", "tuning", "held_out"}) {
    std::vector<int64_t> lengths;
    int64_t events = 0;
    for (const auto& entry : dataset.shards_of(split)) {
      const ShardReader shard = dataset.open_shard(entry);
      for (int64_t i = 0; i < shard.patients(); ++i) lengths.push_back(shard.length(i));
      events += shard.events();
      for (const uint8_t b : shard.read_all_value_bins())
        bin_counts[std::min<size_t>(b, bin_counts.size() - 1)]++;
    }
    total_events += events;
    all_lengths.insert(all_lengths.end(), lengths.begin(), lengths.end());
    std::sort(lengths.begin(), lengths.end());
    splits[split] = {{"patients", lengths.size()},
                     {"events", events},
                     {"events_per_patient",
                      {{"median", percentile(lengths, 0.5)},
                       {"p95", percentile(lengths, 0.95)},
                       {"max", lengths.empty() ? 0 : lengths.back()}}}};
  }
  out["splits"] = splits;
  std::vector<int32_t> ids;
  for (int32_t id = 2; id < vocab.size(); ++id) ids.push_back(id);
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    return vocab.token(a).train_events != vocab.token(b).train_events
               ? vocab.token(a).train_events > vocab.token(b).train_events
               : a < b;
  });
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < ids.size() && int(i) < top_codes; ++i) {
    const Token& t = vocab.token(ids[i]);
    top.push_back({{"code", t.code}, {"train_events", t.train_events}, {"train_patients", t.train_patients}});
  }
  out["top_codes"] = top;
  nlohmann::json histogram = nlohmann::json::array();
  for (const auto& bucket : kLengthBuckets) {
    const int64_t lo = bucket.first,
                  hi = bucket.second;  // (a lambda cannot capture a structured binding in C++17)
    const auto n =
        std::count_if(all_lengths.begin(), all_lengths.end(), [&](int64_t l) { return l >= lo && l <= hi; });
    histogram.push_back({{"from", lo},
                         {"to", hi == INT64_MAX ? nlohmann::json(nullptr) : nlohmann::json(hi)},
                         {"patients", n}});
  }
  out["sequence_length_histogram"] = histogram;
  const int64_t with_value = total_events - bin_counts[0];
  nlohmann::json bins = nlohmann::json::object();
  for (size_t b = 1; b < bin_counts.size(); ++b) bins[std::to_string(b)] = bin_counts[b];
  out["value_bins"] = {
      {"events_with_value", with_value},
      {"fraction_with_value", total_events ? double(with_value) / double(total_events) : 0.0},
      {"events_per_bin", bins}};
  return out;
}

std::string format_inspection(const nlohmann::json& s) {
  std::string out = fmt::format(
      "data set {} (source {}, {})\nvocabulary: {} tokens; {} shard(s), every one matches the manifest's "
      "SHA-256\n\n",
      s["dataset"].get<std::string>(), s["source_format"].get<std::string>(),
      s["created_by"].get<std::string>(), s["vocabulary_size"].get<int64_t>(),
      s["shards_verified"].get<int64_t>());
  out += fmt::format("{:<10} {:>10} {:>12} {:>8} {:>8} {:>8}\n", "split", "patients", "events", "median",
                     "p95", "max");
  for (const std::string split : {"train", "tuning", "held_out"}) {
    const auto& x = s["splits"][split];
    out += fmt::format("{:<10} {:>10} {:>12} {:>8} {:>8} {:>8}\n", split, x["patients"].get<int64_t>(),
                       x["events"].get<int64_t>(), x["events_per_patient"]["median"].get<int64_t>(),
                       x["events_per_patient"]["p95"].get<int64_t>(),
                       x["events_per_patient"]["max"].get<int64_t>());
  }
  out += "\ntop codes (training events)\n";
  for (const auto& t : s["top_codes"]) {
    out += fmt::format("  {:<40} {:>10} events {:>8} patients\n", t["code"].get<std::string>(),
                       t["train_events"].get<int64_t>(), t["train_patients"].get<int64_t>());
  }
  out += "\nevents per patient (all splits)\n";
  for (const auto& h : s["sequence_length_histogram"]) {
    const std::string range = h["to"].is_null()
                                  ? fmt::format("{}+", h["from"].get<int64_t>())
                                  : fmt::format("{}-{}", h["from"].get<int64_t>(), h["to"].get<int64_t>());
    out += fmt::format("  {:<12} {:>8} patients\n", range, h["patients"].get<int64_t>());
  }
  const auto& v = s["value_bins"];
  out += fmt::format("\nnumeric values: {} events ({:.1f}%) carry one; per value bin:",
                     v["events_with_value"].get<int64_t>(), 100.0 * v["fraction_with_value"].get<double>());
  for (size_t bin = 1; v["events_per_bin"].contains(std::to_string(bin)); ++bin) {
    out += fmt::format(" {}:{}", bin, v["events_per_bin"][std::to_string(bin)].get<int64_t>());
  }
  return out + "\n";
}

std::string decode_patient(const std::string& dir, const std::string& key_hex) {
  uint64_t key = 0;
  if (!parse_subject_key_hex(key_hex, &key)) {
    throw InputError(fmt::format("'{}' is not a pseudonymous key", key_hex),
                     "keys are 16 lower-case hex digits, as `clinfm inspect` and eval reports show them");
  }
  const Dataset dataset(dir);
  dataset.verify_shards();
  for (const auto& entry : dataset.shards()) {
    const ShardReader shard = dataset.open_shard(entry);
    for (int64_t i = 0; i < shard.patients(); ++i) {
      if (shard.key(i) != key) continue;
      const PatientTimeline p = shard.read(i);
      std::string out = fmt::format("patient {} (split {}, sex {}, {} events)\n", key_hex, entry.split,
                                    sex_name(p.sex), p.size());
      out += fmt::format("{:>9} {:>10}  {:<40} {:>12} {:>4}\n", "age (y)", "age (d)", "code", "value", "bin");
      for (size_t e = 0; e < p.size(); ++e) {
        const std::string value = std::isnan(p.values[e]) ? "" : fmt::format("{:g}", p.values[e]);
        out +=
            fmt::format("{:>9.2f} {:>10.1f}  {:<40} {:>12} {:>4}\n", p.age_days[e] / kDaysPerYear,
                        p.age_days[e], dataset.vocab().token(p.tokens[e]).code, value, int(p.value_bins[e]));
      }
      return out;
    }
  }
  throw InputError(fmt::format("no patient with key {} in {}", key_hex, dir),
                   "keys depend on the salt file used by prep; `clinfm inspect DIR --json` lists none, "
                   "but eval's predictions.csv and shards' patients/key do");
}

}  // namespace clinfm
