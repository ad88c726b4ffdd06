#include "trainer/comm/launch.h"

#include <mpi.h>

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

int launcher_rank_from_env() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return -1;
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
