#include "data/sampler.h"

#include "common/check.h"

namespace clinfm {

uint64_t mix_hash(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t z = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL) * 0xbf58476d1ce4e5b9ULL ^
               (c + 0x85ebca6b0f2b4c3bULL) * 0x94d049bb133111ebULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

GlobalSampler::GlobalSampler(const std::vector<int64_t>& lengths, uint64_t seed, int64_t seq_len)
    : lengths_(lengths), seed_(seed), seq_len_(seq_len) {
  for (size_t i = 0; i < lengths.size(); ++i)
    if (lengths[i] >= 2) eligible_.push_back(static_cast<int64_t>(i));
  if (eligible_.empty()) {
    throw InputError("no patient of this split has two events: there is nothing to predict",
                     "check the data set with `clinfm inspect`");
  }
}

const std::vector<int64_t>& GlobalSampler::permutation(int64_t epoch) {
  if (epoch != cached_epoch_) {
    cached_permutation_ = eligible_;
    // Fisher-Yates with a stream drawn from (seed, epoch).
    for (size_t i = cached_permutation_.size(); i > 1; --i) {
      const size_t j = mix_hash(seed_, static_cast<uint64_t>(epoch), i) % i;
      std::swap(cached_permutation_[i - 1], cached_permutation_[j]);
    }
    cached_epoch_ = epoch;
  }
  return cached_permutation_;
}

SampleWindow GlobalSampler::sample(int64_t global_index) {
  CLINFM_CHECK(global_index >= 0, "negative sample index {}", global_index);
  const int64_t n = patients_per_epoch();
  const int64_t epoch = global_index / n, position = global_index % n;
  SampleWindow w;
  w.patient = permutation(epoch)[static_cast<size_t>(position)];
  const int64_t length = lengths_[static_cast<size_t>(w.patient)];
  const int64_t window = seq_len_ + 1;
  if (length <= window) {
    w.count = length;
  } else {
    const uint64_t starts = static_cast<uint64_t>(length - window + 1);
    w.start = static_cast<int64_t>(mix_hash(seed_ ^ 0x5bd1e995u, static_cast<uint64_t>(epoch),
                                            static_cast<uint64_t>(position) + 0x10000) %
                                   starts);
    w.count = window;
  }
  return w;
}

}  // namespace clinfm
