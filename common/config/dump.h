// Writing a Config back out: canonical YAML (what a run folder holds and what is hashed), YAML
// annotated with where every value came from, and the Markdown reference of every key.
#pragma once

#include <string>

#include "common/config/resolve.h"
#include "common/config/schema.h"

namespace clinfm {

// One value as it appears in YAML: true, 12, 0.0003, "text", ["a", "b"].
std::string format_value(const FieldSpec& spec, const ConfigValue& value);
// Every key in schema order, no comments. Loading this text back gives the same Config.
std::string config_to_yaml(const Config& config);
// The same, each value followed by `# <where it came from>`.
std::string config_to_yaml_explained(const ResolvedConfig& resolved);
// SHA-256 of config_to_yaml(config), hex. Stable across runs, machines and key order in files.
std::string config_hash(const Config& config);
// The reference of every key (section, key, type, default, allowed values, meaning).
std::string config_reference_markdown();

}  // namespace clinfm
