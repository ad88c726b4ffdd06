// The checkpoint folders of a run and how they are found and verified. Torch-free.
//   RUN/checkpoints/step-00000100/   one complete checkpoint (published by a rename)
//       model.pt                     weights + dims (models/weights_io.h): loadable alone
//       optimizer-rank-00000.pt      AdamW state: a flat range of the optimizer vector (one
//                                    file for the whole vector, or one shard per rank with ZeRO-1)
//       rng-rank-00000.pt            each rank's LibTorch generator state
//       state.json                   step, consumed samples, counters, world size, hashes
//       config.yaml                  the resolved config of the run
//       checksums.sha256             SHA-256 of every other file; written last
//   RUN/checkpoints/latest           the name of the newest published checkpoint (atomic)
//   RUN/checkpoints/.tmp-step-...    a checkpoint being written; never read, removed on failure
// A checkpoint is valid when checksums.sha256 exists, lists state.json, config.yaml and
// model.pt, and every listed file exists with that hash.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace clinfm {

inline constexpr const char* kCheckpointFormat = "clinfm-checkpoint";
inline constexpr int kCheckpointVersion = 1;
inline constexpr const char* kChecksumFile = "checksums.sha256";

// What state.json holds besides the tensors.
struct CheckpointMeta {
  int64_t step = 0;               // steps completed; the resumed run's next step has this 0-based index
  int64_t consumed_samples = 0;   // step x global batch
  int64_t optimizer_updates = 0;  // AdamW updates applied (skipped NaN steps excluded)
  int64_t skipped_steps = 0;      // NaN/Inf steps skipped so far
  int64_t consecutive_bad_steps = 0;
  int64_t world_size = 1;
  bool zero1 = false;
  int64_t optimizer_files = 1;
  int64_t global_batch_size = 0;
  std::string config_hash, dataset_manifest_sha256, vocab_sha256, clinfm_version;
  // The run's lineage (trainer/checkpoint/run_folder.h: new_run_id), kept across resumes;
  // retention removes only checkpoints of its own lineage. Empty in checkpoints written before it.
  std::string run_id;
  // The tuning loss of the validation that ran at this step, if one did (checkpoint.keep_best).
  std::optional<double> validation_loss;
  nlohmann::json to_json() const;
  // InputError naming `source` on a wrong format, version or missing field.
  static CheckpointMeta from_json(const nlohmann::json& j, const std::string& source);
};

std::string checkpoints_dir(const std::string& run_dir);
std::string checkpoint_name(int64_t step);                 // "step-00000100"
int64_t parse_checkpoint_name(const std::string& name);    // -1 when not a checkpoint name
std::string rank_file(const std::string& stem, int rank);  // "optimizer-rank-00003.pt"

// Published checkpoints of a run (step-* folders), newest first.
std::vector<std::string> list_checkpoints(const std::string& run_dir);

// Empty when the checkpoint is valid, else what is wrong ("model.pt: checksum mismatch").
std::string verify_checkpoint(const std::string& dir);

CheckpointMeta read_checkpoint_meta(const std::string& dir);

// Which checkpoint a run resumes from. `mode`: "none", "auto", "latest" or a path.
//   none   -> empty dir
//   auto   -> the newest valid checkpoint; damaged ones are warned about and skipped; empty
//             dir (fresh start) when the run has none; an error when it has only damaged ones
//   latest -> as auto, but an error when there is none
//   PATH   -> that folder (or a run folder: its newest valid checkpoint); damaged: an error
struct ResumeChoice {
  std::string dir;  // empty: start fresh
  std::vector<std::string> warnings;
};
ResumeChoice choose_checkpoint(const std::string& run_dir, const std::string& mode);

}  // namespace clinfm
