#include "data/vocab.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "common/error.h"
#include "data/deid.h"

namespace clinfm {
namespace {

constexpr size_t kValueSampleSize = 8192;

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<float> quantile_edges(std::vector<float> values, int bins) {
  std::vector<float> edges;
  if (values.empty() || bins <= 1) return edges;
  std::sort(values.begin(), values.end());
  for (int i = 1; i < bins; ++i) {
    const size_t at = static_cast<size_t>(std::floor(double(i) / bins * double(values.size())));
    const float edge = values[std::min(at, values.size() - 1)];
    if (edge > values.front() && (edges.empty() || edge > edges.back())) edges.push_back(edge);
  }
  return edges;
}

}  // namespace

void CodeStats::add_patient(const std::vector<std::string_view>& codes) {
  std::set<std::string> distinct;
  for (const auto code : codes) {
    ++events_[std::string(code)];
    std::string current(code);
    while (distinct.insert(current).second) {
      const auto parent = parent_code(current);
      if (!parent) break;
      current = *parent;
    }
  }
  for (const auto& code : distinct) ++patients_[code];
}

void CodeStats::add_value(std::string_view code, float value) {
  if (std::isnan(value)) return;
  const std::string key(code);
  auto& sample = values_[key];
  auto& reservoir = reservoirs_[key];
  if (reservoir.seen == 0) reservoir.state = std::hash<std::string>{}(key);
  ++reservoir.seen;
  if (sample.size() < kValueSampleSize) {
    sample.push_back(value);
  } else {
    const uint64_t slot = splitmix(reservoir.state) % static_cast<uint64_t>(reservoir.seen);
    if (slot < kValueSampleSize) sample[slot] = value;
  }
}

int64_t CodeStats::patients_with(std::string_view code) const {
  const auto it = patients_.find(std::string(code));
  return it == patients_.end() ? 0 : it->second;
}

Vocabulary Vocabulary::build(const CodeStats& stats, const std::vector<std::string>& all_codes,
                             int64_t min_patients, int value_bins) {
  Vocabulary v;
  v.tokens_.push_back({"<pad>", "special", 0, 0, {}});
  v.tokens_.push_back({"<unk>", "special", 0, 0, {}});
  v.index_["<pad>"] = kPadToken;
  v.index_["<unk>"] = kUnkToken;

  // Every code seen anywhere resolves to itself or its nearest frequent-enough ancestor.
  std::vector<std::string> codes = all_codes;
  std::sort(codes.begin(), codes.end());
  codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
  std::map<std::string, std::string> target;  // source code -> token code ("" = <unk>)
  std::set<std::string> token_codes;
  for (const auto& code : codes) {
    std::optional<std::string> current = code;
    std::string chosen;
    while (current) {
      if (stats.patients_with(*current) >= min_patients) {
        chosen = *current;
        break;
      }
      current = parent_code(*current);
    }
    target[code] = chosen;
    if (!chosen.empty()) token_codes.insert(chosen);
  }
  // Token ids in sorted code order: deterministic and independent of the export's order.
  for (const auto& code : token_codes) {
    Token t;
    t.code = code;
    const bool seen_itself = std::binary_search(codes.begin(), codes.end(), code);
    t.origin = seen_itself ? "code" : "parent";
    t.train_patients = stats.patients_with(code);
    v.index_[code] = static_cast<int32_t>(v.tokens_.size());
    v.tokens_.push_back(std::move(t));
  }
  std::map<int32_t, std::vector<float>> values_per_token;
  for (const auto& [code, token_code] : target) {
    const int32_t id = token_code.empty() ? kUnkToken : v.index_.at(token_code);
    v.mapping_[code] = id;
    const auto events = stats.event_counts().find(code);
    if (events != stats.event_counts().end()) v.tokens_[size_t(id)].train_events += events->second;
    const auto sample = stats.value_samples().find(code);
    if (sample != stats.value_samples().end() && id != kUnkToken) {
      auto& merged = values_per_token[id];
      merged.insert(merged.end(), sample->second.begin(), sample->second.end());
    }
  }
  for (auto& [id, values] : values_per_token) {
    v.tokens_[size_t(id)].value_edges = quantile_edges(std::move(values), value_bins);
    v.max_bins_ = std::max(v.max_bins_, int(v.tokens_[size_t(id)].value_edges.size()) + 1);
  }
  return v;
}

int32_t Vocabulary::map_code(std::string_view code) const {
  const auto it = mapping_.find(std::string(code));
  if (it != mapping_.end()) return it->second;
  for (auto parent = parent_code(code); parent; parent = parent_code(*parent)) {
    const auto token = index_.find(*parent);
    if (token != index_.end()) return token->second;
  }
  return kUnkToken;
}

int32_t Vocabulary::find(std::string_view code) const {
  const auto it = index_.find(std::string(code));
  return it == index_.end() ? -1 : it->second;
}

uint8_t Vocabulary::value_bin(int32_t token, float value) const {
  if (std::isnan(value) || token < 0 || token >= size()) return 0;
  const auto& edges = tokens_[size_t(token)].value_edges;
  if (edges.empty()) return 1;
  return static_cast<uint8_t>(1 + (std::upper_bound(edges.begin(), edges.end(), value) - edges.begin()));
}

nlohmann::json Vocabulary::to_json() const {
  nlohmann::json tokens = nlohmann::json::array();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const Token& t = tokens_[i];
    tokens.push_back({{"id", i},
                      {"code", t.code},
                      {"origin", t.origin},
                      {"train_patients", t.train_patients},
                      {"train_events", t.train_events},
                      {"value_edges", t.value_edges}});
  }
  nlohmann::json mapping = nlohmann::json::object();
  for (const auto& [code, id] : mapping_) {
    if (tokens_[size_t(id)].code != code) mapping[code] = id;  // only codes that were suppressed
  }
  return {{"schema_version", kVocabSchemaVersion}, {"tokens", tokens}, {"suppressed", mapping}};
}

Vocabulary Vocabulary::from_json(const nlohmann::json& json, const std::string& path) {
  Vocabulary v;
  try {
    const int version = json.at("schema_version").get<int>();
    if (version != kVocabSchemaVersion) {
      throw InputError(fmt::format("{}: vocabulary schema version {} is not supported (this clinfm reads {})",
                                   path, version, kVocabSchemaVersion),
                       "re-run `clinfm prep` with this version of clinfm");
    }
    for (const auto& t : json.at("tokens")) {
      Token token;
      token.code = t.at("code").get<std::string>();
      token.origin = t.at("origin").get<std::string>();
      token.train_patients = t.at("train_patients").get<int64_t>();
      token.train_events = t.at("train_events").get<int64_t>();
      token.value_edges = t.at("value_edges").get<std::vector<float>>();
      v.max_bins_ = std::max(v.max_bins_, token.value_edges.empty() ? 0 : int(token.value_edges.size()) + 1);
      v.index_[token.code] = static_cast<int32_t>(v.tokens_.size());
      v.mapping_[token.code] = static_cast<int32_t>(v.tokens_.size());
      v.tokens_.push_back(std::move(token));
    }
    for (const auto& [code, id] : json.at("suppressed").items()) v.mapping_[code] = id.get<int32_t>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not a valid clinfm vocabulary: {}", path, e.what()),
                     "the file may be truncated or edited by hand; re-run `clinfm prep`");
  }
  return v;
}

}  // namespace clinfm
