// Config resolution: base chains, key=value overrides, schema checks, deprecated keys, with a
// ConfigProblem naming file, line and key for every error. Over 400 lines because each error path
// builds its own message; the pieces share the YAML node walk and its position bookkeeping.
#include "common/config/resolve.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "common/config/dump.h"
#include "common/config/schema.h"
#include "common/log.h"
#include "common/text.h"

namespace clinfm {
namespace fs = std::filesystem;

std::string ValueSource::describe() const {
  switch (kind) {
    case Kind::kDefault:
      return "default";
    case Kind::kOverride:
      return fmt::format("command line '{}'", text);
    case Kind::kFile:
      if (line > 0) return fmt::format("{}:{}:{}", file, line, column);
      return file;
  }
  return "?";
}

std::string ConfigProblem::render() const {
  std::string text;
  if (where.kind == ValueSource::Kind::kFile) text = where.describe() + ": ";
  if (where.kind == ValueSource::Kind::kOverride)
    text = fmt::format("command-line override '{}': ", where.text);
  text += "error: ";
  if (!key.empty()) text += key + ": ";
  text += message;
  if (!hint.empty()) text += "\n  hint: " + hint;
  return text;
}

namespace {

std::string join_problems(const std::vector<ConfigProblem>& problems) {
  std::string text = problems.size() == 1
                         ? "invalid configuration:\n"
                         : fmt::format("invalid configuration ({} problems):\n", problems.size());
  for (size_t i = 0; i < problems.size(); ++i) text += (i ? "\n" : "") + problems[i].render();
  return text;
}

std::string describe_node(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "nothing";
  if (node.Tag() == "!") return fmt::format("the quoted string \"{}\"", node.Scalar());
  return fmt::format("'{}'", node.Scalar());
}

bool is_plain_scalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

struct Parsed {
  std::optional<ConfigValue> value;
  std::string message;
  std::string hint;
};

Parsed parse_value(const FieldSpec& spec, const YAML::Node& node) {
  Parsed p;
  const std::string& s = node.IsScalar() ? node.Scalar() : std::string();
  switch (spec.type) {
    case FieldType::kBool:
      if (is_plain_scalar(node)) {
        if (s == "true" || s == "True" || s == "TRUE") p.value = true;
        if (s == "false" || s == "False" || s == "FALSE") p.value = false;
      }
      if (!p.value) p.message = fmt::format("expected true or false, got {}", describe_node(node));
      break;
    case FieldType::kInt:
      if (is_plain_scalar(node) && !s.empty()) {
        int64_t v = 0;
        const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
        const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), v);
        if (ec == std::errc() && end == s.data() + s.size()) p.value = v;
        if (ec == std::errc::result_out_of_range) {
          p.message = fmt::format("{} does not fit in a 64-bit integer", s);
          return p;
        }
      }
      if (!p.value) p.message = fmt::format("expected an integer, got {}", describe_node(node));
      break;
    case FieldType::kDouble:
      if (is_plain_scalar(node) && !s.empty()) {
        char* end = nullptr;
        // Overflow gives inf (rejected); underflow to a subnormal sets ERANGE but is a valid value.
        const double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str() + s.size() && std::isfinite(v)) p.value = v;
      }
      if (!p.value) p.message = fmt::format("expected a finite number, got {}", describe_node(node));
      break;
    case FieldType::kString:
      if (node.IsScalar())
        p.value = s;
      else
        p.message = fmt::format("expected a string, got {}", describe_node(node));
      break;
    case FieldType::kChoice:
      if (node.IsScalar() && std::find(spec.choices.begin(), spec.choices.end(), s) != spec.choices.end()) {
        p.value = s;
      } else {
        p.message =
            fmt::format("{} is not allowed: must be {}", describe_node(node), spec.describe_constraint());
        if (node.IsScalar())
          if (auto close = closest_match(s, spec.choices)) p.hint = fmt::format("did you mean '{}'?", *close);
      }
      break;
    case FieldType::kStringList:
      if (node.IsSequence()) {
        std::vector<std::string> items;
        for (const auto& item : node) {
          if (!item.IsScalar()) {
            p.message = fmt::format("expected a list of strings, but an item is {}", describe_node(item));
            return p;
          }
          items.push_back(item.Scalar());
        }
        p.value = std::move(items);
      } else {
        p.message = fmt::format("expected a list of strings like [a, b], got {}", describe_node(node));
      }
      break;
  }
  return p;
}

