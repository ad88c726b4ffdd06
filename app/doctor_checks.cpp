// Checks of the software stack: MPI, GPUs/NCCL, HDF5, BLAS. The machine checks (threads, disk)
// are in doctor_host.cpp.
#include "app/doctor_checks.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "data/hdf5_version.h"
#include "trainer/comm/launch.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

// The launcher that started this process, as the report names it; "" when none.
std::string launcher_name() {
  switch (launcher_from_env()) {
    case Launcher::kOpenMpi:
      return "mpirun (Open MPI)";
    case Launcher::kSlurm:
      return fmt::format("srun (Slurm job {}, step {})", env_or("SLURM_JOB_ID", "?"),
                         env_or("SLURM_STEP_ID", "?"));
    case Launcher::kPmix:
    case Launcher::kPmi:
      return "a PMI launcher";
    default:
      return "";
  }
}

}  // namespace

const char* status_name(CheckStatus status) {
  switch (status) {
    case CheckStatus::kOk:
      return "OK";
    case CheckStatus::kInfo:
      return "INFO";
    case CheckStatus::kWarn:
      return "WARN";
    default:
      return "FAIL";
  }
}

LaunchEnv read_launch_env() {
  return {launcher_name(), std::max(launcher_size_from_env(), 0), std::getenv("SLURM_JOB_ID") != nullptr};
}

std::vector<CheckLine> check_mpi(const LaunchEnv& launch) {
  std::vector<CheckLine> lines;
  const MpiLibraryInfo mpi = mpi_library_info();
  const std::string& library = mpi.library;
  const char* level = mpi_thread_level_name(mpi.thread_level);
  if (mpi.thread_multiple) {
    lines.push_back({CheckStatus::kOk, "mpi", fmt::format("{} ({})", library, level)});
  } else {
    lines.push_back(
        {CheckStatus::kWarn, "mpi",
         fmt::format("{} offers only {}: gradient all-reduces cannot overlap backward; use an MPI "
                     "built with thread support (Debian's OpenMPI has it)",
                     library, level)});
  }

  const WorldInfo& w = world();
  const std::string& launcher = launch.launcher;
  const int started = launch.started;
  if (!launcher.empty() && started > 1 && started != w.world_size) {
    lines.push_back(
        {CheckStatus::kFail, "mpi",
         fmt::format("{} started {} processes but MPI sees a world of {}: this MPI library cannot "
                     "talk to the launcher; use the mpirun of the MPI clinfm was built with, or "
                     "srun --mpi=pmix (srun --mpi=list shows what Slurm offers)",
                     launcher, started, w.world_size)});
  } else if (launcher.empty() && launch.in_slurm_job) {
    lines.push_back(
        {CheckStatus::kWarn, "mpi",
         fmt::format("inside Slurm job {} but not started by srun: a world of 1; run `srun clinfm "
                     "...` (scripts/slurm/train.sbatch does)",
                     env_or("SLURM_JOB_ID", "?"))});
  } else {
    lines.push_back(
        {CheckStatus::kOk, "mpi",
         fmt::format("launched by {}: world size {}, {} rank(s) on this node",
                     launcher.empty() ? "nothing (a plain process)" : launcher, w.world_size, w.local_size)});
  }
  return lines;
}

std::vector<CheckLine> check_gpu(int ranks_on_node) {
  std::vector<CheckLine> lines;
#ifdef CLINFM_WITH_CUDA
  const bool cuda_build = true;
#else
  const bool cuda_build = false;
#endif
  const int devices = static_cast<int>(torch::cuda::device_count());
  std::error_code ec;
  int driver_gpus = 0;  // GPUs the NVIDIA driver knows, whatever this build can use
  if (fs::is_directory("/proc/driver/nvidia/gpus", ec)) {
    for (const auto& entry : fs::directory_iterator("/proc/driver/nvidia/gpus", ec)) {
      (void)entry;
      ++driver_gpus;
    }
  }
  if (!cuda_build) {
    if (driver_gpus > 0) {
      lines.push_back({CheckStatus::kWarn, "gpu",
                       fmt::format("this machine has {} NVIDIA GPU(s) but this clinfm is a CPU build (its "
                                   "LibTorch has no CUDA): build with scripts/gpu/configure.sh (docs/gpu.md)",
                                   driver_gpus)});
    } else {
      lines.push_back({CheckStatus::kInfo, "gpu",
                       "CPU build (LibTorch without CUDA, no NCCL) and no GPU on this node: training runs on "
                       "the CPU over MPI; nothing to do"});
    }
    return lines;
  }
  if (devices == 0 && driver_gpus == 0) {
    lines.push_back({CheckStatus::kInfo, "gpu",
                     "CUDA build with NCCL and no GPU on this node: training runs on the CPU over MPI; "
                     "nothing to do"});
  } else if (devices == 0) {
    lines.push_back({CheckStatus::kWarn, "gpu",
                     fmt::format("CUDA build with NCCL, but LibTorch sees no CUDA device (driver lists {}, "
                                 "CUDA_VISIBLE_DEVICES={}): check nvidia-smi and CUDA_VISIBLE_DEVICES, or "
                                 "request GPUs from Slurm (--gpus-per-task)",
                                 driver_gpus, env_or("CUDA_VISIBLE_DEVICES", "(unset)"))});
  } else if (ranks_on_node > devices) {
    lines.push_back({CheckStatus::kWarn, "gpu",
                     fmt::format("{} rank(s) on this node but {} visible CUDA device(s): ranks would share "
                                 "GPUs; start one rank per GPU",
                                 ranks_on_node, devices)});
  } else {
    lines.push_back({CheckStatus::kOk, "gpu",
                     fmt::format("CUDA build with NCCL; {} CUDA device(s) visible, {} rank(s) on this node "
                                 "(GPU = local rank)",
                                 devices, ranks_on_node)});
  }
  std::string nccl_env;
  for (const char* name :
       {"NCCL_DEBUG", "NCCL_SOCKET_IFNAME", "NCCL_IB_HCA", "NCCL_IB_DISABLE", "NCCL_P2P_DISABLE"}) {
    if (const char* value = std::getenv(name)) nccl_env += fmt::format(" {}={}", name, value);
  }
  if (!nccl_env.empty()) lines.push_back({CheckStatus::kInfo, "gpu", "NCCL environment:" + nccl_env});
  return lines;
}

