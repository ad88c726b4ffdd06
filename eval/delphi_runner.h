// The model's side of Delphi-2M's AUC protocol (eval/delphi_protocol.h): the log rate per year of
// each scored disease, log(exp(log_rate) * P(next event = disease)), at every prediction point of
// the held-out plan, then the three methods (model, age-and-sex baseline, count baseline) scored on
// the same cases and controls, and the calibration of the model's 1-year risks.
#pragma once

#include <vector>

#include "data/shard.h"
#include "eval/delphi_protocol.h"
#include "models/transformer.h"

namespace clinfm {

// [points, diseases] log rates per year. A point at position j reads events
// [s, j] with s = 0 or a multiple of context/2 such that j - s < context (at least context/2
// events of history once a timeline is longer than the context).
std::vector<float> delphi_model_scores(ClinicalTransformer& model,
                                       const std::vector<PatientTimeline>& patients, const DelphiPlan& plan,
                                       const std::vector<DelphiDisease>& diseases, int64_t context_events,
                                       bool progress);

struct DelphiInputs {
  const std::vector<PatientTimeline>& train;
  const std::vector<PatientTimeline>& held_out;
  const Vocabulary& vocab;
  const DelphiSpec& spec;
  int64_t context_events = 48;
  bool progress = true;
};

DelphiResult run_delphi_protocol(ClinicalTransformer& model, const DelphiInputs& inputs);

}  // namespace clinfm
