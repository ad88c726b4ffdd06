#include "trainer/checkpoint/resume_policy.h"

#include <fmt/format.h>

#include "common/config/dump.h"
#include "common/config/schema.h"
#include "common/error.h"

namespace clinfm {

const std::vector<std::string>& resumable_keys() {
  static const std::vector<std::string> keys = {
      "run.name", "run.out_dir", "run.threads", "run.lock_stale_s", "run.device", "train.precision",
      "train.tf32", "data.dataset", "data.prefetch_batches", "train.max_steps", "train.micro_batch_size",
      "train.validation_every", "train.validation_batches", "train.max_consecutive_bad_steps",
      "train.peak_tflops", "optim.", "dist.backend", "dist.bucket_mb", "dist.overlap", "dist.checksum_every",
      "dist.timeout_s", "dist.zero1", "checkpoint.", "log.",
      "eval.",  // evaluation suites read these, training does not
      // prep-only keys: the data set is compared by its hashes
      "data.salt_file", "data.min_patients_per_code", "data.max_age_years", "data.value_bins",
      "data.split_tuning", "data.split_held_out", "data.shard_patients", "data.shard_compression"};
  return keys;
}

bool resumable_key(const std::string& path) {
  for (const auto& key : resumable_keys()) {
    if (key.back() == '.' ? path.rfind(key, 0) == 0 : path == key) return true;
  }
  return false;
}

std::vector<ConfigChange> diff_configs(const Config& checkpoint, const Config& current) {
  std::vector<ConfigChange> changes;
  for (const FieldSpec& f : config_schema().fields) {
    const std::string before = format_value(f, f.get(checkpoint));
    const std::string after = format_value(f, f.get(current));
    if (before == after) continue;
    changes.push_back({f.path(), before, after, resumable_key(f.path())});
  }
  return changes;
}

void check_resume_compatible(const Config& checkpoint, const Config& current, const std::string& source) {
  std::string refused;
  int count = 0;
  for (const ConfigChange& c : diff_configs(checkpoint, current)) {
    if (c.allowed) continue;
    ++count;
    refused += fmt::format("\n  {}: {} in the checkpoint, {} now", c.key, c.checkpoint_value, c.new_value);
  }
  if (count == 0) return;
  throw InputError(
      fmt::format("cannot resume from {}: {} config key(s) differ in a way that would change the run:{}",
                  source, count, refused),
      "resume with the checkpoint's values (its config.yaml), or start a new run in another run.out_dir; "
      "keys that may change on resume are listed in docs/checkpoints.md");
}

}  // namespace clinfm
