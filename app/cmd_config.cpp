// `clinfm config show CONFIG [overrides...]` and `clinfm config doc`.
#include <fmt/format.h>

#include <iostream>
#include <string>
#include <vector>

#include "app/cli.h"
#include "common/config/dump.h"
#include "common/config/resolve.h"
#include "common/fs.h"
#include "common/text.h"

namespace clinfm {
namespace {

struct ShowOptions {
  std::string config;
  std::vector<std::string> overrides;
  bool explain = false;
};

int show(const ShowOptions& options) {
  const ResolvedConfig resolved = resolve_config(options.config, options.overrides);
  std::string out = "# clinfm resolved config\n";
  out += fmt::format("# files: {}\n", resolved.files.empty() ? "(none)" : join(resolved.files, " < "));
  if (!options.overrides.empty()) out += fmt::format("# overrides: {}\n", join(options.overrides, " "));
  out += fmt::format("# hash: sha256:{}\n", config_hash(resolved.config));
  out += options.explain ? config_to_yaml_explained(resolved) : config_to_yaml(resolved.config);
  std::cout << out << std::flush;
  return 0;
}

}  // namespace

void add_config_command(CLI::App& app, CommandAction* action) {
  CLI::App* config = app.add_subcommand("config", "Resolve, show and document configs");
  config->require_subcommand(1);

  auto show_options = std::make_shared<ShowOptions>();
  CLI::App* show_cmd = config->add_subcommand(
      "show", "Print the fully resolved config (defaults < base < file < overrides) and its hash");
  show_cmd->add_option("config", show_options->config, "YAML config file")
      ->required()
      ->check(CLI::ExistingFile);
  show_cmd->add_option("overrides", show_options->overrides,
                       "section.key=value overrides, applied after the file");
  show_cmd->add_flag("--explain", show_options->explain, "Annotate each value with where it came from");
  show_cmd->callback([=] { *action = [=] { return show(*show_options); }; });

  auto doc_out = std::make_shared<std::string>();
  CLI::App* doc_cmd = config->add_subcommand("doc", "Print the Markdown reference of every config key");
  doc_cmd->add_option("--out", *doc_out, "Write to this file instead of standard output");
  doc_cmd->callback([=] {
    *action = [=] {
      const std::string text = config_reference_markdown();
      if (doc_out->empty()) {
        std::cout << text << std::flush;
      } else {
        write_file_atomic(*doc_out, text);
      }
      return 0;
    };
  });
}

}  // namespace clinfm
