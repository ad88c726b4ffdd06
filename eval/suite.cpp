// Suite YAML -> SuiteSpec, collecting every problem with its file, line and key.
#include "eval/suite.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "common/config/resolve.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/text.h"

namespace clinfm {
namespace {

class SuiteReader {
 public:
  explicit SuiteReader(std::string file) : file_(std::move(file)) {}

  void problem(const YAML::Node& node, const std::string& key, const std::string& message,
               const std::string& hint = {}) {
    ConfigProblem entry;
    entry.where.kind = ValueSource::Kind::kFile;
    entry.where.file = file_;
    const YAML::Mark mark = node.Mark();
    if (mark.line >= 0) {
      entry.where.line = mark.line + 1;
      entry.where.column = mark.column + 1;
    }
    entry.key = key;
    entry.message = message;
    entry.hint = hint;
    problems_.push_back(std::move(entry));
  }

  // Reports keys of `map` that are not in `allowed`; returns false when `map` is not a mapping.
  bool check_keys(const YAML::Node& map, const std::string& prefix, const std::vector<std::string>& allowed) {
    if (!map.IsMap()) {
      problem(map, prefix, "expected a mapping of keys to values");
      return false;
    }
    for (const auto& item : map) {
      const std::string key = item.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string hint = "allowed keys: " + join(allowed, ", ");
      if (auto close = closest_match(key, allowed)) hint = fmt::format("did you mean '{}'?", *close);
      problem(item.first, join_key(prefix, key), "unknown key", hint);
    }
    return true;
  }

  static std::string join_key(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
  }

  void read_string(const YAML::Node& map, const std::string& prefix, const char* key, std::string* out,
                   bool required = false) {
    const YAML::Node node = map[key];
    if (!node) {
      if (required) problem(map, join_key(prefix, key), "required key is missing");
      return;
    }
    if (!node.IsScalar() || node.Scalar().empty()) {
      problem(node, join_key(prefix, key), "expected a non-empty string");
      return;
    }
    *out = node.Scalar();
  }

  void read_double(const YAML::Node& map, const std::string& prefix, const char* key, double* out,
                   bool required, double min, bool min_exclusive) {
    const YAML::Node node = map[key];
    if (!node) {
      if (required) problem(map, join_key(prefix, key), "required key is missing");
      return;
    }
    char* end = nullptr;
    const std::string text = node.IsScalar() ? node.Scalar() : std::string();
    const double value = text.empty() ? NAN : std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || node.Tag() == "!") {
      problem(node, join_key(prefix, key),
              fmt::format("expected a number, got '{}'", node.IsScalar() ? text : "?"));
      return;
    }
    if (value < min || (min_exclusive && value == min)) {
      problem(node, join_key(prefix, key),
              fmt::format("{} is out of range: must be {} {}", text, min_exclusive ? ">" : ">=", min));
      return;
    }
    *out = value;
  }

  void read_int(const YAML::Node& map, const std::string& prefix, const char* key, int64_t* out,
                int64_t min) {
    const YAML::Node node = map[key];
    if (!node) return;
    char* end = nullptr;
    const std::string text = node.IsScalar() ? node.Scalar() : std::string();
    const long long value = text.empty() ? 0 : std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || end != text.c_str() + text.size() || node.Tag() == "!") {
      problem(node, join_key(prefix, key),
              fmt::format("expected an integer, got '{}'", node.IsScalar() ? text : "?"));
      return;
    }
    if (value < min) {
      problem(node, join_key(prefix, key), fmt::format("{} is out of range: must be >= {}", value, min));
      return;
    }
    *out = value;
  }

  void read_bool(const YAML::Node& map, const std::string& prefix, const char* key, bool* out) {
    const YAML::Node node = map[key];
    if (!node) return;
    const std::string text = node.IsScalar() ? node.Scalar() : std::string();
    if (text == "true" || text == "false") {
      *out = text == "true";
    } else {
      problem(node, join_key(prefix, key), fmt::format("expected true or false, got '{}'", text));
    }
  }

  // One of `choices`; returns the index or -1 (problem reported) / -2 (absent).
  int read_choice(const YAML::Node& map, const std::string& prefix, const char* key,
                  const std::vector<std::string>& choices) {
    const YAML::Node node = map[key];
    if (!node) return -2;
    const std::string text = node.IsScalar() ? node.Scalar() : std::string();
    for (size_t i = 0; i < choices.size(); ++i)
      if (text == choices[i]) return static_cast<int>(i);
    std::string hint;
    if (auto close = closest_match(text, choices)) hint = fmt::format("did you mean '{}'?", *close);
    problem(node, join_key(prefix, key),
            fmt::format("'{}' is not allowed: must be one of {}", text, join(choices, ", ")), hint);
    return -1;
  }