std::vector<CheckLine> check_hdf5() {
  const Hdf5Versions v = hdf5_versions();
  if (v.header != v.runtime) {
    return {{CheckStatus::kFail, "hdf5",
             fmt::format("clinfm was compiled against HDF5 {} but loads libhdf5 {}: headers and library come "
                         "from different installs; rebuild clinfm, or fix LD_LIBRARY_PATH so that the "
                         "libhdf5 of version {} is found first",
                         v.header, v.runtime, v.header)}};
  }
  return {{CheckStatus::kOk, "hdf5", fmt::format("HDF5 {} (headers and library agree)", v.header)}};
}

std::vector<CheckLine> check_blas() {
  // A small matmul first, so that a BLAS loaded lazily is mapped too.
  const torch::Tensor product = torch::mm(torch::ones({64, 64}), torch::ones({64, 64}));
  const float corner = product[0][0].item<float>();
  std::set<std::string> mapped;  // BLAS shared objects in this process
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string name = fs::path(path).filename().string();
    for (const char* library : {"blas", "mkl_", "blis", "atlas", "armpl"}) {
      if (name.find(library) != std::string::npos) mapped.insert(path);
    }
  }
  std::vector<CheckLine> lines;
  if (corner != 64.0f) {
    lines.push_back({CheckStatus::kFail, "blas",
                     fmt::format("a 64x64 matmul of ones gave {} instead of 64: the BLAS library is broken; "
                                 "reinstall it",
                                 corner)});
  }
  bool reference = false, fast = false;
  for (const auto& path : mapped) {
    if (path.find("/blas/") != std::string::npos && path.find("libblas.so") != std::string::npos)
      reference = true;
    if (path.find("openblas") != std::string::npos || path.find("mkl") != std::string::npos ||
        path.find("blis") != std::string::npos || path.find("armpl") != std::string::npos)
      fast = true;
  }
  std::string found;
  for (const auto& path : mapped) found += (found.empty() ? "" : ", ") + path;
  if (reference && !fast) {
    lines.push_back({CheckStatus::kWarn, "blas",
                     fmt::format("the reference BLAS is in use ({}): matmuls are ~12x slower than with "
                                 "OpenBLAS; apt-get install libopenblas0-openmp (or select it with "
                                 "update-alternatives --config libblas.so.3-x86_64-linux-gnu)",
                                 found)});
  } else if (fast) {
    const bool pthread_openblas = found.find("openblas-pthread") != std::string::npos;
    lines.push_back({CheckStatus::kOk, "blas",
                     fmt::format("{}{}", found,
                                 pthread_openblas ? " (the pthread variant; libopenblas0-openmp shares "
                                                    "LibTorch's OpenMP threads instead of adding its own)"
                                                  : "")});
  } else {
    // No BLAS shared object: LibTorch carries its own (PyTorch wheels link MKL statically).
    const std::string config = at::show_config();
    const size_t at_blas = config.find("BLAS_INFO=");
    const std::string info =
        at_blas == std::string::npos
            ? "unknown"
            : config.substr(at_blas + 10, config.find_first_of(", \n", at_blas) - at_blas - 10);
    lines.push_back({CheckStatus::kOk, "blas",
                     fmt::format("no BLAS shared object mapped: LibTorch's own (BLAS_INFO={})", info)});
  }
  return lines;
}

int most_failures_of_any_rank(int failures) { return max_over_ranks(failures); }

}  // namespace clinfm
