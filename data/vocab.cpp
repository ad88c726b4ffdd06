#include "data/vocab.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "common/error.h"
#include "data/deid.h"

namespace clinfm {
namespace {

constexpr size_t kValueSampleSize = 8192;

uint64_t splitmix(uint64_t& state) {  // the next of a SplitMix64 sequence
  const uint64_t out = mix64(state);
  state += 0x9e3779b97f4a7c15ULL;
  return out;
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

uint32_t CodeStats::id(std::string_view code) {
  const auto it = ids_.find(code);
  if (it != ids_.end()) return it->second;
  const auto parent = hierarchy_.parent(code);
  const int64_t parent_id = parent ? int64_t(id(*parent)) : -1;  // ancestors first (recursion)
  const uint32_t id = static_cast<uint32_t>(names_.size());
  ids_.emplace(names_.emplace_back(code), id);
  chain_.push_back({id});
  if (parent_id >= 0) {
    const auto& ancestors = chain_[size_t(parent_id)];
    chain_.back().insert(chain_.back().end(), ancestors.begin(), ancestors.end());
  }
  patients_.push_back(0);
  events_.push_back(0);
  values_.emplace_back();
  value_sequence_.push_back(std::hash<std::string>{}(names_.back()));
  last_patient_.push_back(0);
  return id;
}

void CodeStats::add_patient(const std::vector<std::string_view>& codes) {
  std::vector<uint32_t> ids;
  ids.reserve(codes.size());
  for (const auto code : codes) ids.push_back(id(code));
  add_patient_ids(ids);
}

void CodeStats::add_patient_ids(const std::vector<uint32_t>& ids) {
  const uint64_t patient = ++patient_serial_;
  for (const uint32_t code : ids) {
    ++events_[code];
    // A code's ancestors are counted once per patient; once one is counted, so are the rest.
    for (const uint32_t node : chain_[code]) {
      if (last_patient_[node] == patient) break;
      last_patient_[node] = patient;
      ++patients_[node];
    }
  }
}

void CodeStats::add_value(std::string_view code, float value) {
  const uint32_t i = id(code);
  add_value_id(i, value, splitmix(value_sequence_[i]));
}

namespace {
// The order of the sample's heap: priority, then the value's bits (a total order on pairs).
bool sample_before(uint64_t pa, float va, uint64_t pb, float vb) {
  if (pa != pb) return pa < pb;
  uint32_t a = 0, b = 0;
  std::memcpy(&a, &va, sizeof a);
  std::memcpy(&b, &vb, sizeof b);
  return a < b;
}
}  // namespace

void CodeStats::Sample::offer(uint64_t p, float v) {
  size_t n = priority.size();
  if (n < kValueSampleSize) {  // push, sift up
    priority.push_back(p);
    value.push_back(v);
    for (size_t i = n; i > 0;) {
      const size_t parent = (i - 1) / 2;
      if (!sample_before(priority[parent], value[parent], priority[i], value[i])) break;
      std::swap(priority[parent], priority[i]);
      std::swap(value[parent], value[i]);
      i = parent;
    }
    return;
  }
  if (!sample_before(p, v, priority[0], value[0])) return;  // not among the smallest
  priority[0] = p;                                          // replace the largest, sift down
  value[0] = v;
  for (size_t i = 0;;) {
    size_t largest = i;
    for (const size_t child : {2 * i + 1, 2 * i + 2}) {
      if (child < n && sample_before(priority[largest], value[largest], priority[child], value[child]))
        largest = child;
    }
    if (largest == i) break;
    std::swap(priority[largest], priority[i]);
    std::swap(value[largest], value[i]);
    i = largest;
  }
}

void CodeStats::add_value_id(uint32_t id, float value, uint64_t priority) {
  if (std::isnan(value)) return;
  values_[id].offer(priority, value);
}

namespace {
template <typename T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
T take(std::string_view& in) {
  if (in.size() < sizeof(T))
    throw InputError("prep: a rank's code statistics are truncated", "report this bug");
  T v;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return v;
}
}  // namespace

std::string CodeStats::serialize() const {
  std::string out;
  put(out, uint64_t(names_.size()));
  for (size_t i = 0; i < names_.size(); ++i) {
    put(out, uint64_t(std::hash<std::string>{}(names_[i])));
    put(out, patients_[i]);
    put(out, events_[i]);
    put(out, uint64_t(values_[i].priority.size()));
    out.append(reinterpret_cast<const char*>(values_[i].priority.data()), values_[i].priority.size() * 8);
    out.append(reinterpret_cast<const char*>(values_[i].value.data()), values_[i].value.size() * 4);
  }
  return out;
}

void CodeStats::merge_serialized(std::string_view in) {
  const uint64_t n = take<uint64_t>(in);
  if (n != names_.size())
    throw InputError(
        fmt::format("prep: a rank's code statistics hold {} codes, this rank's {}", n, names_.size()),
        "every rank must intern the same code table; report this bug");
  for (size_t i = 0; i < n; ++i) {
    if (take<uint64_t>(in) != uint64_t(std::hash<std::string>{}(names_[i])))
      throw InputError(fmt::format("prep: the ranks interned code {} differently", i), "report this bug");
    patients_[i] += take<int64_t>(in);
    events_[i] += take<int64_t>(in);
    const uint64_t k = take<uint64_t>(in);
    if (in.size() < k * 12)
      throw InputError("prep: a rank's code statistics are truncated", "report this bug");
    if (k == 0) continue;  // (memcpy from or to an empty vector's null data() is undefined)
    std::vector<uint64_t> priorities(k);
    std::vector<float> values(k);
    std::memcpy(priorities.data(), in.data(), k * 8);
    std::memcpy(values.data(), in.data() + k * 8, k * 4);
    in.remove_prefix(k * 12);
    for (size_t j = 0; j < k; ++j) values_[i].offer(priorities[j], values[j]);
  }
}

int64_t CodeStats::find(std::string_view code) const {
  const auto it = ids_.find(code);
  return it == ids_.end() ? -1 : int64_t(it->second);
}

int64_t CodeStats::patients_with(std::string_view code) const {
  const int64_t i = find(code);
  return i < 0 ? 0 : patients_[size_t(i)];
}

int64_t CodeStats::events_of(std::string_view code) const {
  const int64_t i = find(code);
  return i < 0 ? 0 : events_[size_t(i)];
}

const std::vector<float>* CodeStats::value_sample(std::string_view code) const {
  const int64_t i = find(code);
  return i < 0 || values_[size_t(i)].value.empty() ? nullptr : &values_[size_t(i)].value;
}

Vocabulary Vocabulary::build(const CodeStats& stats, const std::vector<std::string>& all_codes,
                             int64_t min_patients, int value_bins) {
  Vocabulary v;
  v.hierarchy_ = stats.hierarchy();
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
      current = stats.hierarchy().parent(*current);
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
    v.tokens_[size_t(id)].train_events += stats.events_of(code);
    const std::vector<float>* sample = stats.value_sample(code);
    if (sample && id != kUnkToken) {
      auto& merged = values_per_token[id];
      merged.insert(merged.end(), sample->begin(), sample->end());
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
  for (auto parent = hierarchy_.parent(code); parent; parent = hierarchy_.parent(*parent)) {
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
  nlohmann::json out = {{"schema_version", kVocabSchemaVersion}, {"tokens", tokens}, {"suppressed", mapping}};
  // The export's stated parents (MEDS codes.parquet), so that a code the data set never saw maps
  // through them after prep as during it.
  if (hierarchy_.stated_parents() > 0) out["parents"] = hierarchy_.stated();
  return out;
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
    if (json.contains("parents"))
      v.hierarchy_.set_parents(json.at("parents").get<std::vector<std::pair<std::string, std::string>>>(),
                               path);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not a valid clinfm vocabulary: {}", path, e.what()),
                     "the file may be truncated or edited by hand; re-run `clinfm prep`");
  }
  return v;
}

}  // namespace clinfm