  // A code prefix or a list of them.
  void read_codes(const YAML::Node& map, const std::string& prefix, const char* key, CodeList* out,
                  bool required) {
    const YAML::Node node = map[key];
    out->key = join_key(prefix, key);
    if (!node) {
      if (required) problem(map, out->key, "required key is missing", "a code prefix or a list of them");
      return;
    }
    out->line = node.Mark().line + 1;
    out->column = node.Mark().column + 1;
    std::vector<std::string> prefixes;
    if (node.IsScalar()) {
      prefixes.push_back(node.Scalar());
    } else if (node.IsSequence()) {
      for (const auto& item : node) {
        if (!item.IsScalar() || item.Scalar().empty()) {
          problem(item, out->key, "expected a list of code prefixes (strings)");
          return;
        }
        prefixes.push_back(item.Scalar());
      }
    }
    if (prefixes.empty() || prefixes.front().empty()) {
      problem(node, out->key, "expected a code prefix or a non-empty list of them");
      return;
    }
    out->prefixes = std::move(prefixes);
  }

  const std::vector<ConfigProblem>& problems() const { return problems_; }

 private:
  std::string file_;
  std::vector<ConfigProblem> problems_;
};

TaskSpec read_task(SuiteReader& reader, const YAML::Node& node, const std::string& prefix) {
  TaskSpec task;
  if (!reader.check_keys(node, prefix,
                         {"name", "description", "predict_at", "label", "per_patient", "truth", "labels"}))
    return task;
  reader.read_string(node, prefix, "name", &task.name, true);
  reader.read_string(node, prefix, "description", &task.description);
  reader.read_string(node, prefix, "truth", &task.truth);
  if (node["labels"]) {  // a MEDS label file (or folder) defines the task: no rules of our own
    reader.read_string(node, prefix, "labels", &task.labels, true);
    task.labels_key = prefix + ".labels";
    task.labels_line = node["labels"].Mark().line + 1;
    // The name becomes a folder of MEDS-DEV prediction files (meds_dev/NAME/): no path in it.
    const bool safe_name = !task.name.empty() && task.name != "." && task.name != ".." &&
                           task.name.find_first_not_of(
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789_.-") == std::string::npos;
    if (!safe_name && node["name"])
      reader.problem(node["name"], prefix + ".name",
                     "a label-file task's name names a folder of its predictions",
                     "use letters, digits, '_', '.' and '-' only");
    for (const char* rule : {"predict_at", "label", "per_patient", "truth"}) {
      if (node[rule])
        reader.problem(node[rule], prefix + "." + rule, "not allowed beside labels",
                       "a MEDS label file sets the prediction times and labels itself: drop this key, or "
                       "drop labels: and define the task by its rules");
    }
    return task;
  }
  if (reader.read_choice(node, prefix, "per_patient", {"all", "first"}) == 1)
    task.per_patient = PerPatient::kFirst;

  const YAML::Node predict_at = node["predict_at"];
  const std::string at_key = prefix + ".predict_at";
  if (!predict_at) {
    reader.problem(node, at_key, "required key is missing",
                   "e.g. predict_at: {codes: HOSPITAL_ADMISSION, offset_hours: 24}");
  } else if (reader.check_keys(predict_at, at_key, {"codes", "offset_hours"})) {
    reader.read_codes(predict_at, at_key, "codes", &task.predict_at, true);
    double offset = 0;
    reader.read_double(predict_at, at_key, "offset_hours", &offset, false, -1e9, false);
    task.offset_hours = offset;
  }

  const YAML::Node label = node["label"];
  const std::string label_key = prefix + ".label";
  if (!label) {
    reader.problem(node, label_key, "required key is missing",
                   "e.g. label: {kind: event_within, codes: MEDS_DEATH, horizon_days: 30}");
  } else if (reader.check_keys(label, label_key,
                               {"kind", "codes", "horizon_days", "exclude_prior", "death"})) {
    const int kind = reader.read_choice(label, label_key, "kind", {"event_within", "stay_longer_than"});
    if (kind == -2) reader.problem(label, label_key + ".kind", "required key is missing");
    if (kind == 1) task.kind = LabelKind::kStayLongerThan;
    reader.read_codes(label, label_key, "codes", &task.label_codes, true);
    reader.read_double(label, label_key, "horizon_days", &task.horizon_days, true, 0.0, true);
    reader.read_bool(label, label_key, "exclude_prior", &task.exclude_prior);
    if (task.exclude_prior && task.kind == LabelKind::kStayLongerThan)
      reader.problem(label["exclude_prior"], label_key + ".exclude_prior",
                     "only applies to kind event_within");
    if (reader.read_choice(label, label_key, "death", {"negative", "exclude"}) == 1)
      task.death = DeathHandling::kExclude;
  }
  return task;
}

// age_bands: an increasing list of ages in years.
void read_age_bands(SuiteReader& reader, const YAML::Node& bands, SuiteSpec& suite) {
  std::vector<double> edges;
  bool ok = bands.IsSequence() && bands.size() > 0;
  for (size_t i = 0; ok && i < bands.size(); ++i) {
    char* end = nullptr;
    const std::string text = bands[i].IsScalar() ? bands[i].Scalar() : std::string();
    const double edge = std::strtod(text.c_str(), &end);
    ok = !text.empty() && end == text.c_str() + text.size() && edge >= 0 &&
         (edges.empty() || edge > edges.back());
    edges.push_back(edge);
  }
  if (ok) {
    suite.age_bands = edges;
  } else {
    reader.problem(bands, "age_bands", "expected an increasing list of ages in years, e.g. [18, 40, 65, 80]");
  }
}

void read_privacy(SuiteReader& reader, const YAML::Node& privacy, SuiteSpec& suite) {
  suite.privacy.enabled = true;
  if (privacy.IsNull()) return;  // `privacy:` alone: the defaults
  if (!privacy.IsMap()) {
    reader.problem(privacy, "privacy", "expected a map such as {max_patients: 1000}");
    return;
  }
  if (reader.check_keys(privacy, "privacy", {"max_patients"}))
    reader.read_int(privacy, "privacy", "max_patients", &suite.privacy.max_patients, 0);
}

void read_delphi(SuiteReader& reader, const YAML::Node& node, SuiteSpec& suite) {
  DelphiSpec& delphi = suite.delphi;
  delphi.enabled = true;
  if (node.IsNull()) return;  // `delphi:` alone: the defaults
  if (!node.IsMap()) {
    reader.problem(node, "delphi", "expected a map such as {min_occurrences: 100}");
    return;
  }
  if (!reader.check_keys(node, "delphi",
                         {"code_prefix", "death_code", "min_occurrences", "age_brackets", "offset_days",
                          "calibration_years", "count_baseline_controls", "seed"}))
    return;
  reader.read_string(node, "delphi", "code_prefix", &delphi.code_prefix);
  reader.read_string(node, "delphi", "death_code", &delphi.death_code);
  reader.read_int(node, "delphi", "min_occurrences", &delphi.min_occurrences, 1);
  reader.read_double(node, "delphi", "offset_days", &delphi.offset_days, false, 0.0, false);
  reader.read_double(node, "delphi", "calibration_years", &delphi.calibration_years, false, 0.0, true);
  reader.read_int(node, "delphi", "count_baseline_controls", &delphi.count_baseline_controls, 1);
  reader.read_int(node, "delphi", "seed", &delphi.seed, 0);
  if (const YAML::Node brackets = node["age_brackets"]) {
    SuiteSpec edges;
    read_age_bands(reader, brackets, edges);
    if (edges.age_bands.size() < 2)
      reader.problem(brackets, "delphi.age_brackets",
                     "expected at least two increasing edges, e.g. [40, 45, 50]");
    else
      delphi.age_brackets = edges.age_bands;
  }
}

void read_tasks(SuiteReader& reader, const YAML::Node& root, SuiteSpec& suite) {
  const YAML::Node tasks = root["tasks"];
  if (!tasks && (suite.privacy.enabled || suite.delphi.enabled))
    return;  // a privacy audit or Delphi's protocol alone
  if (!tasks) {
    reader.problem(root, "tasks", "required key is missing", "a suite is a list of tasks under `tasks:`");
    return;
  }
  if (!tasks.IsSequence() || tasks.size() == 0) {
    reader.problem(tasks, "tasks", "expected a non-empty list of tasks");
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const std::string prefix = fmt::format("tasks[{}]", i);
    TaskSpec task = read_task(reader, tasks[i], prefix);
    if (!task.name.empty() && !names.insert(task.name).second)
      reader.problem(tasks[i]["name"], prefix + ".name",
                     fmt::format("task name '{}' is used twice", task.name));
    suite.tasks.push_back(std::move(task));
  }
}

}  // namespace

