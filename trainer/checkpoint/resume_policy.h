// Which config changes a resumed run may make. A checkpoint continues one run; a change that
// would alter the model, the vocabulary, the data set or the arithmetic of the steps already
// taken makes it a different run, so resume refuses it and lists every such key. The keys that
// may change are listed in resumable_keys() (and in docs/checkpoints.md): how long the run goes
// on, the optimizer's hyperparameters (lowering the learning rate after a divergence is the
// usual remedy), logging, checkpointing, evaluation, threads, communication tuning and where
// files go. Every change that is made is logged.
// The data set itself is compared by its manifest and vocabulary hashes, not by its path, so a
// data set that moved may be named by its new path.
#pragma once

#include <string>
#include <vector>

#include "common/config/config.h"

namespace clinfm {

struct ConfigChange {
  std::string key;  // "model.n_layers"
  std::string checkpoint_value, new_value;
  bool allowed = false;
};

// Keys and whole sections ("log.") that may differ between a checkpoint and its resume.
const std::vector<std::string>& resumable_keys();
bool resumable_key(const std::string& path);

// Every key whose value differs, in schema order.
std::vector<ConfigChange> diff_configs(const Config& checkpoint, const Config& current);

// Throws InputError listing every change that is not allowed; `source` names the checkpoint.
void check_resume_compatible(const Config& checkpoint, const Config& current, const std::string& source);

}  // namespace clinfm
