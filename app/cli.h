// The `clinfm` command line: one CLI11 app with a subcommand per job. Each command file adds
// its options (with defaults shown in --help) and returns the action to run. The action runs
// inside run_guarded (trainer/comm/launch.h), the one place that catches errors.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace clinfm {

using CommandAction = std::function<int()>;

// Each adds one subcommand to `app`; the action is stored in *action when it is selected.
void add_config_command(CLI::App& app, CommandAction* action);
void add_data_commands(CLI::App& app, CommandAction* action);  // prep, synth, inspect
void add_train_command(CLI::App& app, CommandAction* action);
void add_eval_command(CLI::App& app, CommandAction* action);
void add_export_command(CLI::App& app, CommandAction* action);
void add_doctor_command(CLI::App& app, CommandAction* action);

int cli_main(int argc, char** argv);

}  // namespace clinfm
