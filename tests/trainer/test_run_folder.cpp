// Run-folder safety in one process: the lock (a second holder waits, then is refused; stale locks of dead,
// reused-PID and silent remote jobs taken over, a live remote job waited on and then refused,
// a taken lock noticed by the heartbeat), a fresh run's claim on a folder holding another run
// (refused; --overwrite moves only the run's own files), and retention restricted to the run's
// own lineage with `latest` always naming a checkpoint that exists. Whole jobs (two mpirun jobs
// on one folder, a fresh run into a finished one, ranks that do not share the folder) are in
// tests/mpi/run_folder_test.sh.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "../data/prep_fixture.h"
#include "common/error.h"
#include "common/fs.h"
#include "trainer/checkpoint/layout.h"
#include "trainer/checkpoint/run_folder.h"
#include "trainer/checkpoint/writer.h"
#include "trainer/comm/communicator.h"

namespace clinfm {
namespace {
namespace fs = std::filesystem;

std::string hostname() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

std::string boot_id() {
  std::string text = read_file("/proc/sys/kernel/random/boot_id");
  return text.substr(0, text.find('\n'));
}

// A lock file as another job would have written it.
void write_lock(const std::string& dir, const std::string& host, int64_t pid, int64_t ticks,
                const std::string& token = "someone-else") {
  fs::create_directories(dir);
  const nlohmann::json j = {{"host", host},
                            {"pid", pid},
                            {"pid_start_ticks", ticks},
                            {"boot_id", boot_id()},
                            {"started", "2026-01-01T00:00:00Z"},
                            {"slurm_job_id", "77"},
                            {"token", token}};
  write_file_atomic(dir + "/run.lock", j.dump());
}

void age_file(const std::string& path, int seconds) {
  const timespec then{time(nullptr) - seconds, 0};
  const timespec times[2] = {then, then};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

int64_t dead_pid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return child;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return std::string(e.what()) + "\n  hint: " + e.hint();
  }
  return "(no error)";
}

TEST(RunLock, IsExclusiveWhileHeldAndRemovedOnRelease) {
  testing::TempDir dir;
  const std::string run = dir / "run";
  RunLock first;
  first.acquire(run, 60);
  LockHolder holder;
  ASSERT_TRUE(read_lock_holder(run + "/run.lock", &holder));
  EXPECT_EQ(holder.pid, getpid());
  EXPECT_EQ(holder.host, hostname());
  EXPECT_EQ(holder.token, first.token());
  RunLock second;
  const std::string error = error_of([&] { second.acquire(run, 1); });  // waits 1 s for it to end
  EXPECT_NE(error.find("is in use by another job (PID " + std::to_string(getpid())), std::string::npos)
      << error;
  EXPECT_NE(error.find("waited"), std::string::npos) << error;
  EXPECT_NE(error.find("run.lock"), std::string::npos) << error;
  first.release();
  EXPECT_FALSE(fs::exists(run + "/run.lock"));
  second.acquire(run, 60);  // free now
  EXPECT_TRUE(fs::exists(run + "/run.lock"));
}

TEST(RunLock, TakesOverTheLocksOfJobsThatAreGone) {
  testing::TempDir dir;
  const std::string run = dir / "run";
  // This host, a PID that has exited.
  write_lock(run, hostname(), dead_pid(), 1);
  {
    RunLock lock;
    lock.acquire(run, 60);
    LockHolder holder;
    ASSERT_TRUE(read_lock_holder(run + "/run.lock", &holder));
    EXPECT_EQ(holder.token, lock.token());
  }
  // This host, a live PID (ours) that is another process now: its start time differs.
  write_lock(run, hostname(), getpid(), 1);
  LockHolder reused;
  ASSERT_TRUE(read_lock_holder(run + "/run.lock", &reused));
  EXPECT_TRUE(lock_is_stale(reused, 60));
  {
    RunLock lock;
    lock.acquire(run, 60);
  }
  // Another host whose heartbeat stopped 200 s ago.
  write_lock(run, "node-that-died", 4242, 1);
  age_file(run + "/run.lock", 200);
  {
    RunLock lock;
    lock.acquire(run, 120);
    LockHolder holder;
    ASSERT_TRUE(read_lock_holder(run + "/run.lock", &holder));
    EXPECT_EQ(holder.host, hostname());
  }
  // A damaged lock file (old enough not to be one being written).
  write_file_atomic(run + "/run.lock", "{\"host\": ");
  age_file(run + "/run.lock", 30);
  RunLock lock;
  lock.acquire(run, 60);
  EXPECT_TRUE(fs::exists(run + "/run.lock"));
}

TEST(RunLock, ALockThatIsAFolderIsAnErrorNotALoop) {
  testing::TempDir dir;
  const std::string run = dir / "run";
  fs::create_directories(run + "/run.lock");
  age_file(run + "/run.lock", 30);
  RunLock lock;
  const std::string error = error_of([&] { lock.acquire(run, 60); });
  EXPECT_NE(error.find("run.lock: cannot remove the stale lock"), std::string::npos) << error;
}

TEST(RunLock, WaitsForALiveRemoteJobThenRefuses) {
  testing::TempDir dir;
  const std::string run = dir / "run";
  write_lock(run, "other-node", 4242, 1);
  std::atomic<bool> stop{false};
  std::thread heartbeat([&] {  // the other job keeps its lock fresh
    while (!stop) {
      utimensat(AT_FDCWD, (run + "/run.lock").c_str(), nullptr, 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  RunLock lock;
  const auto started = std::chrono::steady_clock::now();
  const std::string error = error_of([&] { lock.acquire(run, 1); });
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  stop = true;
  heartbeat.join();
  EXPECT_NE(error.find("in use by another job (PID 4242 on host other-node"), std::string::npos) << error;
  EXPECT_NE(error.find("Slurm job 77"), std::string::npos) << error;
  EXPECT_GE(waited, 3.0);  // it waited for the heartbeat to stop before giving up
  LockHolder holder;
  ASSERT_TRUE(read_lock_holder(run + "/run.lock", &holder));
  EXPECT_EQ(holder.token, "someone-else");  // the live job's lock is untouched
}

TEST(RunLock, HeartbeatNoticesALockTakenByAnotherJob) {
  testing::TempDir dir;
  const std::string run = dir / "run";
  RunLock lock;
  lock.acquire(run, 0.4);  // heartbeat every 0.2 s
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(lock.lost());
  write_lock(run, "other-node", 4242, 1);  // e.g. taken over by a job that thought this one dead
  for (int i = 0; i < 50 && !lock.lost(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(lock.lost());
  EXPECT_NE(lock.lost_reason().find("now belongs to another job (PID 4242 on host other-node"),
            std::string::npos)
      << lock.lost_reason();
  lock.release();
  EXPECT_TRUE(fs::exists(run + "/run.lock"));  // not ours: left alone
}

TEST(RunFolder, AFreshRunRefusesAnotherRunsFolderAndOverwriteMovesOnlyItsFiles) {
  testing::TempDir dir;
  const std::string run = dir / "run";
  fs::create_directories(run + "/data");
  write_file_atomic(run + "/notes.txt", "mine");
  write_file_atomic(run + "/config.yaml", "old config");
  EXPECT_EQ(claim_run_folder(run, false), "");  // a config and other files are no run to lose
  write_file_atomic(run + "/metrics.jsonl", "{\"step\": 1}\n");
  write_file_atomic(run + "/model.pt", "old weights");
  fs::create_directories(run + "/checkpoints/step-00000040");
  fs::create_directories(run + "/checkpoints/.tmp-step-00000050");
  write_file_atomic(run + "/checkpoints/latest", "step-00000040\n");

  const PreviousRun previous = find_previous_run(run);
  EXPECT_TRUE(previous.weights);
  EXPECT_EQ(previous.checkpoints, (std::vector<std::string>{".tmp-step-00000050", "step-00000040"}));
  const std::string error = error_of([&] { claim_run_folder(run, false); });
  EXPECT_NE(error.find("run folder " + run + " holds another run (model.pt and 2 checkpoint folder(s)"),
            std::string::npos)
      << error;
  for (const char* way : {"--resume auto", "new run.out_dir", "--overwrite"})
    EXPECT_NE(error.find(way), std::string::npos) << error;
  EXPECT_EQ(read_file(run + "/model.pt"), "old weights");  // untouched

  const std::string moved = claim_run_folder(run, true);
  ASSERT_NE(moved, "");
  EXPECT_EQ(fs::path(moved).parent_path(), fs::path(run));
  EXPECT_EQ(fs::path(moved).filename().string().rfind("previous-", 0), 0u);
  EXPECT_EQ(read_file(moved + "/model.pt"), "old weights");
  EXPECT_EQ(read_file(moved + "/metrics.jsonl"), "{\"step\": 1}\n");
  EXPECT_EQ(read_file(moved + "/config.yaml"), "old config");
  EXPECT_EQ(read_file(moved + "/checkpoints/latest"), "step-00000040\n");
  EXPECT_TRUE(fs::is_directory(moved + "/checkpoints/step-00000040"));
  EXPECT_TRUE(find_previous_run(run).empty());
  EXPECT_EQ(read_file(run + "/notes.txt"), "mine");  // not the run's: not moved
  EXPECT_TRUE(fs::is_directory(run + "/data"));
}

// A checkpoint with a state.json of lineage `run_id` (and the tuning loss of its step, if any).
void write_checkpoint(const std::string& run, int64_t step, const std::string& run_id,
                      std::optional<double> validation_loss = std::nullopt) {
  CheckpointMeta meta;
  meta.step = step;
  meta.run_id = run_id;
  meta.validation_loss = validation_loss;
  const std::string dir = checkpoints_dir(run) + "/" + checkpoint_name(step);
  fs::create_directories(dir);
  write_file_atomic(dir + "/state.json", meta.to_json().dump());
}

std::vector<int64_t> steps_in(const std::string& run) {
  std::vector<int64_t> steps;
  for (const std::string& dir : list_checkpoints(run))
    steps.push_back(parse_checkpoint_name(fs::path(dir).filename().string()));
  return steps;
}

TEST(Retention, RemovesOnlyTheRunsOwnCheckpointsAndNeverTheOneJustPublished) {
  testing::TempDir dir;
  const std::string run = dir / "run";
  write_checkpoint(run, 10, "aaaa");
  write_checkpoint(run, 20, "aaaa");
  write_checkpoint(run, 30, "aaaa");  // a later one of the same lineage (resumed from an earlier)
  write_checkpoint(run, 40, "bbbb");  // another run's
  write_checkpoint(run, 5, "");       // written before run ids
  fs::create_directories(checkpoints_dir(run) + "/step-00000001");  // no state.json: unreadable
  CheckpointConfig config;
  config.keep_last = 1;
  config.keep_every = 0;
  auto comm = make_local_communicator();
  CheckpointWriter writer(run, config, *comm);
  writer.set_run_id("aaaa");
  CheckpointMeta meta;
  meta.step = 15;
  meta.run_id = "aaaa";
  const std::string state = meta.to_json().dump();
  writer.save(15, {bytes_file("state.json", state), bytes_file("config.yaml", "run: {}\n"),
                   bytes_file("model.pt", "weights")});
  // Own lineage: 30 is the newest (kept by keep_last=1), 15 was just published (kept, `latest`);
  // 10 and 20 are removed. 40 (another run), 5 (no run id) and 1 (unreadable) are not the run's.
  EXPECT_EQ(steps_in(run), (std::vector<int64_t>{40, 30, 15, 5, 1}));
  EXPECT_EQ(read_file(checkpoints_dir(run) + "/latest"), "step-00000015\n");
  EXPECT_TRUE(fs::exists(checkpoints_dir(run) + "/step-00000015/checksums.sha256"));
  EXPECT_EQ(verify_checkpoint(checkpoints_dir(run) + "/step-00000015"), "");
}

// checkpoint.keep_best keeps the lowest tuning loss of the run's checkpoints (the earlier on a
// tie) beside keep_last; a checkpoint without a validation at its step never counts.
TEST(Retention, KeepBestKeepsTheLowestTuningLoss) {
  testing::TempDir dir;
  const std::string run = dir / "run";
  const auto write = [&](int64_t step, std::optional<double> loss) {
    write_checkpoint(run, step, "aaaa", loss);
  };
  write(10, 4.0);
  write(20, 3.5);  // the best, tied with 40: the earlier is kept
  write(30, std::nullopt);
  write(40, 3.5);
  write(50, 3.9);
  CheckpointConfig config;
  config.keep_last = 1;
  config.keep_best = true;
  auto comm = make_local_communicator();
  CheckpointWriter writer(run, config, *comm);
  writer.set_run_id("aaaa");
  CheckpointMeta meta;
  meta.step = 60;
  meta.run_id = "aaaa";
  meta.validation_loss = 3.6;
  writer.save(60, {bytes_file("state.json", meta.to_json().dump()), bytes_file("model.pt", "weights")});
  EXPECT_EQ(steps_in(run), (std::vector<int64_t>{60, 20}));
  EXPECT_EQ(read_checkpoint_meta(checkpoints_dir(run) + "/step-00000020").validation_loss, 3.5);
  EXPECT_EQ(read_checkpoint_meta(checkpoints_dir(run) + "/step-00000060").validation_loss, 3.6);

  config.keep_best = false;  // without it, keep_last alone
  CheckpointWriter plain(run, config, *comm);
  plain.set_run_id("aaaa");
  meta.step = 70;
  plain.save(70, {bytes_file("state.json", meta.to_json().dump()), bytes_file("model.pt", "weights")});
  EXPECT_EQ(steps_in(run), (std::vector<int64_t>{70}));
}

}  // namespace
}  // namespace clinfm
