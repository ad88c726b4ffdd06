// Which weights file `clinfm eval --checkpoint PATH` means. Accepted, in this order:
//   (a) a weights file written by save_model (models/weights_io.h)
//   (b) a checkpoint folder RUN/checkpoints/step-XXXXXXXX/ holding model.pt
//   (c) a run folder: RUN/checkpoints/<name in RUN/checkpoints/latest>/model.pt when the
//       `latest` pointer exists, else RUN/model.pt (written at the end of training)
// Only paths are resolved here; the file's format is checked by load_model.
#pragma once

#include <string>

namespace clinfm {

// Throws InputError naming the path and what was looked for when nothing fits.
std::string resolve_checkpoint_path(const std::string& path);

// When the weights file sits in a checkpoint folder with a checksums.sha256 manifest (written by
// the trainer, docs/checkpoints.md), checks the file's SHA-256 against it: InputError on a
// mismatch or a manifest without the file. Returns whether a manifest was there to check against
// (a weights file outside a checkpoint, e.g. RUN/model.pt or an export, has none).
bool verify_weights_checksum(const std::string& weights_path);

}  // namespace clinfm
