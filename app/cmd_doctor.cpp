// `clinfm doctor [CONFIG [overrides...]] [--dir PATH]`: checks the machine and the launch before a
// long run and says, one line per finding, OK / INFO / WARN / FAIL and what to do. Run it the way
// the training will be run (`mpirun -np N clinfm doctor ...`, `srun clinfm doctor ...`) so that
// it sees the same ranks per node, threads and environment. Exit 0 without a FAIL on any rank,
// 1 otherwise. It reads the config only for run.threads and run.out_dir; it trains nothing.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "app/cli.h"
#include "app/doctor_checks.h"
#include "common/config/resolve.h"
#include "common/log.h"
#include "trainer/comm/launch.h"

namespace clinfm {
namespace {

struct DoctorOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string dir;
  double min_free_gib = 20.0;
};

int doctor(const DoctorOptions& options) {
  ThreadFacts facts;
  std::string dir = options.dir;
  const bool dir_given = !dir.empty();
  if (!options.config.empty()) {
    const ResolvedConfig resolved = resolve_config(options.config, options.overrides);
    facts.run_threads = static_cast<int>(resolved.config.run.threads);
    if (!dir_given) dir = resolved.config.run.out_dir;
  }
  if (dir.empty()) dir = ".";
  const LaunchEnv launch = read_launch_env();
  const WorldInfo w = init_distributed(nullptr, nullptr);
  facts.ranks_on_node = w.local_size;

  std::vector<CheckLine> lines;
  for (auto&& part :
       {check_mpi(launch), check_gpu(w.local_size), check_hdf5(), check_blas(), check_threads(facts),
        check_disk(dir, dir_given || options.config.empty(), options.min_free_gib),
        check_shared_folder(dir)}) {
    lines.insert(lines.end(), part.begin(), part.end());
  }
  int failures = 0, warnings = 0;
  for (const auto& line : lines) {
    failures += line.status == CheckStatus::kFail;
    warnings += line.status == CheckStatus::kWarn;
  }
  // One report per node (its first rank): the others on a node see the same machine.
  if (w.local_rank == 0) {
    std::string out =
        fmt::format("clinfm doctor on {} (rank {} of {})\n", log_context().host, w.rank, w.world_size);
    for (const auto& line : lines)
      out += fmt::format("{:<4}  {:<7}  {}\n", status_name(line.status), line.section, line.text);
    out += fmt::format("doctor: {} FAIL, {} WARN on {}\n", failures, warnings, log_context().host);
    std::cout << out << std::flush;
  }
  const int most = most_failures_of_any_rank(failures);
  if (w.rank == 0 && most > 0 && failures == 0)
    std::cout << "doctor: another node reported a FAIL\n" << std::flush;
  return most > 0 ? 1 : 0;
}

}  // namespace

void add_doctor_command(CLI::App& app, CommandAction* action) {
  auto options = std::make_shared<DoctorOptions>();
  CLI::App* cmd = app.add_subcommand(
      "doctor", "Check MPI, GPUs, HDF5, BLAS, threads and disk before a run (run it like the training)");
  cmd->add_option("config", options->config,
                  "Optional YAML config: its run.threads and run.out_dir are checked")
      ->check(CLI::ExistingFile);
  cmd->add_option("overrides", options->overrides, "section.key=value overrides of the config");
  cmd->add_option("--dir", options->dir,
                  "Folder whose free space and writability are checked (default: run.out_dir of CONFIG, "
                  "else the current folder)");
  cmd->add_option("--min-free-gib", options->min_free_gib, "WARN when the folder has less free space (GiB)")
      ->check(CLI::PositiveNumber);
  cmd->callback([action, options] { *action = [options] { return doctor(*options); }; });
}

}  // namespace clinfm
