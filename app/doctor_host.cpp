// Checks of the node itself: threads against cores, and free, writable disk for the run folder.
#include <fmt/format.h>
#include <sched.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "app/doctor_checks.h"
#include "models/runtime.h"
#include "trainer/comm/launch.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

// CPUs this process may run on (mpirun --bind-to core, srun --cpu-bind, taskset); 0 when unknown.
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
  return CPU_COUNT(&set);
}

// OMP_NUM_THREADS as a number; 0 when unset or not a positive integer (then `text` says so).
int omp_num_threads(std::string* text) {
  const char* value = std::getenv("OMP_NUM_THREADS");
  if (!value) {
    *text = "unset";
    return 0;
  }
  *text = value;
  char* end = nullptr;
  const long n = std::strtol(value, &end, 10);
  return (*end == '\0' || *end == ',') && n > 0 ? static_cast<int>(n) : 0;
}

// Creates, syncs and removes a small file in `dir`; the error text, or "" when it worked.
std::string try_write(const fs::path& dir) {
  std::string name = (dir / ".clinfm-doctor-XXXXXX").string();
  const int fd = mkstemp(name.data());
  if (fd < 0) return std::strerror(errno);
  std::string problem;
  if (write(fd, "x", 1) != 1 || fsync(fd) != 0) problem = std::strerror(errno);
  close(fd);
  unlink(name.c_str());
  return problem;
}

}  // namespace

std::vector<CheckLine> check_threads(const ThreadFacts& facts) {
  std::vector<CheckLine> lines;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  const int usable = usable_cpus();
  const int ranks = facts.ranks_on_node;
  // The same rule the trainer applies to run.threads (trainer/trainer.cpp).
  const int threads = choose_torch_threads(facts.run_threads, ranks, cores);
  const int reported = apply_torch_threads(threads);
  const int kernel_threads = parallel_for_threads(4 * int64_t(reported));  // models/runtime.h
  std::string omp_text;
  const int omp = omp_num_threads(&omp_text);
  const int per_rank = std::max(1, cores / ranks);
  lines.push_back(
      {CheckStatus::kOk, "threads",
       fmt::format("{} cores on this node ({} usable by this rank), {} rank(s) on it; run.threads={} -> {} "
                   "LibTorch threads per rank (LibTorch reports {}; clinfm's CPU kernels split over {}); "
                   "OMP_NUM_THREADS={}",
                   cores, usable, ranks,
                   facts.run_threads == 0 ? "0 (auto)" : std::to_string(facts.run_threads), threads, reported,
                   kernel_threads, omp_text)});
  if (kernel_threads < reported) {
    lines.push_back({CheckStatus::kWarn, "threads",
                     fmt::format("clinfm's CPU kernels (attention, RMSNorm, token NLL) run on {} of the {} "
                                 "LibTorch threads: this build compiled them without OpenMP (clang, or a "
                                 "LibTorch without OpenMP; cmake/ClinfmDependencies.cmake). Results are "
                                 "the same, CPU training is slower: build with GCC (scripts/setup.sh)",
                                 kernel_threads, reported)});
  }
  if (ranks * threads > cores) {
    lines.push_back({CheckStatus::kWarn, "threads",
                     fmt::format("oversubscribed: {} ranks x {} LibTorch threads = {} threads on {} cores; "
                                 "steps slow down several-fold: set run.threads={} (or 0, auto)",
                                 ranks, threads, ranks * threads, cores, per_rank)});
  }
  if (omp > 0 && ranks * omp > cores) {
    lines.push_back({CheckStatus::kWarn, "threads",
                     fmt::format("oversubscribed: {} ranks x OMP_NUM_THREADS={} = {} OpenMP threads on {} "
                                 "cores (OpenMP and BLAS code outside LibTorch's pool use it): export "
                                 "OMP_NUM_THREADS={} (scripts/launch.sh and scripts/slurm/train.sbatch do)",
                                 ranks, omp, ranks * omp, cores, per_rank)});
  }
  if (omp == 1 && per_rank >= 2) {
    lines.push_back({CheckStatus::kWarn, "threads",
                     fmt::format("OMP_NUM_THREADS=1 (as many job scripts set it) while each rank has {} "
                                 "cores: OpenMP code outside LibTorch's pool runs on one thread; export "
                                 "OMP_NUM_THREADS={}",
                                 per_rank, per_rank)});
  }
  if (usable > 0 && usable < threads) {
    lines.push_back({CheckStatus::kWarn, "threads",
                     fmt::format("this rank is bound to {} CPU(s) but runs {} threads, which then share them "
                                 "(mpirun binds each rank to one core by default with 2 or fewer ranks): "
                                 "launch with mpirun --bind-to none (scripts/launch.sh does) or srun "
                                 "--cpus-per-task={}",
                                 usable, threads, threads)});
  }
  return lines;
}

