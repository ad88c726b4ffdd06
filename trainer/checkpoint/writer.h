// Writes checkpoints so that none is ever seen half-written and a failure never costs the
// previous one. Collective: every rank calls save() at the same step with its own files.
//   1. rank 0 makes RUN/checkpoints/.tmp-step-XXXXXXXX; every rank streams its files into it
//      (hashed while written, the disk kept busy by sync_file_range, each fsynced: no temporary
//      name per file, the folder is published as a whole) and a list of their SHA-256;
//   2. the ranks agree (all-reduce) that every write succeeded; if one failed, the temporary
//      folder is removed and every rank throws: the previous checkpoint stays `latest`;
//   3. rank 0 writes checksums.sha256, renames the folder to step-XXXXXXXX, fsyncs, replaces
//      the `latest` pointer atomically and applies the retention rule (keep_last newest, plus
//      every step that is a multiple of keep_every) to the checkpoints of the run's own lineage
//      (state.json's run_id): another run's, an older clinfm's (no run_id) or an unreadable one
//      is never removed, nor is the checkpoint just published, so `latest` always exists.
// Asynchronous mode (checkpoint.async): save() returns once the caller's data is copied (the
// CheckpointFile functions hold copies) and step 1 runs on a background thread; steps 2-3 run
// at the first step boundary at which every rank's thread is done (publish_if_done), or in
// finish(). The background thread never calls MPI.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/config/config.h"
#include "trainer/comm/communicator.h"

namespace clinfm {

// Receives a file's bytes in order, in any number of calls; returns the bytes it took (the
// signature of torch's OutputArchive::save_to, so that an archive streams straight into it).
using ByteWriter = std::function<size_t(const void* data, size_t size)>;

// One file of this rank's part of a checkpoint. `write` streams the file's bytes into the
// checkpoint (written to disk and hashed as they come: no copy of a large file is held whole);
// it may run on the background thread, so it must only read data it owns (copies taken when
// the file was made).
struct CheckpointFile {
  std::string name;
  std::function<void(const ByteWriter& out)> write;
};
// A file whose bytes are at hand (state.json, config.yaml, generator states).
CheckpointFile bytes_file(std::string name, std::string bytes);

class CheckpointWriter {
 public:
  CheckpointWriter(std::string run_dir, const CheckpointConfig& config, Communicator& comm);
  ~CheckpointWriter();
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Collective. Publishes a pending asynchronous checkpoint first.
  void save(int64_t step, std::vector<CheckpointFile> files);
  // Whether this rank's background write is still running.
  bool busy() const { return pending_ && !done_.load(); }
  // Collective, once per step: `busy_on_any_rank` is the all-reduced busy() of every rank.
  void publish_if_done(bool busy_on_any_rank);
  // Collective: waits for this rank's write and publishes the pending checkpoint.
  void finish();
  int64_t last_published_step() const { return last_published_; }
  // The lineage whose checkpoints retention may remove (CheckpointMeta::run_id).
  void set_run_id(std::string run_id) { run_id_ = std::move(run_id); }
  double last_write_ms() const { return last_write_ms_; }

 private:
  void write_part(const std::string& dir, int64_t step, const std::vector<CheckpointFile>& files);
  void publish();
  void apply_retention(int64_t published_step);

  std::string run_dir_;
  std::string run_id_;
  CheckpointConfig config_;
  Communicator& comm_;
  int rank_ = 0;
  // The checkpoint being written (asynchronous mode: until published).
  bool pending_ = false;
  int64_t best_step_logged_ = -1;  // apply_retention's last "lowest tuning loss" line
  int64_t pending_step_ = -1;
  std::string pending_dir_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::string error_;  // this rank's write error, empty when it succeeded
  int64_t last_published_ = -1;
  double last_write_ms_ = 0;
};

}  // namespace clinfm