const char* label_kind_name(LabelKind kind) {
  return kind == LabelKind::kEventWithin ? "event_within" : "stay_longer_than";
}

SuiteSpec parse_suite(const std::string& yaml_text, const std::string& file) {
  SuiteSpec suite;
  suite.file = file;
  suite.death_codes.prefixes = {"MEDS_DEATH"};
  suite.death_codes.key = "death_codes";
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& error) {
    throw InputError(fmt::format("{}:{}:{}: error: not valid YAML: {}", file, error.mark.line + 1,
                                 error.mark.column + 1, error.msg),
                     "check the indentation and quoting near that line");
  }
  SuiteReader reader(file);
  if (reader.check_keys(
          root, "",
          {"name", "description", "context_events", "max_train_examples", "max_tuning_examples",
           "max_age_years", "age_bands", "death_codes", "k_shot", "seed", "privacy", "delphi", "tasks"})) {
    reader.read_string(root, "", "name", &suite.name, true);
    reader.read_string(root, "", "description", &suite.description);
    reader.read_int(root, "", "context_events", &suite.context_events, 1);
    reader.read_int(root, "", "max_train_examples", &suite.max_train_examples, 0);
    reader.read_int(root, "", "max_tuning_examples", &suite.max_tuning_examples, 0);
    reader.read_double(root, "", "max_age_years", &suite.max_age_years, false, 0.0, true);
    reader.read_bool(root, "", "k_shot", &suite.k_shot);
    reader.read_int(root, "", "seed", &suite.seed, 0);
    if (root["death_codes"]) reader.read_codes(root, "", "death_codes", &suite.death_codes, false);
    if (const YAML::Node bands = root["age_bands"]) read_age_bands(reader, bands, suite);
    if (const YAML::Node privacy = root["privacy"]) read_privacy(reader, privacy, suite);
    if (const YAML::Node delphi = root["delphi"]) read_delphi(reader, delphi, suite);
    read_tasks(reader, root, suite);
  }
  if (!reader.problems().empty()) throw ConfigError(reader.problems());
  return suite;
}

