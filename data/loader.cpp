#include "data/loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "common/check.h"
#include "data/timestamp.h"
#include "data/vocab.h"

namespace clinfm {

SplitData::SplitData(const Dataset& dataset, const std::string& split) {
  for (const auto& entry : dataset.shards_of(split)) {
    shards_.push_back(std::make_unique<ShardReader>(dataset.open_shard(entry)));
    const ShardReader& shard = *shards_.back();
    for (int64_t i = 0; i < shard.patients(); ++i) {
      location_.emplace_back(static_cast<int32_t>(shards_.size() - 1), i);
      lengths_.push_back(shard.length(i));
    }
  }
  if (lengths_.empty()) {
    throw InputError(fmt::format("the data set {} has no patient in split '{}'", dataset.dir(), split),
                     "prep a larger export or change data.split_tuning / data.split_held_out");
  }
}

PatientTimeline SplitData::read_window(int64_t patient, int64_t start, int64_t count) const {
  const auto [shard, index] = location_.at(static_cast<size_t>(patient));
  return shards_[static_cast<size_t>(shard)]->read_window(index, start, count);
}

HostBatch make_batch(const std::vector<PatientTimeline>& windows, int64_t seq_len,
                     const std::vector<int32_t>& ignored_targets) {
  HostBatch b;
  b.rows = static_cast<int64_t>(windows.size());
  b.seq_len = seq_len;
  const size_t n = static_cast<size_t>(b.rows * seq_len);
  b.tokens.assign(n, kPadToken);
  b.value_bins.assign(n, 0);
  b.targets.assign(n, kPadToken);
  b.ages.assign(n, 0.0f);
  b.target_dt.assign(n, 0.0f);
  b.loss_mask.assign(n, 0.0f);
  for (int64_t r = 0; r < b.rows; ++r) {
    const PatientTimeline& w = windows[static_cast<size_t>(r)];
    const int64_t inputs = std::min<int64_t>(seq_len, static_cast<int64_t>(w.size()) - 1);
    for (int64_t t = 0; t < inputs; ++t) {
      const size_t at = static_cast<size_t>(r * seq_len + t);
      b.tokens[at] = w.tokens[t];
      b.value_bins[at] = w.value_bins[t];
      b.ages[at] = static_cast<float>(w.age_days[t]);
      const int32_t target = w.tokens[t + 1];
      b.targets[at] = target;
      b.target_dt[at] = static_cast<float>((w.age_days[t + 1] - w.age_days[t]) / kDaysPerYear);
      const bool ignored = target == kPadToken || std::find(ignored_targets.begin(), ignored_targets.end(),
                                                            target) != ignored_targets.end();
      b.loss_mask[at] = ignored ? 0.0f : 1.0f;
      b.targets_kept += ignored ? 0 : 1;
    }
    b.positions_used += std::max<int64_t>(0, inputs);
  }
  return b;
}

BatchLoader::BatchLoader(const Dataset& dataset, const LoaderOptions& options)
    : options_(options),
      data_(dataset, options.split),
      sampler_(data_.lengths(), options.seed, options.seq_len) {
  const int64_t per_rank = options.global_batch / options.world_size;
  if (options.global_batch % options.world_size != 0 || per_rank % options.micro_batch != 0) {
    throw InputError(
        fmt::format("train.global_batch_size ({}) must be a multiple of train.micro_batch_size ({}) "
                    "x ranks ({})",
                    options.global_batch, options.micro_batch, options.world_size),
        "change the batch sizes or the number of ranks");
  }
  accumulation_ = per_rank / options.micro_batch;
  prefetch_steps_ =
      options.prefetch_batches == 0 ? 0 : std::max<int64_t>(1, options.prefetch_batches / accumulation_);
  next_consumed_ = options.start_step;
  if (prefetch_steps_ > 0) thread_ = std::thread([this] { prefetch_loop(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<HostBatch> BatchLoader::load_step(int64_t step) {
  std::vector<HostBatch> micro_batches;
  const int64_t per_rank = options_.global_batch / options_.world_size;
  const int64_t first = step * options_.global_batch + options_.rank * per_rank;
  std::vector<PatientTimeline> windows;
  for (int64_t m = 0; m < accumulation_; ++m) {
    windows.clear();
    for (int64_t j = 0; j < options_.micro_batch; ++j) {
      const SampleWindow w = sampler_.sample(first + m * options_.micro_batch + j);
      windows.push_back(data_.read_window(w.patient, w.start, w.count));
    }
    micro_batches.push_back(make_batch(windows, options_.seq_len, options_.ignored_targets));
  }
  return micro_batches;
}

void BatchLoader::prefetch_loop() {
  try {
    for (int64_t step = options_.start_step;; ++step) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        space_.wait(lock, [&] { return stop_ || int64_t(queue_.size()) < prefetch_steps_; });
        if (stop_) return;
      }
      auto batches = load_step(step);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(std::move(batches));
      }
      ready_.notify_one();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
    ready_.notify_all();
  }
}

std::vector<HostBatch> BatchLoader::next_step() {
  const auto started = std::chrono::steady_clock::now();
  std::vector<HostBatch> batches;
  if (prefetch_steps_ == 0) {
    batches = load_step(next_consumed_);
  } else {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return !queue_.empty() || error_; });
    if (queue_.empty() && error_) std::rethrow_exception(error_);
    batches = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    space_.notify_one();
  }
  ++next_consumed_;
  last_wait_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return batches;
}

}  // namespace clinfm