bool in_range(const FieldSpec& spec, const ConfigValue& value) {
  double v = 0;
  if (const auto* i = std::get_if<int64_t>(&value))
    v = static_cast<double>(*i);
  else if (const auto* d = std::get_if<double>(&value))
    v = *d;
  else
    return true;
  if (spec.min && (spec.min_exclusive ? v <= *spec.min : v < *spec.min)) return false;
  if (spec.max && (spec.max_exclusive ? v >= *spec.max : v > *spec.max)) return false;
  return true;
}

class Resolver {
 public:
  ResolvedConfig resolve(const std::string& file, const std::vector<std::string>& overrides) {
    if (!file.empty()) read_file(fs::path(file), nullptr);
    for (size_t i = 0; i < overrides.size(); ++i) apply_override(overrides[i]);
    if (problems_.empty()) check_required(file);
    if (problems_.empty()) check_cross_field_rules();
    if (!problems_.empty()) throw ConfigError(problems_);
    return std::move(out_);
  }

 private:
  static ValueSource at(const std::string& file, const YAML::Mark& mark) {
    ValueSource s;
    s.kind = ValueSource::Kind::kFile;
    s.file = file;
    if (mark.line >= 0) {
      s.line = mark.line + 1;
      s.column = mark.column + 1;
    }
    return s;
  }

  void problem(const ValueSource& where, std::string key, std::string message, std::string hint = {}) {
    problem_keys_.insert(key);
    problems_.push_back({where, std::move(key), std::move(message), std::move(hint)});
  }

