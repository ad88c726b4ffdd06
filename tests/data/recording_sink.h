// An EventSink for importer tests: keeps everything it receives per raw subject id, in order,
// so a test can look up a subject's births, events and static codes. Unlike prep's sink it does
// not pseudonymise: it exists to check what an importer emits.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "data/source.h"

namespace clinfm::testing {

struct RecordedEvent {
  int64_t time_s;
  std::string code;
  double value;  // NaN when the event has none
};

class RecordingSink : public EventSink {
 public:
  void add_birth(std::string_view subject_id, int64_t time_s) override {
    births[std::string(subject_id)].push_back(time_s);
  }
  void add_event(std::string_view subject_id, int64_t time_s, std::string_view code, double value) override {
    events[std::string(subject_id)].push_back({time_s, std::string(code), value});
  }
  void add_static(std::string_view subject_id, std::string_view code) override {
    statics[std::string(subject_id)].emplace_back(code);
  }
  void set_split(std::string_view subject_id, FixedSplit split) override {
    splits[std::string(subject_id)].push_back(split);
  }

  // A subject's events with exactly this code, in the order received.
  std::vector<RecordedEvent> with_code(const std::string& subject, std::string_view code) const {
    std::vector<RecordedEvent> found;
    const auto it = events.find(subject);
    if (it == events.end()) return found;
    for (const auto& e : it->second)
      if (e.code == code) found.push_back(e);
    return found;
  }
  // Events of all subjects whose code starts with `prefix`.
  int64_t count_prefix(std::string_view prefix) const {
    int64_t n = 0;
    for (const auto& [subject, list] : events)
      for (const auto& e : list) n += e.code.compare(0, prefix.size(), prefix) == 0;
    return n;
  }
  int64_t event_count() const {
    int64_t n = 0;
    for (const auto& [subject, list] : events) n += static_cast<int64_t>(list.size());
    return n;
  }
  // Every code received (events and statics), one per line: what a leak check searches.
  std::string all_codes() const {
    std::string text;
    for (const auto& [subject, list] : events)
      for (const auto& e : list) text += e.code + "\n";
    for (const auto& [subject, list] : statics)
      for (const auto& code : list) text += code + "\n";
    return text;
  }

  std::map<std::string, std::vector<int64_t>> births;
  std::map<std::string, std::vector<RecordedEvent>> events;
  std::map<std::string, std::vector<std::string>> statics;
  std::map<std::string, std::vector<FixedSplit>> splits;
};

}  // namespace clinfm::testing
