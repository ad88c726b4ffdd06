// Turns config files and command-line overrides into one typed Config.
// Precedence, lowest first: defaults in code < the `base:` chain (deepest first) < the file
// named on the command line < `section.key=value` overrides. Maps merge key by key; a list
// replaces the list below it. Every problem found is collected and reported at once, each with
// the file, line and column (1-based) and the full key path.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/error.h"

namespace clinfm {

struct ValueSource {
  enum class Kind { kDefault, kFile, kOverride };
  Kind kind = Kind::kDefault;
  std::string file;  // as the user named it (kFile)
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown
  std::string text;  // the override argument (kOverride)

  std::string describe() const;  // "default", "a.yaml:3:5", "command line 'model.n_layers=2'"
};

struct ConfigProblem {
  ValueSource where;
  std::string key;  // full key path ("model.n_layers"), section name, or empty
  std::string message;
  std::string hint;

  std::string render() const;
};

class ConfigError : public InputError {
 public:
  explicit ConfigError(std::vector<ConfigProblem> problems);
  const std::vector<ConfigProblem>& problems() const { return problems_; }

 private:
  std::vector<ConfigProblem> problems_;
};

struct ResolvedConfig {
  Config config;
  std::map<std::string, ValueSource> sources;  // key path -> where its value came from
  std::vector<std::string> files;              // files read, deepest base first

  ValueSource source_of(const std::string& path) const;
};

// `file` may be empty: defaults and overrides only. Throws ConfigError.
ResolvedConfig resolve_config(const std::string& file, const std::vector<std::string>& overrides);

}  // namespace clinfm
