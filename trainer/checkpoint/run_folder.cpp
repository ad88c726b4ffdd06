#include "trainer/checkpoint/run_folder.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "trainer/checkpoint/layout.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

std::string this_host() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown-host";
  return name;
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string boot_id() { return first_line("/proc/sys/kernel/random/boot_id"); }

// Field 22 (starttime) of /proc/PID/stat; 0 when the process does not exist or is unreadable.
int64_t pid_start_ticks(int64_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  for (int index = 3; index <= 22 && (fields >> field); ++index)
    if (index == 22) return std::strtoll(field.c_str(), nullptr, 10);
  return 0;
}

std::string utc_now(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[64];
  std::strftime(text, sizeof(text), format, &tm);
  return text;
}

double file_age_s(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  const double modified = double(st.st_mtim.tv_sec) + 1e-9 * double(st.st_mtim.tv_nsec);
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return double(now.tv_sec) + 1e-9 * double(now.tv_nsec) - modified;
}

std::string lock_json(const std::string& token) {
  const char* job = std::getenv("SLURM_JOB_ID");
  const nlohmann::json j = {{"host", this_host()},
                            {"pid", int64_t(getpid())},
                            {"pid_start_ticks", pid_start_ticks(getpid())},
                            {"boot_id", boot_id()},
                            {"started", utc_now("%Y-%m-%dT%H:%M:%SZ")},
                            {"slurm_job_id", job ? job : ""},
                            {"token", token}};
  return j.dump(2) + "\n";
}

// Creates `path` only if it does not exist, with `bytes`, fsynced. False when it exists.
bool create_exclusive(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    throw Error(fmt::format("{}: cannot create the run folder's lock: {}", path, std::strerror(errno)),
                "check that run.out_dir is on a writable file system");
  }
  const bool ok = ::write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size()) && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    throw Error(fmt::format("{}: cannot write the run folder's lock: {}", path, std::strerror(saved)),
                "free disk space in run.out_dir");
  }
  return true;
}

}  // namespace

std::string LockHolder::describe() const {
  std::string text = fmt::format("PID {} on host {}, started {}", pid, host, started);
  if (!slurm_job_id.empty()) text += fmt::format(", Slurm job {}", slurm_job_id);
  return text + fmt::format(", heartbeat {:.0f} s ago", heartbeat_age_s);
}

bool read_lock_holder(const std::string& path, LockHolder* holder) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;  // none, or a folder in its place
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error&) {
    return false;
  }
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    holder->host = j.at("host").get<std::string>();
    holder->pid = j.at("pid").get<int64_t>();
    holder->pid_start_ticks = j.at("pid_start_ticks").get<int64_t>();
    holder->boot_id = j.at("boot_id").get<std::string>();
    holder->started = j.at("started").get<std::string>();
    holder->slurm_job_id = j.at("slurm_job_id").get<std::string>();
    holder->token = j.at("token").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  holder->heartbeat_age_s = file_age_s(path);
  return true;
}

bool lock_is_stale(const LockHolder& holder, double stale_s) {
  if (holder.host == this_host()) {
    if (holder.boot_id != boot_id()) return true;  // the machine has rebooted since
    if (holder.pid <= 0) return true;
    if (::kill(pid_t(holder.pid), 0) != 0 && errno == ESRCH) return true;
    const int64_t ticks = pid_start_ticks(holder.pid);
    return ticks > 0 && holder.pid_start_ticks > 0 && ticks != holder.pid_start_ticks;  // PID reused
  }
  return holder.heartbeat_age_s > stale_s;
}

RunLock::~RunLock() {
  try {
    release();
  } catch (...) {
  }
}

