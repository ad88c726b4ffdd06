// A frozen model's next-event loss on whole sequences, for the privacy audit (eval/privacy.h):
// event j (j >= begin, j >= 1) is predicted from the events before it, at most `context_events`
// of them (windows [s, s + T] at s = 0, T, 2T, ...: every event after the first is predicted
// exactly once). Token loss only (-log p of the next event's token), in nats.
#pragma once

#include <cstdint>
#include <vector>

#include "data/shard.h"
#include "models/transformer.h"

namespace clinfm {

struct SequenceLoss {
  double nll = 0;         // summed over the predicted events
  int64_t predicted = 0;  // events predicted
  double mean() const { return predicted > 0 ? nll / double(predicted) : 0.0; }
};

struct SequenceLossOptions {
  int64_t context_events = 256;
  int64_t batch_tokens = 8192;
};

// `begin[i]`: the first event of sequence i whose prediction counts (empty: 1 for all).
std::vector<SequenceLoss> sequence_losses(ClinicalTransformer& model,
                                          const std::vector<const PatientTimeline*>& sequences,
                                          const std::vector<int64_t>& begin,
                                          const SequenceLossOptions& options);

}  // namespace clinfm
