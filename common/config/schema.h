// The config schema: every key's section, name, type, default (read from a default-constructed
// Config), documentation, range or choices, and typed accessors into Config.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/config/config.h"

namespace clinfm {

enum class FieldType { kBool, kInt, kDouble, kString, kChoice, kStringList };
const char* field_type_name(FieldType type);

using ConfigValue = std::variant<bool, int64_t, double, std::string, std::vector<std::string>>;

struct FieldSpec {
  std::string section;
  std::string key;
  FieldType type = FieldType::kString;
  std::string doc;
  std::vector<std::string> choices;
  std::optional<double> min;
  std::optional<double> max;
  bool min_exclusive = false;
  bool max_exclusive = false;
  bool required = false;
  std::function<ConfigValue(const Config&)> get;
  std::function<void(Config&, const ConfigValue&)> set;

  std::string path() const { return section + "." + key; }
  // Fluent setters used when the schema is built.
  FieldSpec& at_least(double v) {
    min = v;
    return *this;
  }
  FieldSpec& above(double v) {
    min = v;
    min_exclusive = true;
    return *this;
  }
  FieldSpec& at_most(double v) {
    max = v;
    return *this;
  }
  FieldSpec& below(double v) {
    max = v;
    max_exclusive = true;
    return *this;
  }
  FieldSpec& one_of(std::vector<std::string> allowed) {
    choices = std::move(allowed);
    type = FieldType::kChoice;
    return *this;
  }
  FieldSpec& must_be_set() {
    required = true;
    return *this;
  }
  // "[1, 1024]", "(0, 1)", ">= 0", "one of: a, b"; empty when unconstrained.
  std::string describe_constraint() const;
};

struct SectionSpec {
  std::string name;
  std::string doc;
};

struct Schema {
  std::vector<SectionSpec> sections;
  std::vector<FieldSpec> fields;

  const SectionSpec* find_section(const std::string& name) const;
  // Keys renamed in this release: old path -> new path. The old name still works, with a
  // deprecation warning, for one release.
  std::map<std::string, std::string> renamed;

  const FieldSpec* find_field(const std::string& path) const;
  // The new path of a renamed key, null when `old_path` was never renamed.
  const std::string* renamed_to(const std::string& old_path) const;
  std::vector<std::string> keys_of(const std::string& section) const;
  std::vector<std::string> all_paths() const;
};

const Schema& config_schema();

// Checks that involve more than one key. Each message names the keys; the loader adds where
// the offending value came from.
struct CrossFieldProblem {
  std::vector<std::string> paths;  // the keys involved; the problem is located at the first one set
  std::string message;
};
std::vector<CrossFieldProblem> check_cross_field(const Config& config);

}  // namespace clinfm