void RunLock::acquire(const std::string& run_dir, double stale_s) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec)
    throw Error(fmt::format("run.out_dir {}: cannot create the folder: {}", run_dir, ec.message()),
                "point run.out_dir at a writable location");
  path_ = (fs::path(run_dir) / kRunLockFile).string();
  token_ = new_run_id() + new_run_id();
  const auto started = std::chrono::steady_clock::now();
  bool said_waiting = false;
  for (;;) {
    if (create_exclusive(path_, lock_json(token_))) break;
    LockHolder holder;
    const bool readable = read_lock_holder(path_, &holder);
    if (!readable && file_age_s(path_) < 5) {  // being written by a job starting right now
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    if (!readable || lock_is_stale(holder, stale_s)) {
      log_warn("{}: taking over the lock of a job that is gone ({})", path_,
               readable ? holder.describe() : std::string("the lock file is unreadable"));
      LockHolder again;  // remove it only if it is still the stale one
      if ((!readable || (read_lock_holder(path_, &again) && again.token == holder.token)) &&
          ::unlink(path_.c_str()) != 0 && errno != ENOENT) {
        throw Error(fmt::format("{}: cannot remove the stale lock: {}", path_, std::strerror(errno)),
                    "remove it by hand (it must be a file) and start the job again");
      }
      continue;
    }
    // Held by a live job: wait for it to end (an old job's ranks may outlive its launcher by a
    // few seconds after a kill or a requeue) or, from another host, for its heartbeat to stop.
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (waited > stale_s + 2) {
      throw InputError(
          fmt::format("run folder {} is in use by another job ({}); waited {:.0f} s for it to end", run_dir,
                      holder.describe(), waited),
          fmt::format("wait for that job to end, or give this one another run.out_dir; if that job "
                      "is certainly gone, remove {}",
                      path_));
    }
    if (!said_waiting) {
      log_warn("run folder {} is locked by {}: waiting up to {:.0f} s (run.lock_stale_s) for that job to end",
               run_dir, holder.describe(), stale_s);
      said_waiting = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const double period_s = std::max(0.2, stale_s / 4);
  thread_ = std::thread([this, period_s] { heartbeat(period_s); });
}

void RunLock::heartbeat(double period_s) {
  std::unique_lock<std::mutex> guard(mutex_);
  while (!stopping_) {
    wake_.wait_for(guard, std::chrono::duration<double>(period_s));
    if (stopping_) break;
    LockHolder holder;
    if (!read_lock_holder(path_, &holder) || holder.token != token_) {
      lost_reason_ = read_lock_holder(path_, &holder)
                         ? fmt::format("{} now belongs to another job ({})", path_, holder.describe())
                         : fmt::format("{} was removed", path_);
      lost_ = true;
      return;
    }
    ::utimensat(AT_FDCWD, path_.c_str(), nullptr, 0);  // the heartbeat: mtime = now
  }
}

void RunLock::release() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  if (path_.empty()) return;
  LockHolder holder;
  if (read_lock_holder(path_, &holder) && holder.token == token_) ::unlink(path_.c_str());
  path_.clear();
}

std::string PreviousRun::describe() const {
  std::vector<std::string> parts;
  if (weights) parts.push_back("model.pt");
  std::string newest;
  for (const std::string& name : checkpoints)
    if (name.rfind(".tmp-", 0) != 0) newest = name;  // sorted: the last published is the newest
  if (!checkpoints.empty())
    parts.push_back(fmt::format("{} checkpoint folder(s){}", checkpoints.size(),
                                newest.empty() ? std::string(", none finished") : ", the newest " + newest));
  return fmt::format("{}", fmt::join(parts, " and "));
}

PreviousRun find_previous_run(const std::string& run_dir) {
  PreviousRun previous;
  std::error_code ec;
  previous.weights = fs::exists(fs::path(run_dir) / "model.pt", ec);
  const fs::path dir = checkpoints_dir(run_dir);
  if (fs::is_directory(dir, ec)) {
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      const std::string step_name = name.rfind(".tmp-", 0) == 0 ? name.substr(5) : name;
      if (parse_checkpoint_name(step_name) >= 0) previous.checkpoints.push_back(name);
    }
  }
  std::sort(previous.checkpoints.begin(), previous.checkpoints.end());
  return previous;
}

std::string claim_run_folder(const std::string& run_dir, bool overwrite) {
  const PreviousRun previous = find_previous_run(run_dir);
  if (previous.empty()) return {};
  if (!overwrite) {
    throw InputError(
        fmt::format("run folder {} holds another run ({}): a fresh run would overwrite it", run_dir,
                    previous.describe()),
        "continue that run with --resume auto, give this run a new run.out_dir, or pass --overwrite to move "
        "the old run's files into " +
            (fs::path(run_dir) / "previous-<time>").string());
  }
  fs::path dest = fs::path(run_dir) / ("previous-" + utc_now("%Y%m%dT%H%M%SZ"));
  for (int n = 2; fs::exists(dest); ++n)
    dest = fs::path(run_dir) / fmt::format("previous-{}-{}", utc_now("%Y%m%dT%H%M%SZ"), n);
  try {
    fs::create_directory(dest);
    for (const char* name : {"checkpoints", "model.pt", "metrics.jsonl", "config.yaml"}) {
      std::error_code ec;
      if (fs::exists(fs::path(run_dir) / name, ec)) fs::rename(fs::path(run_dir) / name, dest / name);
    }
    fsync_directory(dest.string());
    fsync_directory(run_dir);
  } catch (const fs::filesystem_error& e) {
    throw Error(fmt::format("--overwrite: cannot move the old run of {} into {}: {}", run_dir, dest.string(),
                            e.what()),
                "move the old run's files away by hand, or give this run a new run.out_dir");
  }
  log_warn("--overwrite: the old run of {} ({}) was moved into {}", run_dir, previous.describe(),
           dest.string());
  return dest.string();
}

std::string new_run_id() {
  std::random_device device;
  const uint64_t value = (uint64_t(device()) << 32) ^ uint64_t(device()) ^
                         uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  return fmt::format("{:016x}", value);
}

}  // namespace clinfm
