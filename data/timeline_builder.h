// Groups one partition's records into per-patient timelines on the age axis, applying the
// de-identification rules that act on time: events are placed at (time - birth), events before
// birth move to birth, ages above max_age_years are top-coded to max_age_years + 1. A patient's
// split is the one the export fixed (FixedSplit), else drawn from the key. Patients
// without a birth record cannot be placed on the age axis and are dropped (counted).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/deid.h"
#include "data/partition.h"
#include "data/shard.h"

namespace clinfm {

struct TimelineEvent {
  double age_days;
  uint32_t code;  // interned code id
  float value;
};

struct GroupedPatient {
  uint64_t key = 0;
  Split split = Split::kTrain;
  Sex sex = Sex::kUnknown;
  std::vector<TimelineEvent> events;  // sorted by age; birth first, then statics
};

struct TimelineRules {
  double max_age_years = 89.0;
  double split_tuning = 0.1;
  double split_held_out = 0.1;
};

struct TimelineCounts {
  int64_t patients_without_birth = 0;
  int64_t events_of_patients_without_birth = 0;
  int64_t split_only_subjects = 0;  // a fixed split (MEDS subject_splits) for a subject without events
  int64_t extra_birth_records = 0;
  int64_t events_before_birth = 0;
  int64_t events_top_coded = 0;
  int64_t patients_with_fixed_split = 0;         // placed by the export's own split (FixedSplit)
  int64_t patients_with_conflicting_splits = 0;  // given two different ones: held out
};

// `records` is consumed (sorted in place). Patients come out sorted by key.
std::vector<GroupedPatient> group_timelines(std::vector<PartitionRecord>& records,
                                            const std::vector<std::string>& codes, const TimelineRules& rules,
                                            TimelineCounts* counts);

}  // namespace clinfm
