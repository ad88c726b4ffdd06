// The global sample order of training. A sample is a window of one patient's timeline; sample g
// of the run is a function of (seed, epoch, position) only, where epoch = g / N and position =
// g % N for the N patients with at least two events (one target). So any process, on any
// number of ranks, resuming at any step, computes the same sample for the same g:
//   patient  = the position-th entry of a seeded shuffle of 0..N-1 for this epoch
//   window   = events [start, start + seq_len + 1) with start drawn from (seed, epoch, position)
//              when the timeline is longer than seq_len + 1 events, else the whole timeline
#pragma once

#include <cstdint>
#include <vector>

namespace clinfm {

struct SampleWindow {
  int64_t patient = 0;  // index into the lengths given to the sampler
  int64_t start = 0;
  int64_t count = 0;  // events in the window: <= seq_len + 1
};

class GlobalSampler {
 public:
  // lengths[i]: events of patient i; patients with fewer than 2 events are never sampled.
  GlobalSampler(const std::vector<int64_t>& lengths, uint64_t seed, int64_t seq_len);
  SampleWindow sample(int64_t global_index);
  int64_t patients_per_epoch() const { return static_cast<int64_t>(eligible_.size()); }

 private:
  const std::vector<int64_t>& permutation(int64_t epoch);
  std::vector<int64_t> lengths_;
  std::vector<int64_t> eligible_;
  uint64_t seed_;
  int64_t seq_len_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> cached_permutation_;
};

// SplitMix64 of a combination of values: the deterministic random source of the sampler.
uint64_t mix_hash(uint64_t a, uint64_t b, uint64_t c = 0);

}  // namespace clinfm
