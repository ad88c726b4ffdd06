// MEDS label files -> matched (patient, prediction age, label) rows; births from the MEDS data.
#include "eval/meds_labels.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <utility>

#include "common/error.h"
#include "data/deid.h"
#include "data/parquet/parquet_file.h"
#include "data/source.h"
#include "data/timestamp.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> label_files(const std::string& path, const std::string& key) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return {path};
  if (!fs::is_directory(path, ec)) {
    throw InputError(fmt::format("{}: {} does not exist", key, path),
                     "give a MEDS label file (.parquet) or a folder of them");
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(path)) {
    if (entry.is_regular_file() && entry.path().extension() == ".parquet")
      files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw InputError(fmt::format("{}: folder {} holds no .parquet file", key, path),
                     "give a MEDS label file");
  return files;
}

int require(const ParquetFile& file, const std::string& key, const char* name, ParquetType type,
            const char* expected) {
  return file.require_column(name, {type}, expected,
                             "a MEDS label file has subject_id (int64), prediction_time (timestamp[us]) and "
                             "boolean_value (bool)",
                             key);
}

// The label column: boolean_value, else integer_value (0/1 only). float_value and
// categorical_value tasks are regression and multi-class: clinfm's eval scores binary tasks.
int label_column(const ParquetFile& file, const std::string& key, std::string* name) {
  for (const char* candidate : {"boolean_value", "integer_value"}) {
    const int c = file.find_column(candidate);
    if (c < 0) continue;
    const ParquetColumn& column = file.columns()[size_t(c)];
    const bool ok = candidate == std::string("boolean_value") ? column.type == ParquetType::kBool
                                                              : column.type == ParquetType::kInt;
    if (column.type == ParquetType::kNull) continue;  // all null: try the next
    if (!ok)
      throw InputError(
          fmt::format("{}: {}: column '{}' is {}", key, file.path(), candidate, describe(column)),
          "boolean_value is bool, integer_value int64");
    *name = candidate;
    return c;
  }
  const bool other = file.find_column("float_value") >= 0 || file.find_column("categorical_value") >= 0;
  throw InputError(
      fmt::format("{}: {} has no boolean_value or integer_value column{}", key, file.path(),
                  other ? " (it labels with float_value or categorical_value)" : ""),
      "clinfm scores binary tasks: give boolean_value labels (or integer_value holding 0 and 1)");
}

// The MEDS importer's events, reduced to births: one birth time per raw subject id.
class BirthSink : public EventSink {
 public:
  explicit BirthSink(std::unordered_map<std::string, int64_t>& births) : births_(births) {}
  void add_birth(std::string_view subject_id, int64_t time_s) override {
    births_.emplace(std::string(subject_id), time_s);  // the first wins, as prep's earliest-first
  }
  void add_event(std::string_view, int64_t, std::string_view, double) override {}
  void add_static(std::string_view, std::string_view) override {}
  void set_split(std::string_view, FixedSplit) override {}

 private:
  std::unordered_map<std::string, int64_t>& births_;
};

}  // namespace

MedsLabels read_meds_labels(const std::string& path, const std::string& key) {
  MedsLabels labels;
  labels.files = label_files(path, key);
  for (const std::string& name : labels.files) {
    ParquetFile file(name);
    std::string value_column;
    std::vector<int> wanted = {
        require(file, key, "subject_id", ParquetType::kInt, "int64"),
        require(file, key, "prediction_time", ParquetType::kTimestamp, "timestamp[us]"),
        label_column(file, key, &value_column)};
    // MEDS fills one value column a row: a bool boolean_value left null where integer_value
    // holds the label (as some writers type every column) falls back to integer_value.
    const int integer_column = file.find_column("integer_value");
    const bool fallback = value_column == "boolean_value" && integer_column >= 0 &&
                          file.columns()[size_t(integer_column)].type == ParquetType::kInt;
    if (fallback) wanted.push_back(integer_column);
    check_time_zone(name, file.columns()[size_t(wanted[1])]);
    if (!labels.value_column.empty() && labels.value_column != value_column)
      throw InputError(fmt::format("{}: {} labels with {}, the files before it with {}", key, name,
                                   value_column, labels.value_column),
                       "one task, one label column");
    labels.value_column = value_column;
    ParquetBatch batch;
    int64_t row = 0;
    for (int group = 0; group < file.row_groups(); ++group) {
      file.read(group, wanted, batch);
      for (int64_t r = 0; r < batch.rows(); ++r) {
        ++row;
        if (batch.is_null(0, r) || batch.is_null(1, r))
          throw InputError(fmt::format("{}: {}: row {}: null subject_id or prediction_time", key, name, row),
                           "every label row needs both");
        const bool from_integer = fallback && batch.is_null(2, r) && !batch.is_null(3, r);
        if (batch.is_null(2, r) && !from_integer) {
          labels.null_labels += 1;
          continue;
        }
        MedsLabelRow label;
        label.subject_id = batch.integer(0, r);
        label.prediction_time_us = batch.microseconds(1, r);
        label.prediction_time_s = batch.seconds(1, r);
        if (value_column == "boolean_value" && !from_integer) {
          label.label = batch.boolean(2, r) ? 1 : 0;
        } else {
          const int64_t value = batch.integer(from_integer ? 3 : 2, r);
          if (value != 0 && value != 1)
            throw InputError(
                fmt::format("{}: {}: row {}: integer_value {} is not 0 or 1", key, name, row, value),
                "clinfm scores binary tasks: label with 0 and 1 (or boolean_value)");
          label.label = static_cast<int>(value);
        }
        labels.rows.push_back(label);
      }
    }
  }
  return labels;
}

