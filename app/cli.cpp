#include "app/cli.h"

#include <string>

#include "common/log.h"
#include "trainer/comm/launch.h"

namespace clinfm {
namespace {

// Rank and size from the launcher's environment, so that errors before MPI starts (a bad
// config, say) already carry the right [rank r/N] prefix and only rank 0 prints info lines.
void set_log_rank_from_launcher() {
  const int rank = launcher_rank_from_env();
  if (rank < 0) return;
  const int size = launcher_size_from_env();
  set_log_rank(rank, size < 0 ? rank + 1 : size);
}

}  // namespace

int cli_main(int argc, char** argv) {
  set_log_rank_from_launcher();
  CLI::App app{"clinfm: train and evaluate clinical foundation models on longitudinal patient records.",
               "clinfm"};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", std::string("clinfm ") + CLINFM_VERSION);
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "Lowest log level printed: debug, info, warn, error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.footer("Run `clinfm COMMAND --help` for the options of a command.");

  CommandAction action;
  add_config_command(app, &action);
  add_data_commands(app, &action);
  add_train_command(app, &action);
  add_eval_command(app, &action);
  add_export_command(app, &action);
  add_doctor_command(app, &action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Prints help, the version or the parse error. Every command-line error exits 2, like a
    // bad config, instead of CLI11's own codes (105, 106, 109, ...).
    return app.exit(e) == 0 ? 0 : 2;
  }
  set_log_level(parse_log_level(log_level, "--log-level"));
  return run_guarded(action);
}

}  // namespace clinfm
