#include "data/timeline_builder.h"

#include <algorithm>

#include "data/timestamp.h"

namespace clinfm {

std::vector<GroupedPatient> group_timelines(std::vector<PartitionRecord>& records,
                                            const std::vector<std::string>& codes, const TimelineRules& rules,
                                            TimelineCounts* counts) {
  // Births first, then statics, then events by time; ties keep the export's order (stable).
  std::stable_sort(records.begin(), records.end(), [](const PartitionRecord& a, const PartitionRecord& b) {
    if (a.key != b.key) return a.key < b.key;
    const int rank_a = a.kind == RecordKind::kBirth ? 0 : a.kind == RecordKind::kStatic ? 1 : 2;
    const int rank_b = b.kind == RecordKind::kBirth ? 0 : b.kind == RecordKind::kStatic ? 1 : 2;
    if (rank_a != rank_b) return rank_a < rank_b;
    return rank_a == 2 && a.time_s < b.time_s;
  });
  const double top_age_days = rules.max_age_years * kDaysPerYear;
  const double top_coded_days = (rules.max_age_years + 1.0) * kDaysPerYear;
  std::vector<GroupedPatient> patients;
  size_t begin = 0;
  while (begin < records.size()) {
    size_t end = begin;
    while (end < records.size() && records[end].key == records[begin].key) ++end;
    if (records[begin].kind != RecordKind::kBirth) {
      counts->patients_without_birth += 1;
      counts->events_of_patients_without_birth += static_cast<int64_t>(end - begin);
      begin = end;
      continue;
    }
    GroupedPatient p;
    p.key = records[begin].key;
    p.split = assign_split(p.key, rules.split_tuning, rules.split_held_out);
    const int64_t birth = records[begin].time_s;
    p.events.reserve(end - begin);
    p.events.push_back({0.0, records[begin].code, records[begin].value});
    for (size_t i = begin + 1; i < end; ++i) {
      const PartitionRecord& r = records[i];
      if (r.kind == RecordKind::kBirth) {
        counts->extra_birth_records += 1;  // the earliest birth wins
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
    patients.push_back(std::move(p));
    begin = end;
  }
  return patients;
}

}  // namespace clinfm