  void read_file(const fs::path& path, const ValueSource* included_from) {
    const std::string display = path.lexically_normal().string();
    std::error_code ec;
    const std::string identity = fs::weakly_canonical(path, ec).string();
    if (const auto it = std::find(stack_.begin(), stack_.end(), identity); it != stack_.end()) {
      std::string chain;
      for (auto i = it; i != stack_.end(); ++i) chain += fs::path(*i).filename().string() + " -> ";
      chain += path.filename().string();
      problem(*included_from, "base", fmt::format("base-config cycle: {}", chain),
              "a config may not (indirectly) name itself as its base; remove one of the base: lines");
      return;
    }
    if (!fs::is_regular_file(path, ec)) {
      if (included_from) {
        problem(*included_from, "base", fmt::format("base config '{}' not found", display),
                "a base path is relative to the folder of the file that names it");
      } else {
        ValueSource where;
        where.kind = ValueSource::Kind::kFile;
        where.file = display;
        problem(where, "", fs::exists(path, ec) ? "not a regular file" : "config file not found",
                "check the path; relative paths are taken from the current working directory");
      }
      return;
    }
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (!in.good() && !in.eof()) {
      ValueSource where;
      where.kind = ValueSource::Kind::kFile;
      where.file = display;
      problem(where, "", fmt::format("cannot read the file: {}", std::strerror(errno)));
      return;
    }
    YAML::Node root;
    try {
      root = YAML::Load(buffer.str());
    } catch (const YAML::Exception& e) {
      problem(at(display, e.mark), "", fmt::format("malformed YAML: {}", e.msg),
              "check the indentation (spaces, not tabs) and that each key is followed by ': '");
      return;
    }
    if (root.IsNull()) {
      out_.files.push_back(display);
      return;
    }
    if (!root.IsMap()) {
      problem(at(display, root.Mark()), "",
              fmt::format("the top level must be a mapping of sections (run:, data:, model:, ...), got {}",
                          describe_node(root)));
      return;
    }
    stack_.push_back(identity);
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (!it->first.IsScalar() || it->first.Scalar() != "base") continue;
      const ValueSource where = at(display, it->first.Mark());
      if (!it->second.IsScalar() || it->second.Scalar().empty()) {
        problem(where, "base",
                fmt::format("expected the path of a base config, got {}", describe_node(it->second)));
      } else {
        read_file(path.parent_path() / it->second.Scalar(), &where);
      }
      break;  // a second `base:` is reported as a duplicate by apply_sections
    }
    out_.files.push_back(display);
    apply_sections(root, display);
    stack_.pop_back();
  }

  void apply_sections(const YAML::Node& root, const std::string& file) {
    const Schema& schema = config_schema();
    std::set<std::string> seen_sections;
    for (auto it = root.begin(); it != root.end(); ++it) {
      const ValueSource where = at(file, it->first.Mark());
      if (!it->first.IsScalar()) {
        problem(where, "", "a section name must be a plain word");
        continue;
      }
      const std::string name = it->first.Scalar();
      if (!seen_sections.insert(name).second) {
        problem(where, name, "duplicate key: it appears twice in this file (YAML would silently keep one)",
                "merge the two blocks into one");
        continue;
      }
      if (name == "base") continue;
      if (!schema.find_section(name)) {
        unknown_section(where, name);
        continue;
      }
      const YAML::Node body = it->second;  // a copy: iterator proxies are temporaries
      if (body.IsNull()) continue;         // `model:` with nothing under it
      if (!body.IsMap()) {
        problem(at(file, body.Mark()), name,
                fmt::format("a section must be a mapping of keys, got {}", describe_node(body)),
                fmt::format("write the keys indented under '{}:', one per line", name));
        continue;
      }
      std::set<std::string> seen_keys;
      for (auto kv = body.begin(); kv != body.end(); ++kv) {
        const ValueSource key_where = at(file, kv->first.Mark());
        const std::string key = kv->first.IsScalar() ? kv->first.Scalar() : std::string("?");
        const std::string path = name + "." + key;
        if (!seen_keys.insert(key).second) {
          problem(key_where, path,
                  "duplicate key: it appears twice in this section (YAML would silently keep one)",
                  "delete one of the two lines");
          continue;
        }
        const FieldSpec* spec = find_field_or_renamed(path, key_where);
        if (!spec) {
          unknown_key(key_where, path, "unknown key");
          continue;
        }
        const YAML::Node value = kv->second;
        apply_value(*spec, value,
                    value.IsNull() || value.Mark().line < 0 ? key_where : at(file, value.Mark()));
      }
    }
  }

  void unknown_section(const ValueSource& where, const std::string& name) {
    const Schema& schema = config_schema();
    std::vector<std::string> names;
    for (const auto& s : schema.sections) names.push_back(s.name);
    std::string hint;
    if (auto close = closest_match(name, names)) {
      hint = fmt::format("did you mean '{}'?", *close);
    } else {
      for (const auto& f : schema.fields)
        if (f.key == name)
          hint = fmt::format("'{}' is a key of section '{}': write it as {}", name, f.section, f.path());
    }
    if (hint.empty()) hint = fmt::format("the sections are: {}", join(names, ", "));
    problem(where, name, "unknown section", hint);
  }

  // A key of this release, or one renamed in it (accepted with a warning naming the new key).
  const FieldSpec* find_field_or_renamed(const std::string& path, const ValueSource& where) {
    const Schema& schema = config_schema();
    if (const FieldSpec* spec = schema.find_field(path)) return spec;
    const std::string* renamed = schema.renamed_to(path);
    if (renamed == nullptr) return nullptr;
    log_warn("{}: '{}' is deprecated: it is now '{}' (the old name stops working in the next release)",
             where.describe(), path, *renamed);
    return schema.find_field(*renamed);
  }

  void unknown_key(const ValueSource& where, const std::string& path, const std::string& message) {
    const Schema& schema = config_schema();
    const auto dot = path.find('.');
    const std::string section = dot == std::string::npos ? path : path.substr(0, dot);
    const std::string key = dot == std::string::npos ? path : path.substr(dot + 1);
    std::string hint;
    if (schema.find_section(section)) {
      if (auto close = closest_match(key, schema.keys_of(section)))
        hint = fmt::format("did you mean '{}.{}'?", section, *close);
    }
    if (hint.empty()) {
      for (const auto& f : schema.fields)
        if (f.key == key)
          hint = fmt::format("did you mean '{}'? ('{}' lives in section '{}')", f.path(), key, f.section);
    }
    if (hint.empty()) {
      if (auto close = closest_match(path, schema.all_paths()))
        hint = fmt::format("did you mean '{}'?", *close);
    }
    if (hint.empty()) hint = "`clinfm config doc` lists every key";
    problem(where, path, message, hint);
  }

  void apply_value(const FieldSpec& spec, const YAML::Node& node, const ValueSource& where) {
    const std::string path = spec.path();
    if (node.IsNull()) {
      if (spec.required) {
        problem(where, path, "missing required value", fmt::format("{} Give it a value.", spec.doc));
      } else {
        problem(where, path, "no value given",
                fmt::format("give a value or delete the line to keep the default ({})",
                            format_value(spec, spec.get(Config{}))));
      }
      return;
    }
    Parsed parsed = parse_value(spec, node);
    if (!parsed.value) {
      problem(where, path, parsed.message, parsed.hint);
      return;
    }
    if (!in_range(spec, *parsed.value)) {
      problem(where, path,
              fmt::format("{} is out of range: must be {}", node.Scalar(), spec.describe_constraint()),
              spec.doc);
      return;
    }
    if (spec.required && spec.type == FieldType::kString && std::get<std::string>(*parsed.value).empty()) {
      problem(where, path, "missing required value", fmt::format("{} Give it a value.", spec.doc));
      return;
    }
    spec.set(out_.config, *parsed.value);
    out_.sources[path] = where;
  }

  void apply_override(const std::string& arg) {
    ValueSource where;
    where.kind = ValueSource::Kind::kOverride;
    where.text = arg;
    const auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      problem(where, "", "expected section.key=value", "for example: model.n_layers=2");
      return;
    }
    const std::string path = arg.substr(0, eq);
    const FieldSpec* spec = find_field_or_renamed(path, where);
    if (!spec) {
      if (path == "base") {
        problem(where, path, "the base config cannot be overridden", "edit the file's base: line instead");
      } else {
        unknown_key(where, path, "override of a key that does not exist");
      }
      return;
    }
    YAML::Node node;
    try {
      node = YAML::Load(arg.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      problem(where, path, fmt::format("the value is not valid YAML: {}", e.msg),
              "quote the value, e.g. key='\"text: with colon\"'");
      return;
    }
    apply_value(*spec, node, where);
  }

  void check_required(const std::string& file) {
    for (const auto& spec : config_schema().fields) {
      if (!spec.required || problem_keys_.count(spec.path())) continue;
      const ConfigValue value = spec.get(out_.config);
      const auto* text = std::get_if<std::string>(&value);
      if (out_.sources.count(spec.path()) && !(text && text->empty())) continue;
      ValueSource where;
      where.kind = ValueSource::Kind::kFile;
      where.file = file.empty() ? std::string("(no config file)") : file;
      problem(where, spec.path(), "missing required value",
              fmt::format("{} Set it in the config file or pass {}=VALUE.", spec.doc, spec.path()));
    }
  }

  void check_cross_field_rules() {
    for (const auto& p : check_cross_field(out_.config)) {
      // Point at a value the user wrote: a default has no file or line to show.
      std::string located = p.paths.front();
      for (const auto& path : p.paths) {
        if (out_.sources.count(path)) {
          located = path;
          break;
        }
      }
      problem(out_.source_of(located), located, p.message);
    }
  }

  ResolvedConfig out_;
  std::vector<ConfigProblem> problems_;
  std::set<std::string> problem_keys_;
  std::vector<std::string> stack_;  // canonical paths of the files being read
};

}  // namespace

ConfigError::ConfigError(std::vector<ConfigProblem> problems)
    : InputError(join_problems(problems)), problems_(std::move(problems)) {}

ValueSource ResolvedConfig::source_of(const std::string& path) const {
  const auto it = sources.find(path);
  return it == sources.end() ? ValueSource{} : it->second;
}

ResolvedConfig resolve_config(const std::string& file, const std::vector<std::string>& overrides) {
  return Resolver().resolve(file, overrides);
}

}  // namespace clinfm
