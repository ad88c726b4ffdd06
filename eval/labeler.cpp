// Labels of one patient for one task; the order of the exclusion checks below is the order
// documented in docs/eval.md, and each excluded time is counted once, under its first reason.
#include "eval/labeler.h"

#include <algorithm>

namespace clinfm {

void LabelCounts::add(const LabelCounts& other) {
  candidates += other.candidates;
  kept += other.kept;
  positives += other.positives;
  no_history += other.no_history;
  past_top_age += other.past_top_age;
  prior_outcome += other.prior_outcome;
  censored += other.censored;
  death_excluded += other.death_excluded;
  stay_over += other.stay_over;
  not_first += other.not_first;
}

namespace {

constexpr int kExcluded = -1;  // a label_* result: the time is excluded (and counted)

bool flagged(const std::vector<char>& flags, int32_t token) {
  return token >= 0 && static_cast<size_t>(token) < flags.size() && flags[static_cast<size_t>(token)] != 0;
}

// One prediction time under consideration.
struct Candidate {
  int64_t anchor = 0;  // index of the anchor event
  double anchor_age = 0, prediction_age = 0;
  double window_end = 0;  // event_within: prediction time + horizon; stay: anchor + horizon
  int64_t history = 0;    // events strictly before the prediction time
  bool outcome_in_history = false;
};

// event_within: 1 when an outcome code falls in (history, window_end], 0 when follow-up reaches
// window_end (or a death ends it) without one.
int event_within_label(const PatientTimeline& patient, const ResolvedTask& task, const Candidate& candidate,
                       LabelCounts& counts) {
  const TaskSpec& spec = *task.spec;
  if (spec.exclude_prior && candidate.outcome_in_history) {
    counts.prior_outcome += 1;
    return kExcluded;
  }
  const std::vector<double>& age = patient.age_days;
  const int64_t events = static_cast<int64_t>(patient.size());
  bool died = false;
  for (int64_t i = candidate.history; i < events && age[size_t(i)] <= candidate.window_end; ++i) {
    const int32_t token = patient.tokens[size_t(i)];
    if (flagged(task.label_tokens, token)) return 1;
    died = died || flagged(task.death_tokens, token);
  }
  if (died) {
    if (spec.death == DeathHandling::kExclude) {
      counts.death_excluded += 1;
      return kExcluded;
    }
    return 0;  // follow-up is complete: the patient died without the outcome
  }
  if (age.back() < candidate.window_end) {
    counts.censored += 1;
    return kExcluded;
  }
  return 0;
}

// stay_longer_than: 1 when the stay (ended by the first end-of-stay code or death after the
// anchor) lasts past window_end.
int stay_longer_than_label(const PatientTimeline& patient, const ResolvedTask& task,
                           const Candidate& candidate, LabelCounts& counts) {
  const std::vector<double>& age = patient.age_days;
  const int64_t events = static_cast<int64_t>(patient.size());
  int64_t end = -1;
  bool end_is_death = false;
  for (int64_t i = candidate.anchor + 1; i < events; ++i) {
    const int32_t token = patient.tokens[size_t(i)];
    if (age[size_t(i)] <= candidate.anchor_age) continue;
    if (flagged(task.label_tokens, token) || flagged(task.death_tokens, token)) {
      end = i;
      end_is_death = !flagged(task.label_tokens, token);
      break;
    }
  }
  if (end < 0) {
    counts.censored += 1;
    return kExcluded;
  }
  if (age[size_t(end)] < candidate.prediction_age) {
    counts.stay_over += 1;
    return kExcluded;
  }
  if (end_is_death && task.spec->death == DeathHandling::kExclude) {
    counts.death_excluded += 1;
    return kExcluded;
  }
  return age[size_t(end)] > candidate.window_end ? 1 : 0;
}

// The label of one candidate time, or kExcluded; the checks common to both kinds come first.
int label_candidate(const PatientTimeline& patient, const ResolvedTask& task, Candidate& candidate,
                    LabelCounts& counts) {
  const TaskSpec& spec = *task.spec;
  const std::vector<double>& age = patient.age_days;
  if (std::max(candidate.prediction_age, candidate.window_end) > task.max_age_days) {
    counts.past_top_age += 1;
    return kExcluded;
  }
  candidate.history = std::lower_bound(age.begin(), age.end(), candidate.prediction_age) - age.begin();
  if (candidate.history == 0) {
    counts.no_history += 1;
    return kExcluded;
  }
  bool died_before = false;
  for (int64_t i = 0; i < candidate.history; ++i) {
    const int32_t token = patient.tokens[size_t(i)];
    died_before = died_before || flagged(task.death_tokens, token);
    candidate.outcome_in_history = candidate.outcome_in_history || flagged(task.label_tokens, token);
  }
  if (died_before) {
    counts.death_excluded += 1;
    return kExcluded;
  }
  return spec.kind == LabelKind::kEventWithin ? event_within_label(patient, task, candidate, counts)
                                              : stay_longer_than_label(patient, task, candidate, counts);
}

}  // namespace

std::vector<LabeledTime> label_patient(const PatientTimeline& patient, const ResolvedTask& task,
                                       LabelCounts* counts) {
  const TaskSpec& spec = *task.spec;
  const int64_t events = static_cast<int64_t>(patient.size());
  std::vector<LabeledTime> out;
  LabelCounts tally;
  double last_anchor_age = -1.0;
  for (int64_t anchor = 0; anchor < events; ++anchor) {
    if (!flagged(task.anchor_tokens, patient.tokens[size_t(anchor)])) continue;
    const double anchor_age = patient.age_days[size_t(anchor)];
    if (anchor_age == last_anchor_age) continue;  // several anchor codes at one time make one prediction time
    last_anchor_age = anchor_age;
    tally.candidates += 1;
    Candidate candidate;
    candidate.anchor = anchor;
    candidate.anchor_age = anchor_age;
    candidate.prediction_age = anchor_age + spec.offset_hours / 24.0;
    candidate.window_end = spec.kind == LabelKind::kEventWithin ? candidate.prediction_age + spec.horizon_days
                                                                : anchor_age + spec.horizon_days;
    const int label = label_candidate(patient, task, candidate, tally);
    if (label == kExcluded) continue;
    if (spec.per_patient == PerPatient::kFirst && !out.empty()) {
      tally.not_first += 1;
      continue;
    }
    LabeledTime time;
    time.prediction_age_days = candidate.prediction_age;
    time.anchor_age_days = anchor_age;
    time.history_events = candidate.history;
    time.label = label;
    out.push_back(time);
    tally.kept += 1;
    tally.positives += label;
  }
  if (counts) counts->add(tally);
  return out;
}

}  // namespace clinfm
