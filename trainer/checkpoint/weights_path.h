// Which weights file a path on the command line means: the one rule that `clinfm eval
// --checkpoint PATH` and `clinfm export PATH` share (docs/checkpoints.md, "Which weights a path
// means"). In this order:
//   (a) a file: that weights file, as given; when it sits beside a checksums.sha256 (it is a
//       checkpoint's model.pt) its SHA-256 must match the manifest's entry
//   (b) a checkpoint folder (named step-XXXXXXXX, or holding checksums.sha256): its model.pt,
//       after the whole checkpoint verifies (layout.h: verify_checkpoint); damaged: an error
//   (c) a run folder: the checkpoint named by RUN/checkpoints/latest when it exists and
//       verifies, else the newest valid checkpoint (a warning for each damaged one passed
//       over), else RUN/model.pt (written at the end of training); nothing: an error
// Only paths and checksums are decided here; the file's format is checked by load_model.
// Torch-free, no MPI: the commands that use it run in one process.
#pragma once

#include <string>
#include <vector>

namespace clinfm {

struct WeightsChoice {
  std::string path;                   // the weights file to load
  std::string verified_against;       // the checksums.sha256 that vouched for it; empty: none had to
  std::vector<std::string> warnings;  // damaged checkpoints passed over, for the caller to log
};

// Throws InputError naming `path` and what was looked for when nothing fits, or naming the
// damage when the checkpoint or weights file that the rule picks is damaged.
WeightsChoice choose_weights(const std::string& path);

// choose_weights, logging its warnings and the verification; returns the weights file.
std::string resolve_weights_path(const std::string& path);

// When the weights file sits beside a checksums.sha256 manifest (it is a file of a checkpoint),
// checks the file's SHA-256 against the manifest's entry: InputError on a mismatch or a manifest
// without the file. Returns whether there was a manifest to check against (a weights file
// outside a checkpoint, e.g. RUN/model.pt or an export, has none).
bool verify_weights_checksum(const std::string& weights_path);

}  // namespace clinfm
