#include "trainer/comm/launch.h"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <exception>

#include "common/check.h"
#include "common/log.h"

namespace clinfm {
namespace {

WorldInfo g_world;
bool g_started_mpi = false;

}  // namespace

WorldInfo init_distributed(int* argc, char*** argv) {
  int already = 0;
  MPI_CHECK(MPI_Initialized(&already));
  if (!already) {
    int provided = 0;
    MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided));
    g_started_mpi = true;
  }
  // Errors come back as codes so that MPI_CHECK can report them with a hint.
  MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank));
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &g_world.world_size));
  MPI_Comm local = MPI_COMM_NULL;
  MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_world.rank, MPI_INFO_NULL, &local));
  MPI_CHECK(MPI_Comm_rank(local, &g_world.local_rank));
  MPI_CHECK(MPI_Comm_size(local, &g_world.local_size));
  MPI_CHECK(MPI_Comm_free(&local));
  set_log_rank(g_world.rank, g_world.world_size);
  return g_world;
}

bool distributed_initialized() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

const WorldInfo& world() { return g_world; }

void finalize_distributed() {
  if (g_started_mpi && distributed_initialized()) MPI_Finalize();
  g_started_mpi = false;
}

void abort_job(int exit_code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (distributed_initialized() && g_world.world_size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

const std::vector<LauncherVariables>& launcher_variables() {
  // The launcher closest to the process comes first, because a launcher that starts its ranks
  // through another leaves the outer one's variables behind: inside a Slurm job, Open MPI's
  // mpirun and Hydra (MPICH's and Intel MPI's mpiexec) start their daemons with srun, and the
  // ranks inherit the daemon's SLURM_PROCID (a node index, not a rank). Under srun --mpi=pmix or
  // --mpi=pmi2 the PMIx / PMI rank is SLURM_PROCID, so reading them first changes nothing there.
  //
  // Slurm's size is SLURM_STEP_NUM_TASKS, the task count of the step srun started, not
  // SLURM_NTASKS: that is the job's --ntasks, which a step need not use in full (`srun -n 2` in
  // a job of 8 tasks), and the batch script has it too, where a clinfm started without srun is
  // a world of one.
  // No local size for Slurm (SLURM_STEP_TASKS_PER_NODE is a compressed list over the nodes,
  // "2(x3),1") nor a local rank for PMIx (PMIx_Get hands it out, not the environment): MPI's
  // shared-memory split gives them once MPI is up.
  static const std::vector<LauncherVariables> launchers = {
      {Launcher::kOpenMpi, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
       "OMPI_COMM_WORLD_LOCAL_SIZE"},
      {Launcher::kPmix, "PMIX_RANK", "PMIX_SIZE", nullptr, nullptr},
      {Launcher::kPmi, "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
      {Launcher::kSlurm, "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", nullptr},
  };
  return launchers;
}

namespace {

// The value of the first launcher's `variable` that is set; -1 when none is.
int first_launcher_value(const char* LauncherVariables::*variable) {
  for (const LauncherVariables& launcher : launcher_variables()) {
    const char* name = launcher.*variable;
    if (name == nullptr) continue;
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return -1;
}

bool sets_rank(Launcher launcher) {
  for (const LauncherVariables& variables : launcher_variables()) {
    if (variables.launcher == launcher) return std::getenv(variables.rank) != nullptr;
  }
  return false;
}

}  // namespace

int launcher_rank_from_env() { return first_launcher_value(&LauncherVariables::rank); }
int launcher_size_from_env() { return first_launcher_value(&LauncherVariables::size); }
int launcher_local_rank_from_env() { return first_launcher_value(&LauncherVariables::local_rank); }
int launcher_local_size_from_env() { return first_launcher_value(&LauncherVariables::local_size); }

Launcher launcher_from_env() {
  // Open MPI 4's mpirun names its daemon in every rank, also inside a Slurm job where the ranks
  // inherit SLURM_PROCID from the srun that started the daemons.
  if (std::getenv("OMPI_MCA_orte_hnp_uri") || (sets_rank(Launcher::kOpenMpi) && !sets_rank(Launcher::kSlurm)))
    return Launcher::kOpenMpi;
  // SLURM_STEP_ID: a task of a job step that srun started, not a shell of the job.
  if (sets_rank(Launcher::kSlurm) && std::getenv("SLURM_STEP_ID")) return Launcher::kSlurm;
  if (sets_rank(Launcher::kPmix)) return Launcher::kPmix;
  if (sets_rank(Launcher::kPmi)) return Launcher::kPmi;
  return Launcher::kNone;
}

MpiLibraryInfo mpi_library_info() {
  MpiLibraryInfo info;
  char version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_CHECK(MPI_Get_library_version(version, &length));  // Open MPI counts the terminating NUL
  info.library = std::string(version);
  info.library = info.library.substr(0, info.library.find('\n'));
  while (!info.library.empty() && (info.library.back() == ' ' || info.library.back() == ','))
    info.library.pop_back();
  MPI_CHECK(MPI_Query_thread(&info.thread_level));
  info.thread_multiple = info.thread_level == MPI_THREAD_MULTIPLE;
  return info;
}

const char* mpi_thread_level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE:
      return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED:
      return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED:
      return "MPI_THREAD_SERIALIZED";
    default:
      return "MPI_THREAD_MULTIPLE";
  }
}

int max_over_ranks(int value) {
  if (!distributed_initialized()) return value;
  int most = value;
  MPI_CHECK(MPI_Allreduce(&value, &most, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  return most;
}

namespace {
constexpr size_t kMessageChunk = size_t(1) << 30;  // MPI counts are int: large texts go in pieces

void send_text(const std::string& text, int to) {
  long long size = static_cast<long long>(text.size());
  MPI_CHECK(MPI_Send(&size, 1, MPI_LONG_LONG, to, 0, MPI_COMM_WORLD));
  for (size_t at = 0; at < text.size(); at += kMessageChunk) {
    const int n = static_cast<int>(std::min(kMessageChunk, text.size() - at));
    MPI_CHECK(MPI_Send(text.data() + at, n, MPI_CHAR, to, 0, MPI_COMM_WORLD));
  }
}

std::string receive_text(int from) {
  long long size = 0;
  MPI_CHECK(MPI_Recv(&size, 1, MPI_LONG_LONG, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
  std::string text(static_cast<size_t>(size), '\0');
  for (size_t at = 0; at < text.size(); at += kMessageChunk) {
    const int n = static_cast<int>(std::min(kMessageChunk, text.size() - at));
    MPI_CHECK(MPI_Recv(text.data() + at, n, MPI_CHAR, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
  }
  return text;
}
}  // namespace

std::string broadcast_text_from_rank0(const std::string& text) {
  if (!distributed_initialized()) return text;
  long long size = static_cast<long long>(text.size());
  MPI_CHECK(MPI_Bcast(&size, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD));
  std::string out = world().rank == 0 ? text : std::string(size_t(size), '\0');
  for (size_t at = 0; at < out.size(); at += kMessageChunk) {
    const int n = static_cast<int>(std::min(kMessageChunk, out.size() - at));
    MPI_CHECK(MPI_Bcast(out.data() + at, n, MPI_CHAR, 0, MPI_COMM_WORLD));
  }
  return out;
}

void gather_text_to_rank0(const std::string& text, const std::function<void(int, std::string)>& receive) {
  if (!distributed_initialized() || world().world_size == 1) {
    receive(0, text);
    return;
  }
  if (world().rank != 0) {
    send_text(text, 0);
    return;
  }
  receive(0, text);
  for (int r = 1; r < world().world_size; ++r) receive(r, receive_text(r));
}

int run_guarded(const std::function<int()>& body) {
  int exit_code = 0;
  try {
    exit_code = body();
  } catch (const Error& e) {
    log_error("{}", format_exception(e));
    exit_code = e.exit_code();
  } catch (const std::exception& e) {
    log_error("unexpected error: {}", e.what());
    exit_code = 1;
  } catch (...) {
    log_error("unexpected non-standard exception");
    exit_code = 1;
  }
  if (exit_code != 0 && distributed_initialized() && g_world.world_size > 1) {
    // Other ranks may be waiting in a collective for this one: end them all now.
    log_error("ending all {} ranks of the job (exit code {})", g_world.world_size, exit_code);
    abort_job(exit_code);
  }
  finalize_distributed();
  return exit_code;
}

}  // namespace clinfm
