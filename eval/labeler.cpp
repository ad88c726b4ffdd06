// Labels of one patient for one task; the order of the exclusion checks below is the order
// documented in docs/eval.md, and each excluded time is counted once, under its first reason.
#include "eval/labeler.h"

#include <algorithm>

namespace clinfm {

void LabelCounts::add(const LabelCounts& o) {
  candidates += o.candidates;
  kept += o.kept;
  positives += o.positives;
  no_history += o.no_history;
  past_top_age += o.past_top_age;
  prior_outcome += o.prior_outcome;
  censored += o.censored;
  death_excluded += o.death_excluded;
  stay_over += o.stay_over;
  not_first += o.not_first;
}

namespace {

bool flagged(const std::vector<char>& flags, int32_t token) {
  return token >= 0 && static_cast<size_t>(token) < flags.size() && flags[static_cast<size_t>(token)] != 0;
}

}  // namespace

std::vector<LabeledTime> label_patient(const PatientTimeline& patient, const ResolvedTask& task,
                                       LabelCounts* counts) {
  const TaskSpec& spec = *task.spec;
  const std::vector<double>& age = patient.age_days;
  const int64_t n = static_cast<int64_t>(patient.size());
  std::vector<LabeledTime> out;
  LabelCounts c;
  double last_anchor = -1.0;
  for (int64_t anchor = 0; anchor < n; ++anchor) {
    if (!flagged(task.anchor_tokens, patient.tokens[size_t(anchor)])) continue;
    const double a = age[size_t(anchor)];
    if (a == last_anchor) continue;  // several anchor codes at one time make one prediction time
    last_anchor = a;
    c.candidates += 1;
    const double p = a + spec.offset_hours / 24.0;
    const double window_end =
        spec.kind == LabelKind::kEventWithin ? p + spec.horizon_days : a + spec.horizon_days;
    if (std::max(p, window_end) > task.max_age_days) {
      c.past_top_age += 1;
      continue;
    }
    const int64_t history = std::lower_bound(age.begin(), age.end(), p) - age.begin();
    if (history == 0) {
      c.no_history += 1;
      continue;
    }
    bool died_before = false, prior = false;
    for (int64_t i = 0; i < history; ++i) {
      const int32_t token = patient.tokens[size_t(i)];
      died_before = died_before || flagged(task.death_tokens, token);
      prior = prior || flagged(task.label_tokens, token);
    }
    if (died_before) {
      c.death_excluded += 1;
      continue;
    }
    int label = -1;
    if (spec.kind == LabelKind::kEventWithin) {
      if (spec.exclude_prior && prior) {
        c.prior_outcome += 1;
        continue;
      }
      bool died = false;
      for (int64_t i = history; i < n && age[size_t(i)] <= window_end; ++i) {
        const int32_t token = patient.tokens[size_t(i)];
        if (flagged(task.label_tokens, token)) {
          label = 1;
          break;
        }
        died = died || flagged(task.death_tokens, token);
      }
      if (label < 0 && died) {
        if (spec.death == DeathHandling::kExclude) {
          c.death_excluded += 1;
          continue;
        }
        label = 0;  // follow-up is complete: the patient died without the outcome
      }
      if (label < 0) {
        if (age.back() < window_end) {
          c.censored += 1;
          continue;
        }
        label = 0;
      }
    } else {
      int64_t end = -1;
      bool end_is_death = false;
      for (int64_t i = anchor + 1; i < n; ++i) {
        const int32_t token = patient.tokens[size_t(i)];
        if (age[size_t(i)] <= a) continue;
        if (flagged(task.label_tokens, token) || flagged(task.death_tokens, token)) {
          end = i;
          end_is_death = !flagged(task.label_tokens, token);
          break;
        }
      }
      if (end < 0) {
        c.censored += 1;
        continue;
      }
      if (age[size_t(end)] < p) {
        c.stay_over += 1;
        continue;
      }
      if (end_is_death && spec.death == DeathHandling::kExclude) {
        c.death_excluded += 1;
        continue;
      }
      label = age[size_t(end)] > window_end ? 1 : 0;
    }
    if (spec.per_patient == PerPatient::kFirst && !out.empty()) {
      c.not_first += 1;
      continue;
    }
    LabeledTime t;
    t.prediction_age_days = p;
    t.anchor_age_days = a;
    t.history_events = history;
    t.label = label;
    out.push_back(t);
    c.kept += 1;
    c.positives += label;
  }
  if (counts) counts->add(c);
  return out;
}

}  // namespace clinfm
