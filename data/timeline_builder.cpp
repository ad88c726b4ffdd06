#include "data/timeline_builder.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"
#include "data/timestamp.h"

namespace clinfm {

namespace {

int kind_rank(RecordKind kind) {
  return kind == RecordKind::kBirth ? 0 : (kind == RecordKind::kStatic || kind == RecordKind::kSplit) ? 1 : 2;
}

// The split of a patient the export fixed; a patient given several is held out (never trained on).
Split resolve_split(uint64_t key, int fixed, const TimelineRules& rules) {
  if (fixed < 0) return assign_split(key, rules.split_tuning, rules.split_held_out);
  if (fixed == static_cast<int>(FixedSplit::kDevelopment)) return assign_split(key, rules.split_tuning, 0.0);
  return static_cast<Split>(fixed);
}

// Within one patient: births first, then statics and split records, then events by time.
bool before_within_patient(const PartitionRecord& a, const PartitionRecord& b) {
  const int rank_a = kind_rank(a.kind), rank_b = kind_rank(b.kind);
  if (rank_a != rank_b) return rank_a < rank_b;
  return rank_a == 2 && a.time_s < b.time_s;
}

bool before(const PartitionRecord& a, const PartitionRecord& b) {
  return a.key != b.key ? a.key < b.key : before_within_patient(a, b);
}

// The same order as std::stable_sort(records, before), in O(n) when each patient's records are
// one contiguous run already in time order (exports grouped by subject): the runs are ordered
// by key and only unsorted runs are sorted. Any other layout takes the general stable sort.
void order_records(std::vector<PartitionRecord>& records) {
  struct Run {
    uint64_t key;
    size_t begin, end;
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < records.size();) {
    size_t j = i + 1;
    while (j < records.size() && records[j].key == records[i].key) ++j;
    runs.push_back({records[i].key, i, j});
    i = j;
  }
  const auto by_key = [](const Run& a, const Run& b) { return a.key < b.key; };
  bool in_order = std::is_sorted(runs.begin(), runs.end(), by_key);
  if (!in_order) std::sort(runs.begin(), runs.end(), by_key);
  for (size_t r = 1; r < runs.size(); ++r) {
    if (runs[r].key == runs[r - 1].key) {  // a patient in several runs
      std::stable_sort(records.begin(), records.end(), before);
      return;
    }
  }
  if (!in_order) {
    std::vector<PartitionRecord> ordered;
    ordered.reserve(records.size());
    for (const Run& run : runs)
      ordered.insert(ordered.end(), records.begin() + run.begin, records.begin() + run.end);
    records.swap(ordered);
    size_t at = 0;
    for (Run& run : runs) {
      run.end = at + (run.end - run.begin);
      run.begin = at;
      at = run.end;
    }
  }
  for (const Run& run : runs) {
    const auto first = records.begin() + run.begin, last = records.begin() + run.end;
    if (!std::is_sorted(first, last, before_within_patient))
      std::stable_sort(first, last, before_within_patient);
  }
}

}  // namespace

std::vector<GroupedPatient> group_timelines(std::vector<PartitionRecord>& records,
                                            const std::vector<std::string>& codes, const TimelineRules& rules,
                                            TimelineCounts* counts) {
  // Births first, then statics, then events by time; ties keep the export's order (stable).
  order_records(records);
  const double top_age_days = rules.max_age_years * kDaysPerYear;
  const double top_coded_days = (rules.max_age_years + 1.0) * kDaysPerYear;
  std::vector<GroupedPatient> patients;
  size_t begin = 0;
  while (begin < records.size()) {
    size_t end = begin;
    while (end < records.size() && records[end].key == records[begin].key) ++end;
    for (size_t i = begin + 1; i < end; ++i) {
      if (records[i].check != records[begin].check) {
        // Raw ids never reach a message or a file: the key says what happened.
        throw Error(fmt::format("two different subject ids have the same pseudonymous key {:016x} (a 64-bit "
                                "keyed-hash collision): prep stops rather than merge their timelines",
                                records[begin].key),
                    "run prep again with another salt (data.salt_file: a new file makes new keys for every "
                    "patient); nothing was written to the output folder");
      }
    }
    if (records[begin].kind != RecordKind::kBirth) {
      const auto split_records =
          std::count_if(records.begin() + begin, records.begin() + end,
                        [](const PartitionRecord& r) { return r.kind == RecordKind::kSplit; });
      if (split_records == static_cast<std::ptrdiff_t>(end - begin)) {
        counts->split_only_subjects += 1;  // in the export's split list, without any event
      } else {
        counts->patients_without_birth += 1;
        counts->events_of_patients_without_birth += static_cast<int64_t>(end - begin) - split_records;
      }
      begin = end;
      continue;
    }
    GroupedPatient p;
    p.key = records[begin].key;
    int fixed_split = -1;
    const int64_t birth = records[begin].time_s;
    p.events.reserve(end - begin);
    p.events.push_back({0.0, records[begin].code, records[begin].value});
    for (size_t i = begin + 1; i < end; ++i) {
      const PartitionRecord& r = records[i];
      if (r.kind == RecordKind::kBirth) {
        counts->extra_birth_records += 1;  // the earliest birth wins
        continue;
      }
      if (r.kind == RecordKind::kSplit) {
        const int split = static_cast<int>(r.code);
        if (fixed_split >= 0 && fixed_split != split) {
          counts->patients_with_conflicting_splits += 1;
          fixed_split = static_cast<int>(FixedSplit::kHeldOut);
        } else {
          fixed_split = split;
        }
        continue;
      }
      double age = 0.0;
      if (r.kind == RecordKind::kStatic) {
        const std::string& code = codes[r.code];
        if (code == "GENDER//F") p.sex = Sex::kFemale;
        if (code == "GENDER//M") p.sex = Sex::kMale;
      } else {
        age = static_cast<double>(r.time_s - birth) / kSecondsPerDay;
        if (age < 0) {
          counts->events_before_birth += 1;
          age = 0.0;
        }
        if (age > top_age_days) {
          counts->events_top_coded += 1;
          age = top_coded_days;
        }
      }
      p.events.push_back({age, r.code, r.value});
    }
    p.split = resolve_split(p.key, fixed_split, rules);
    counts->patients_with_fixed_split += fixed_split >= 0 ? 1 : 0;
    patients.push_back(std::move(p));
    begin = end;
  }
  return patients;
}

}  // namespace clinfm
