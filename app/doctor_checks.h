// The checks of `clinfm doctor`: each looks at one thing a training run depends on (MPI, GPUs,
// HDF5, BLAS, threads, disk) and says what it found and what to do about it. They only read
// the machine; they change nothing except LibTorch's thread count of this short-lived process.
#pragma once

#include <string>
#include <vector>

namespace clinfm {

enum class CheckStatus { kOk, kInfo, kWarn, kFail };

struct CheckLine {
  CheckStatus status = CheckStatus::kOk;
  std::string section;  // "mpi", "gpu", "hdf5", "blas", "threads", "disk"
  std::string text;     // what was found, then what to do (when not OK)
};

const char* status_name(CheckStatus status);

// What the thread checks need to know about the launch.
struct ThreadFacts {
  int ranks_on_node = 1;
  int run_threads = 0;  // run.threads of the config (0: auto)
};

// How the process was started, read from the launcher's variables. Read it before MPI starts:
// a singleton MPI_Init sets PMIx variables of its own.
struct LaunchEnv {
  std::string launcher;  // "mpirun (Open MPI)", "srun (Slurm job J, step S)", ...; "" when none
  int started = 0;       // processes the launcher says it started; 0 when unknown
  bool in_slurm_job = false;
};
LaunchEnv read_launch_env();

// MPI must be initialised (init_distributed) before check_mpi.
std::vector<CheckLine> check_mpi(const LaunchEnv& launch);
std::vector<CheckLine> check_gpu(int ranks_on_node);
std::vector<CheckLine> check_hdf5();
std::vector<CheckLine> check_blas();
std::vector<CheckLine> check_threads(const ThreadFacts& facts);
// `dir_must_exist`: a folder named with --dir must exist; run.out_dir of a config may not yet
// (training creates it), then its nearest existing parent is checked.
std::vector<CheckLine> check_disk(const std::string& dir, bool dir_must_exist, double min_free_gib);

// The largest `failures` of any rank, so that every rank exits with the same code.
int most_failures_of_any_rank(int failures);
// Collective: rank 0 writes a token file into `dir` (or the folder where it will be created);
// every rank reads it. A rank that cannot FAILs: checkpoints need one run folder seen by all
// ranks. Nothing (an empty list) in a world of one.
std::vector<CheckLine> check_shared_folder(const std::string& dir);

}  // namespace clinfm
