// Task labelling: turns one patient timeline into prediction times with binary labels, by the
// rules of docs/eval.md ("Labels"). Plain C++ on host arrays: no model, no file I/O.
//
//   prediction time p = anchor age + offset, one per distinct anchor age
//   history           = events with age < p (strictly before): the only events that features
//                       and model inputs may use; `history_events` counts them
//   future            = events with age >= p: only the label looks at them
// Exclusions are explicit and counted (LabelCounts): no history, horizon past the top-coding
// age, outcome already in the history (exclude_prior), censored (follow-up ends before the
// horizon without the outcome or a death), death (when death: exclude), stay already over.
#pragma once

#include <cstdint>
#include <vector>

#include "data/shard.h"
#include "eval/suite.h"

namespace clinfm {

struct ResolvedTask {
  const TaskSpec* spec = nullptr;
  std::vector<char> anchor_tokens;  // [V] flags
  std::vector<char> label_tokens;   // [V] flags: outcome, or end of stay
  std::vector<char> death_tokens;   // [V] flags
  double max_age_days = 89.0 * 365.25;
};

struct LabeledTime {
  double prediction_age_days = 0;
  double anchor_age_days = 0;
  int64_t history_events = 0;  // events strictly before the prediction time
  int label = 0;
};

struct LabelCounts {
  int64_t candidates = 0, kept = 0, positives = 0;
  int64_t no_history = 0, past_top_age = 0, prior_outcome = 0, censored = 0, death_excluded = 0,
          stay_over = 0, not_first = 0;
  void add(const LabelCounts& other);
};

std::vector<LabeledTime> label_patient(const PatientTimeline& patient, const ResolvedTask& task,
                                       LabelCounts* counts);

}  // namespace clinfm
