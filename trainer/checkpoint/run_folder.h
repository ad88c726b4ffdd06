// Who may write a run folder, and what a fresh run may do to one. Torch-free.
//   RUN/run.lock   held by rank 0 of the job that writes the run: JSON with host, PID, the PID's
//                  start time and boot id, start time, Slurm job id and a random token. Its
//                  modification time is the job's heartbeat (refreshed every lock_stale_s / 4 s by
//                  a thread). A second job on the folder stops with an error naming the holder; a
//                  lock whose job is dead (same host: the PID is gone or is another process; other
//                  host: no heartbeat for lock_stale_s) is taken over with a warning; a live one is
//                  waited on for lock_stale_s (a killed job's ranks may outlive mpirun). Every rank
//                  reads the lock's token to prove it sees rank 0's folder (a shared file system).
//   A fresh run refuses a folder that holds another run's weights or checkpoints; with
//   --overwrite it first moves that run's own files (config.yaml, metrics.jsonl, model.pt,
//   checkpoints/) by rename into RUN/previous-<UTC time>/ and touches nothing else.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace clinfm {

inline constexpr const char* kRunLockFile = "run.lock";

// What the lock file says about the job holding it.
struct LockHolder {
  std::string host, boot_id, started, slurm_job_id, token;
  int64_t pid = 0;
  int64_t pid_start_ticks = 0;  // field 22 of /proc/PID/stat: tells a reused PID apart
  double heartbeat_age_s = 0;   // seconds since the lock file was last touched
  std::string describe() const;
};

// The holder of `path`'s lock; false when there is none or it cannot be parsed (a damaged lock
// counts as stale).
bool read_lock_holder(const std::string& path, LockHolder* holder);

// Whether the holder's job is certainly gone: on this host (same boot) its PID is not running or
// runs another process; on another host its heartbeat is older than `stale_s`.
bool lock_is_stale(const LockHolder& holder, double stale_s);

class RunLock {
 public:
  RunLock() = default;
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // Creates RUN/run.lock (and RUN). A lock of a job that is gone is taken over with a warning;
  // a live job's lock is waited on for up to `stale_s` (it may be ending; from another host its
  // heartbeat may stop), then it is an InputError naming the job.
  void acquire(const std::string& run_dir, double stale_s);
  // Removes the lock when it is still this job's.
  void release();
  const std::string& path() const { return path_; }
  const std::string& token() const { return token_; }
  // True once the heartbeat found the lock file gone or another job's: this job must stop.
  bool lost() const { return lost_.load(); }
  const std::string& lost_reason() const { return lost_reason_; }

 private:
  void heartbeat(double period_s);

  std::string path_, token_;
  std::atomic<bool> lost_{false};
  std::string lost_reason_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

// The files of an earlier run in `run_dir` that a fresh run would overwrite or mix with.
struct PreviousRun {
  bool weights = false;                  // RUN/model.pt
  std::vector<std::string> checkpoints;  // names under RUN/checkpoints (step-*, .tmp-*), sorted
  bool empty() const { return !weights && checkpoints.empty(); }
  std::string describe() const;
};
PreviousRun find_previous_run(const std::string& run_dir);

// A fresh run's check of its folder: nothing to do when the folder holds no earlier run; with
// `overwrite` the earlier run's files are moved into RUN/previous-<time>/ (returned; empty when
// nothing moved); otherwise an InputError naming the folder and the ways on.
std::string claim_run_folder(const std::string& run_dir, bool overwrite);

// 16 random hex digits: the lineage of a run, kept across resumes (state.json's run_id).
std::string new_run_id();

}  // namespace clinfm
