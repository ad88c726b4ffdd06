// The shard reader on mutated shard *bytes* (the manifest's SHA-256 check is what stops damaged
// shards in clinfm's commands; this is the layer under it). Mostly exercises libhdf5's parser:
// HDF5 1.10 (Debian 12) has memory errors on corrupt files (hdf5-findings/), so this target is
// for campaigns only, not CI's smoke; fuzz_shard covers clinfm's own validation.
#include <cstdint>
#include <string>

#include "common/error.h"
#include "data/shard.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = clinfm::fuzz::write_input("shard.h5", data, size);
  try {
    const clinfm::ShardReader reader(path);
    const int64_t patients = reader.patients();
    for (int64_t i = 0; i < patients && i < 64; ++i) {
      const clinfm::PatientTimeline timeline = reader.read(i);
      if (int64_t(timeline.size()) != reader.length(i)) std::abort();
      reader.read_tokens(i);
    }
    reader.read_all_value_bins();
  } catch (const clinfm::Error&) {
  }
  return 0;
}