SuiteSpec load_suite(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw InputError(fmt::format("suite file {} does not exist or is not a file", path),
                     "pass a suite YAML such as configs/eval/synth.yaml");
  }
  return parse_suite(read_file(path), path);
}

std::vector<char> resolve_codes(const CodeList& codes, const Vocabulary& vocab,
                                const std::string& suite_file) {
  std::vector<char> flags(static_cast<size_t>(vocab.size()), 0);
  std::vector<std::string> unmatched;
  for (const std::string& prefix : codes.prefixes) {
    int64_t matched = 0;
    for (int32_t id = 2; id < vocab.size(); ++id) {  // 0 <pad> and 1 <unk> are never an outcome
      if (vocab.token(id).code.compare(0, prefix.size(), prefix) == 0) {
        flags[static_cast<size_t>(id)] = 1;
        ++matched;
      }
    }
    if (matched == 0) unmatched.push_back(prefix);
  }
  if (unmatched.empty()) return flags;
  // One alternative of a list may be absent from a data set (ICD-9 vs ICD-10); all absent is
  // a task that can never fire, which is an error.
  if (unmatched.size() < codes.prefixes.size()) {
    log_warn("{}:{}:{}: {}: code prefix(es) {} match no code of the data set (the others do)", suite_file,
             codes.line, codes.column, codes.key, join(unmatched, ", "));
    return flags;
  }
  std::vector<std::string> all;
  for (int32_t id = 2; id < vocab.size(); ++id) all.push_back(vocab.token(id).code);
  std::string hint = "prefixes match the start of the vocabulary's codes (`clinfm inspect DIR` lists them)";
  if (auto close = closest_match(unmatched.front(), all)) hint = fmt::format("did you mean '{}'?", *close);
  throw InputError(
      fmt::format("{}:{}:{}: error: {}: code prefix '{}' matches no code of the data set's vocabulary",
                  suite_file, codes.line, codes.column, codes.key, join(unmatched, "', '")),
      hint);
}

}  // namespace clinfm
