// Training batches from a prepared data set, without LibTorch: flat host arrays that the trainer
// turns into tensors at the edge. Step s of the run consumes global samples [s*B, (s+1)*B) of the
// global batch B (see sampler.h); rank r of W takes [s*B + r*B/W, s*B + (r+1)*B/W), cut into
// micro-batches of train.micro_batch_size for gradient accumulation. A background thread keeps
// the next steps ready so the model never waits on HDF5 when it need not.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/sampler.h"

namespace clinfm {

// One micro-batch, row-major [B, T]. Input position t holds event t of the window; its target
// is event t+1. Rows shorter than T are padded with token 0 and loss_mask 0.
struct HostBatch {
  int64_t rows = 0, seq_len = 0;  // B, T
  std::vector<int64_t> tokens, value_bins, targets;
  std::vector<float> ages;       // days
  std::vector<float> target_dt;  // years to the next event
  std::vector<float> loss_mask;
  int64_t targets_kept = 0;    // sum of loss_mask
  int64_t positions_used = 0;  // non-padding input positions
};

// All shards of one split behind one patient index.
class SplitData {
 public:
  SplitData(const Dataset& dataset, const std::string& split);
  int64_t patients() const { return static_cast<int64_t>(lengths_.size()); }
  const std::vector<int64_t>& lengths() const { return lengths_; }
  PatientTimeline read_window(int64_t patient, int64_t start, int64_t count) const;

 private:
  std::vector<std::unique_ptr<ShardReader>> shards_;
  std::vector<std::pair<int32_t, int64_t>> location_;  // patient -> (shard, index in shard)
  std::vector<int64_t> lengths_;
};

// Builds one micro-batch from windows; targets whose token is in `ignored_targets` (and
// <pad>) get loss_mask 0.
HostBatch make_batch(const std::vector<PatientTimeline>& windows, int64_t seq_len,
                     const std::vector<int32_t>& ignored_targets);

struct LoaderOptions {
  std::string split = "train";
  int64_t seq_len = 256;
  int64_t micro_batch = 8;
  int64_t global_batch = 32;
  int rank = 0;
  int world_size = 1;
  uint64_t seed = 0;
  // Micro-batches kept ready by a background thread (data.prefetch_batches), rounded to whole
  // steps, at least one; 0: load in the calling thread.
  int64_t prefetch_batches = 4;
  int64_t start_step = 0;
  std::vector<int32_t> ignored_targets;
};

class BatchLoader {
 public:
  BatchLoader(const Dataset& dataset, const LoaderOptions& options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // The micro-batches of this rank for the next step, in order. Blocks until ready.
  std::vector<HostBatch> next_step();
  // Milliseconds the last next_step() waited for the prefetch thread.
  double last_wait_ms() const { return last_wait_ms_; }
  int64_t accumulation_steps() const { return accumulation_; }
  int64_t patients() const { return data_.patients(); }
  int64_t next_step_index() const { return next_consumed_; }
  // Whole steps kept ready by the prefetch thread (0: none).
  int64_t prefetch_steps() const { return prefetch_steps_; }

 private:
  std::vector<HostBatch> load_step(int64_t step);
  void prefetch_loop();

  LoaderOptions options_;
  SplitData data_;
  GlobalSampler sampler_;
  int64_t accumulation_ = 1;
  int64_t prefetch_steps_ = 0;
  int64_t next_consumed_ = 0;
  double last_wait_ms_ = 0;
  // Prefetch thread state.
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<std::vector<HostBatch>> queue_;
  std::exception_ptr error_;
  bool stop_ = false;
};

}  // namespace clinfm