std::vector<CheckLine> check_disk(const std::string& dir, bool dir_must_exist, double min_free_gib) {
  std::error_code ec;
  fs::path checked = dir.empty() ? fs::path(".") : fs::path(dir);
  std::string note;
  const fs::file_status status = fs::status(checked, ec);
  if (ec && ec.value() == ENOTDIR) {
    return {{CheckStatus::kFail, "disk",
             fmt::format("{}: not a folder path (a part of it is a file: {}); pass a folder with --dir", dir,
                         ec.message())}};
  }
  if (!fs::exists(status)) {
    if (dir_must_exist) {
      return {{CheckStatus::kFail, "disk",
               fmt::format("{}: no such folder; create it (mkdir -p {}) or pass another --dir", dir, dir)}};
    }
    // run.out_dir is created by the run: check where it will be created.
    while (!checked.empty() && !fs::exists(checked, ec)) checked = checked.parent_path();
    if (checked.empty()) checked = ".";
    note =
        fmt::format(" ({} does not exist yet; checked {}, where training creates it)", dir, checked.string());
  } else if (!fs::is_directory(status)) {
    return {{CheckStatus::kFail, "disk",
             fmt::format("{}: is a file, not a folder; pass a folder with --dir", dir)}};
  }
  struct statvfs vfs {};
  if (statvfs(checked.c_str(), &vfs) != 0) {
    return {{CheckStatus::kFail, "disk",
             fmt::format("{}: statvfs failed: {}; check the path and its file system", checked.string(),
                         std::strerror(errno))}};
  }
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const double free_gib = static_cast<double>(vfs.f_bavail) * vfs.f_frsize / gib;
  const double total_gib = static_cast<double>(vfs.f_blocks) * vfs.f_frsize / gib;
  const std::string write_problem =
      (vfs.f_flag & ST_RDONLY) ? std::string("read-only file system") : try_write(checked);
  if (!write_problem.empty()) {
    return {{CheckStatus::kFail, "disk",
             fmt::format("{} is not writable ({}){}: checkpoints and metrics cannot be saved there; point "
                         "run.out_dir (or --dir) at a writable folder",
                         checked.string(), write_problem, note)}};
  }
  if (free_gib < min_free_gib) {
    return {{CheckStatus::kWarn, "disk",
             fmt::format(
                 "{}: {:.1f} GiB free of {:.1f} GiB, under {:.0f} GiB{}: checkpoints (checkpoint.keep_last "
                 "of them, several GiB each for base/large) may not fit; free space or use another "
                 "run.out_dir",
                 checked.string(), free_gib, total_gib, min_free_gib, note)}};
  }
  return {{CheckStatus::kOk, "disk",
           fmt::format("{}: {:.1f} GiB free of {:.1f} GiB, writable{}", checked.string(), free_gib, total_gib,
                       note)}};
}

}  // namespace clinfm

namespace clinfm {

std::vector<CheckLine> check_shared_folder(const std::string& dir) {
  if (world().world_size <= 1) return {};
  std::error_code ec;
  fs::path folder = dir.empty() ? fs::path(".") : fs::path(dir);
  while (!folder.empty() && !fs::is_directory(folder, ec)) folder = folder.parent_path();  // as check_disk
  if (folder.empty()) folder = ".";
  std::string token;
  if (world().rank == 0) {
    token = fmt::format("clinfm-doctor-{}-{}", ::getpid(),
                        std::chrono::steady_clock::now().time_since_epoch().count());
    std::ofstream(folder / ("." + token)) << token;
  }
  token = broadcast_text_from_rank0(token);
  const fs::path file = folder / ("." + token);
  std::ifstream in(file);
  std::string seen;
  std::getline(in, seen);
  // Also the barrier before rank 0 removes the file: every rank has read it.
  const int blind_somewhere = max_over_ranks(seen == token ? 0 : 1);
  if (world().rank == 0) fs::remove(file, ec);
  if (seen == token && blind_somewhere == 0)
    return {{CheckStatus::kOk, "shared",
             fmt::format("{} is one folder for all {} ranks (a token rank 0 wrote there was read by each)",
                         folder.string(), world().world_size)}};
  if (seen == token)
    return {{CheckStatus::kFail, "shared",
             fmt::format(
                 "some rank does not see the token rank 0 wrote into {}: checkpoints need run.out_dir on a "
                 "file system shared by every rank, at the same absolute path",
                 folder.string())}};
  return {{CheckStatus::kFail, "shared",
           fmt::format(
               "{} here is not the folder rank 0 wrote a token into: checkpoints need run.out_dir on a file "
               "system shared by every rank, at the same absolute path",
               folder.string())}};
}

}  // namespace clinfm
