// The synthetic cohort's own random numbers: splitmix64 to derive one independent stream per
// (seed, patient, purpose), xoshiro256** for the stream, and hand-written uniform, normal,
// exponential and lognormal draws. std::*_distribution is deliberately not used: its output
// differs between standard libraries, and the same (patients, seed) must give the same bytes
// on every toolchain; these draws depend only on IEEE arithmetic and libm's log. This file
// knows nothing about patients.
#pragma once

#include <cmath>
#include <cstdint>

namespace clinfm::synth {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Random {
 public:
  // One stream per (seed, patient, purpose); streams of neighbouring patients are unrelated.
  Random(uint64_t seed, uint64_t patient, uint64_t purpose) {
    uint64_t mix = seed;
    uint64_t key = splitmix64(mix);
    mix = key ^ (patient * 0xD1B54A32D192ED03ull);
    key = splitmix64(mix);
    mix = key ^ (purpose * 0xAEF17502108EF2D9ull);
    for (auto& word : state_) word = splitmix64(mix);
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Integer in [lo, hi]; the modulo bias is below 2^-40 for the small ranges used here.
  int64_t integer(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool bernoulli(double p) { return uniform() < p; }
  // Exponential waiting time for a constant `rate` (per unit time); +inf when rate is 0.
  double exponential(double rate) {
    if (rate <= 0.0) return INFINITY;
    const double u = static_cast<double>((next() >> 11) + 1) * 0x1.0p-53;  // (0, 1]
    return -std::log(u) / rate;
  }
  // Marsaglia's polar method; the spare value is kept so that the stream stays reproducible.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double x, y, s;
    do {
      x = 2.0 * uniform() - 1.0;
      y = 2.0 * uniform() - 1.0;
      s = x * x + y * y;
    } while (s >= 1.0 || s == 0.0);
    const double scale = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = y * scale;
    has_spare_ = true;
    return x * scale;
  }
  double normal(double mean, double sd) { return mean + sd * normal(); }
  // Lognormal with the given median and log-scale sd.
  double lognormal(double median, double sigma) { return median * std::exp(sigma * normal()); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace clinfm::synth
