// How a clinfm process starts and ends under a launcher (mpirun, srun) or alone.
// MPI provides the rank, world size and local rank; a process started without a launcher is a
// world of one. Before MPI starts, the same come from the launcher's environment variables,
// which this file alone knows (one table, launch.cpp). run_guarded() is the single boundary that catches
// every exception: it logs the error with the rank and ends the whole job (MPI_Abort) so that no rank is left
// hanging.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace clinfm {

struct WorldInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // rank among the processes on this host (GPU index on CUDA)
  int local_size = 1;
};

// Starts MPI (thread level MPI_THREAD_MULTIPLE if available, else the best offered), sets the
// log context and returns the world. Idempotent.
WorldInfo init_distributed(int* argc, char*** argv);
bool distributed_initialized();
const WorldInfo& world();
// Finalizes MPI if init_distributed started it. Called by run_guarded on success.
void finalize_distributed();
// Ends every rank of the job now with `exit_code` (MPI_Abort when MPI is up, exit otherwise).
[[noreturn]] void abort_job(int exit_code);

// The launchers whose environment clinfm reads. kPmix and kPmi stand for any launcher that
// speaks that protocol (srun --mpi=pmix, MPICH's and Intel MPI's mpiexec, ...).
enum class Launcher { kNone, kOpenMpi, kPmix, kPmi, kSlurm };

// The variables by which a launcher tells each process it starts where it stands; nullptr where
// the launcher sets none.
struct LauncherVariables {
  Launcher launcher;
  const char* rank;        // this process among all that the launcher started: 0 .. size - 1
  const char* size;        // how many processes the launcher started
  const char* local_rank;  // this process among those on its host: 0 .. local_size - 1
  const char* local_size;  // how many of them run on this host
};

// Every known launcher, in the order its variables are read (launch.cpp says why this order).
const std::vector<LauncherVariables>& launcher_variables();

// Read from the launcher's environment, before MPI starts: each from the first launcher of
// launcher_variables() that sets it; -1 when none does (not started by a known launcher).
int launcher_rank_from_env();
int launcher_size_from_env();
int launcher_local_rank_from_env();  // the GPU a rank uses on a CUDA host
int launcher_local_size_from_env();
// Which launcher started this process (for `clinfm doctor`); kNone for a plain process.
Launcher launcher_from_env();

// The MPI library's first version line (e.g. "Open MPI v4.1.4") and the thread level it
// provides, for diagnostics (`clinfm doctor`). Needs init_distributed().
struct MpiLibraryInfo {
  std::string library;
  int thread_level = 0;  // MPI_THREAD_*
  bool thread_multiple = false;
};
MpiLibraryInfo mpi_library_info();
// "MPI_THREAD_SINGLE" .. "MPI_THREAD_MULTIPLE".
const char* mpi_thread_level_name(int level);

// The largest `value` over all ranks (MPI_Allreduce with MPI_MAX; `value` alone without MPI),
// so that every rank acts on the same verdict.
int max_over_ranks(int value);
// Rank 0's `text` on every rank (MPI_Bcast; `text` itself without MPI).
std::string broadcast_text_from_rank0(const std::string& text);
// Every rank's `text`, handed to `receive(rank, text)` on rank 0 in rank order, one at a time
// (rank 0's own first), so that rank 0 can merge them without holding all; the other ranks send
// theirs and return. Without MPI: receive(0, text).
void gather_text_to_rank0(const std::string& text, const std::function<void(int, std::string)>& receive);

// Runs `body`; returns its exit code. On an exception: logs it on the failing rank, then
// aborts the whole job if MPI is up with more than one rank, else returns the error's exit code.
int run_guarded(const std::function<int()>& body);

}  // namespace clinfm