std::unordered_map<std::string, int64_t> read_meds_births(const std::string& meds_input) {
  std::unordered_map<std::string, int64_t> births;
  BirthSink sink(births);
  PrepAudit audit;  // the importer's bookkeeping; nothing of it is kept here
  ImportOptions options;
  options.input = meds_input;
  options.export_splits = false;
  options.skip_bad_rows = true;  // a bad row adds no birth: the births prep saw, with or without --on-bad-row
  import_meds(options, sink, audit);
  return births;
}

LabelMatch match_meds_labels(const MedsLabels& labels, const std::unordered_map<std::string, int64_t>& births,
                             const std::string& salt_path,
                             const std::unordered_map<uint64_t, PatientRef>& patients, double max_age_days) {
  const std::string salt_file = expand_home(salt_path);
  if (salt_path.empty() || !fs::is_regular_file(salt_file)) {
    throw InputError(
        fmt::format("--salt {}: no such file", salt_path.empty() ? "(none)" : salt_path),
        "MEDS label files hold raw subject ids: pass the data.salt_file that `clinfm prep` used");
  }
  const Salt salt = load_or_create_salt(salt_file, "");
  LabelMatch match;
  LabelMatchCounts& counts = match.counts;
  counts.null_labels = labels.null_labels;
  counts.rows = static_cast<int64_t>(labels.rows.size()) + labels.null_labels;
  std::set<std::pair<int64_t, int64_t>> seen;
  for (const MedsLabelRow& row : labels.rows) {
    const std::string id = meds_subject_text(row.subject_id);
    const auto birth = births.find(id);
    if (birth == births.end()) {
      counts.no_birth += 1;
      continue;
    }
    const auto patient = patients.find(subject_key(salt, id));
    if (patient == patients.end()) {
      counts.not_in_dataset += 1;
      continue;
    }
    const int64_t seconds = row.prediction_time_s;
    if (seconds < birth->second) {
      counts.before_birth += 1;
      continue;
    }
    const double age = static_cast<double>(seconds - birth->second) / kSecondsPerDay;
    if (age > max_age_days) {
      counts.past_top_age += 1;
      continue;
    }
    const std::vector<double>& ages = patient->second.patient->age_days;
    const int64_t history = std::lower_bound(ages.begin(), ages.end(), age) - ages.begin();
    if (history == 0) {
      counts.no_history += 1;
      continue;
    }
    if (!seen.emplace(row.subject_id, seconds).second) {
      counts.duplicates += 1;
      continue;
    }
    match.rows.push_back({patient->second, age, history, row});
    counts.matched += 1;
  }
  return match;
}

nlohmann::json LabelMatchCounts::to_json() const {
  return {{"rows", rows},
          {"matched", matched},
          {"unmatched",
           {{"null label", null_labels},
            {"subject without MEDS_BIRTH in the MEDS data", no_birth},
            {"subject not in the data set", not_in_dataset},
            {"prediction time before birth", before_birth},
            {"prediction age above the top-coding age", past_top_age},
            {"no event before the prediction time", no_history},
            {"same subject and prediction time again", duplicates}}}};
}

}  // namespace clinfm
