// MEDS label files (MEDS-DEV, ACES) as evaluation tasks, and MEDS-DEV prediction files out.
// A label file holds raw subject ids and calendar prediction times; the data set holds keyed
// hashes and ages. The join recomputes each key with the prep salt (data/deid.h) and each age
// from the subject's MEDS_BIRTH in the MEDS data that prep read, as the synth truth join does.
// Raw ids stay in memory, and are written only into the MEDS-DEV prediction files, whose schema
// needs them (docs/eval.md says so).
//
// The rule of a prediction time, as everywhere in clinfm's eval: the model and the baselines see
// the events strictly before it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/shard.h"

namespace clinfm {

struct MedsLabelRow {
  int64_t subject_id = 0;
  int64_t prediction_time_us = 0;  // microseconds since 1970, as the file has it
  int64_t prediction_time_s = 0;   // whole seconds (floored), as prep's event times
  int label = 0;
};

struct MedsLabels {
  std::vector<std::string> files;
  std::string value_column;  // boolean_value, or integer_value holding 0/1
  std::vector<MedsLabelRow> rows;
  int64_t null_labels = 0;  // rows without a label value (skipped)
};

// A label file or a folder of them (*.parquet, sorted by name). InputError naming `key` (the
// suite's "tasks[i].labels") and the file: missing, not Parquet, a missing or mistyped column,
// a label column clinfm cannot score (float_value, categorical_value, integers other than 0/1).
MedsLabels read_meds_labels(const std::string& path, const std::string& key);

// Raw subject id (as text) -> MEDS_BIRTH time in seconds, from the MEDS data prep read (a file
// or folder, CSV or Parquet: what `clinfm prep --format meds --input` takes).
std::unordered_map<std::string, int64_t> read_meds_births(const std::string& meds_input);

// Where a data set patient is: split 0 train, 1 tuning, 2 held_out; index in that split.
struct PatientRef {
  int split = 0;
  int64_t index = 0;
  const PatientTimeline* patient = nullptr;
};

struct MatchedLabel {
  PatientRef where;
  double prediction_age_days = 0;
  int64_t history_events = 0;  // events strictly before the prediction time
  MedsLabelRow row;
};

// Every label row is matched or counted under one reason.
struct LabelMatchCounts {
  int64_t rows = 0, matched = 0, null_labels = 0;
  int64_t no_birth = 0;        // subject without MEDS_BIRTH in the MEDS data given
  int64_t not_in_dataset = 0;  // key not in the data set (dropped by prep, or another data set)
  int64_t before_birth = 0;    // prediction time before the subject's birth
  int64_t past_top_age = 0;    // prediction age above the data set's top-coding age
  int64_t no_history = 0;      // no event strictly before the prediction time
  int64_t duplicates = 0;      // the same subject and prediction time again (the first kept)
  nlohmann::json to_json() const;
};

struct LabelMatch {
  std::vector<MatchedLabel> rows;  // in label-file order
  LabelMatchCounts counts;
};

LabelMatch match_meds_labels(const MedsLabels& labels, const std::unordered_map<std::string, int64_t>& births,
                             const std::string& salt_path,
                             const std::unordered_map<uint64_t, PatientRef>& patients, double max_age_days);

}  // namespace clinfm
