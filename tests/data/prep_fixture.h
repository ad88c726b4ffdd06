// Helpers for prep tests: a temporary folder, a MEDS CSV writer, and running prep with test
// settings (own salt file, small k).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/fs.h"
#include "data/prep.h"
#include "data/synth/synth_cohort.h"

namespace clinfm::testing {

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() / ("clinfm-" + std::string(info->test_suite_name()) + "-" +
                                                      info->name() + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline PrepOptions meds_prep(const std::string& input, const std::string& output, const std::string& salt) {
  PrepOptions o;
  o.format = "meds";
  o.input = input;
  o.output = output;
  o.data.salt_file = salt;
  o.data.min_patients_per_code = 2;
  o.data.split_tuning = 0.2;
  o.data.split_held_out = 0.2;
  o.partitions = 4;
  return o;
}

// A synthetic cohort of `patients` (dir/cohort.csv.gz) prepped into dir/ds (salt dir/salt, codes
// kept from 5 patients on): the data set of the trainer tests. Returns the data set's path.
inline std::string prep_synthetic_dataset(const TempDir& dir, int64_t patients, uint64_t seed) {
  SynthOptions synth;
  synth.patients = patients;
  synth.seed = seed;
  synth.out = dir / "cohort.csv.gz";
  write_synthetic_cohort(synth);
  PrepOptions prep = meds_prep(dir / "cohort.csv.gz", dir / "ds", dir / "salt");
  prep.data.min_patients_per_code = 5;
  run_prep(prep);
  return dir / "ds";
}

// Every file under `dir`, as bytes (HDF5 included).
inline std::string all_bytes_under(const std::string& dir) {
  std::string bytes;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) bytes += read_file(e.path().string());
  return bytes;
}

}  // namespace clinfm::testing
