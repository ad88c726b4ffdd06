// MEDS importer (Medical Event Data Standard): rows `subject_id, time, code, numeric_value,
// text_value`, from
//   - a MEDS data set folder as MEDS-Extract and MEDS_transforms write it: data/**/*.parquet, with
//     metadata/dataset.json (name and version, copied into the manifest) and
//     metadata/subject_splits.parquet (train / tuning / held_out, honoured unless --resplit) and
//     metadata/codes.parquet (a code's first parent_codes entry: its parent for suppression);
//   - one .csv/.csv.gz/.parquet file, or a folder of them (sorted by name).
// MEDS_BIRTH gives the birth time; rows with a null time are static attributes (placed at
// birth); text_value is free text and is dropped. Each row becomes exactly one event or is
// dropped with a reason. docs/data/meds.md states the rules.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/deid.h"
#include "data/parquet/parquet_file.h"
#include "data/source.h"
#include "data/timestamp.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

const TableSpec kEventsSpec{"events",
                            {{"subject_id", ColumnUse::kTransformed,
                              "keyed hash (HMAC-SHA256 with the secret salt): pseudonymous key"},
                             {"time", ColumnUse::kTransformed,
                              "age at the event (time since MEDS_BIRTH); the date itself is dropped"},
                             {"code", ColumnUse::kKept, "event code (small-cell suppression applies)"},
                             {"numeric_value", ColumnUse::kKept, "numeric value, and its quantile bin"},
                             {"text_value", ColumnUse::kDropped, "free text: may hold identifiers"}}};

const TableSpec kSplitsSpec{"metadata/subject_splits",
                            {{"subject_id", ColumnUse::kTransformed, "keyed hash, as in the events"},
                             {"split", ColumnUse::kKept, "train, tuning or held_out: the patient's split"}}};

const TableSpec kCodesSpec{
    "metadata/codes",
    {{"code", ColumnUse::kKept, "the code the row describes"},
     {"parent_codes", ColumnUse::kKept, "first entry: the code's parent for small-cell suppression"},
     {"description", ColumnUse::kDropped, "free text, not needed"}}};

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool is_csv(const std::string& name) { return ends_with(name, ".csv") || ends_with(name, ".csv.gz"); }
bool is_parquet(const std::string& name) { return ends_with(name, ".parquet"); }

// The data files of a MEDS input: the file itself, or every .csv/.csv.gz/.parquet file under the
// folder except its metadata/ folder (and metadata files or `clinfm synth` truth files beside
// the data in a flat folder).
std::vector<std::string> meds_files(const std::string& input) {
  std::error_code ec;
  if (fs::is_regular_file(input, ec)) return {input};
  if (!fs::is_directory(input, ec)) {
    throw InputError(
        fmt::format("MEDS input '{}' does not exist", input),
        "give a MEDS data set folder (data/*.parquet, metadata/), or a MEDS .csv/.csv.gz/.parquet file");
  }
  const fs::path metadata_dir = fs::path(input) / "metadata";
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(input); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory() && fs::equivalent(it->path(), metadata_dir, ec)) {
      it.disable_recursion_pending();
      continue;
    }
    const std::string name = it->path().filename().string();
    const auto stem = name.substr(0, name.find('.'));
    const bool metadata = stem == "codes" || stem == "subject_splits" || ends_with(name, ".truth.csv");
    if (it->is_regular_file() && (is_csv(name) || is_parquet(name)) && !metadata)
      files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    throw InputError(
        fmt::format("MEDS folder '{}' holds no .parquet, .csv or .csv.gz file", input),
        "a MEDS data set keeps its events in data/*.parquet (or give MEDS CSV files with columns "
        "subject_id,time,code,numeric_value)");
  }
  return files;
}

// Counts rows and events of one file and turns a bad row into an error or a counted drop.
class RowReport {
 public:
  RowReport(const ImportOptions& options, PrepAudit& audit) : options_(options), audit_(audit) {}
  void bad(const std::string& where, const std::string& reason, const std::string& detail) {
    if (!options_.skip_bad_rows) {
      throw InputError(fmt::format("{}: {}", where, detail),
                       "fix the row, or pass --on-bad-row=skip to skip and count such rows");
    }
    audit_.count_dropped("events", reason);
  }

 private:
  const ImportOptions& options_;
  PrepAudit& audit_;
};

// The end of every MEDS row, CSV or Parquet: a static attribute (no time), the birth, or an
// event. Returns 1 for an event, 0 for a row dropped (MEDS_BIRTH without a time).
template <typename Where>
int emit_row(EventSink& sink, RowReport& report, const Where& where, std::string_view subject,
             std::string_view code, bool has_time, int64_t seconds, double value) {
  if (!has_time) {
    if (code == kBirthCode) {
      report.bad(where(), "MEDS_BIRTH without time", "MEDS_BIRTH row without a time");
      return 0;
    }
    sink.add_static(subject, code);
    return 1;
  }
  if (code == kBirthCode) {
    sink.add_birth(subject, seconds);
  } else {
    sink.add_event(subject, seconds, code, value);
  }
  return 1;
}

void read_csv(const std::string& path, const ImportOptions& options, EventSink& sink, PrepAudit& audit) {
  CsvReader reader(path);
  reader.set_skip_bad_rows(options.skip_bad_rows);
  audit.declare_table(reader, kEventsSpec);
  const int subject_col = reader.require_column("subject_id");
  const int time_col = reader.require_column("time");
  const int code_col = reader.require_column("code");
  const int value_col = reader.find_column("numeric_value");
  RowReport report(options, audit);
  std::vector<std::string_view> f;
  int64_t rows = 0, events = 0;  // counted here, added to the audit once per file
  while (reader.next(f)) {
    ++rows;
    const std::string_view subject = f[subject_col], time = f[time_col], code = f[code_col];
    if (subject.empty()) {
      report.bad(reader.where(), "empty subject_id", "empty subject_id");
      continue;
    }
    if (code.empty()) {
      report.bad(reader.where(), "empty code", "empty code");
      continue;
    }
    if (time.empty()) {
      events += emit_row(
          sink, report, [&] { return reader.where(); }, subject, code, false, 0, std::nan(""));
      continue;
    }
    int64_t seconds = 0;
    if (!parse_timestamp(time, &seconds)) {
      report.bad(reader.where(), "unparsable time",
                 fmt::format("unparsable time '{}' (expected YYYY-MM-DD[ HH:MM:SS])", time));
      continue;
    }
    double value = std::nan("");
    if (value_col >= 0 && !f[value_col].empty() && !parse_double(f[value_col], &value)) {
      report.bad(reader.where(), "unparsable numeric_value",
                 fmt::format("numeric_value '{}' is not a number", f[value_col]));
      continue;
    }
    events += emit_row(
        sink, report, [&] { return reader.where(); }, subject, code, true, seconds, value);
  }
  audit.count_rows("events", rows);
  audit.count_events("events", events);
  audit.count_bad_rows("events", reader.bad_rows());
}

// A column a MEDS data (or metadata) file must have.
int require(const ParquetFile& file, std::string_view name, std::initializer_list<ParquetType> types,
            std::string_view expected) {
  return file.require_column(
      name, types, expected,
      "a MEDS data file has subject_id (int64), time (timestamp[us]), code (string) and "
      "optionally numeric_value (float32) and text_value (string)");
}

// MEDS's order, which every MEDS writer produces: rows sorted by subject_id, and by time within a
// subject (rows with a null time, static attributes, may stand anywhere among the subject's rows).
// Prep itself needs no order; a file out of order is a broken export (a bad concatenation, a
// writer that dropped the sort), and is refused rather than guessed at.
class OrderCheck {
 public:
  explicit OrderCheck(const std::string& path) : path_(path) {}
  void check(int64_t row, int64_t subject, bool has_time, int64_t time) {
    if (started_ && subject < subject_) {
      throw InputError(fmt::format("{}: row {} is out of MEDS order: its subject_id is smaller than the one "
                                   "before it",
                                   path_, row),
                       "MEDS data files are sorted by subject_id, then time: sort the file (pyarrow: "
                       "table.sort_by([('subject_id', 'ascending'), ('time', 'ascending')]))");
    }
    if (!started_ || subject != subject_) {
      started_ = true;
      subject_ = subject;
      has_time_ = false;
    }
    if (!has_time) return;
    if (has_time_ && time < time_) {
      throw InputError(
          fmt::format("{}: row {} is out of MEDS order: its time is earlier than the subject's row "
                      "before it",
                      path_, row),
          "MEDS data files are sorted by subject_id, then time: sort the file (pyarrow: "
          "table.sort_by([('subject_id', 'ascending'), ('time', 'ascending')]))");
    }
    has_time_ = true;
    time_ = time;
  }

 private:
  std::string path_;
  bool started_ = false, has_time_ = false;
  int64_t subject_ = 0, time_ = 0;
};

void read_parquet(const std::string& path, const ImportOptions& options, EventSink& sink, PrepAudit& audit) {
  ParquetFile file(path);
  audit.declare_columns(path, file.column_names(), kEventsSpec, /*extra_columns_unread=*/true);
  std::vector<int> wanted = {
      require(file, "subject_id", {ParquetType::kInt}, "int64"),
      require(file, "time", {ParquetType::kTimestamp, ParquetType::kNull}, "timestamp[us]"),
      require(file, "code", {ParquetType::kString}, "string")};
  check_time_zone(path, file.columns()[size_t(wanted[1])]);
  const bool has_value = file.find_column("numeric_value") >= 0;
  if (has_value)
    wanted.push_back(require(file, "numeric_value", {ParquetType::kFloat, ParquetType::kNull}, "float32"));
  RowReport report(options, audit);
  OrderCheck order(path);
  ParquetBatch batch;
  int64_t row = 0, events = 0, subject_id = 0;
  std::string subject;  // subject_id as text, as the CSV form has it (the keyed hash's input)
  for (int group = 0; group < file.row_groups(); ++group) {
    file.read(group, wanted, batch);
    for (int64_t r = 0; r < batch.rows(); ++r) {
      ++row;
      const auto where = [&] { return fmt::format("{}: row {}", path, row); };
      if (batch.is_null(0, r)) {
        report.bad(where(), "empty subject_id", "null subject_id");
        continue;
      }
      const std::string_view code = batch.is_null(2, r) ? std::string_view() : batch.text(2, r);
      if (code.empty()) {
        report.bad(where(), "empty code", "null or empty code");
        continue;
      }
      if (batch.integer_above_int64(0, r)) {  // would wrap to a negative id: another patient's text
        report.bad(where(), "subject_id above the int64 range",
                   "subject_id is above 9223372036854775807, the largest MEDS int64 id");
        continue;
      }
      const int64_t id = batch.integer(0, r);
      const bool has_time = !batch.is_null(1, r);
      const int64_t seconds = has_time ? batch.seconds(1, r) : 0;
      order.check(row, id, has_time, seconds);
      if (subject.empty() || id != subject_id) {
        subject_id = id;
        subject = meds_subject_text(id);
      }
      const double value = has_time && has_value && !batch.is_null(3, r) ? batch.number(3, r) : std::nan("");
      events += emit_row(sink, report, where, subject, code, has_time, seconds, value);
    }
  }
  audit.count_rows("events", row);
  audit.count_events("events", events);
}

// metadata/subject_splits.parquet: each listed subject goes to its split.
void read_subject_splits(const std::string& path, EventSink& sink, PrepAudit& audit) {
  ParquetFile file(path);
  audit.declare_columns(path, file.column_names(), kSplitsSpec, /*extra_columns_unread=*/true);
  const std::vector<int> wanted = {require(file, "subject_id", {ParquetType::kInt}, "int64"),
                                   require(file, "split", {ParquetType::kString}, "string")};
  ParquetBatch batch;
  int64_t row = 0;
  std::map<std::string, int64_t> per_split;
  for (int group = 0; group < file.row_groups(); ++group) {
    file.read(group, wanted, batch);
    for (int64_t r = 0; r < batch.rows(); ++r) {
      ++row;
      const std::string_view split = batch.is_null(1, r) ? std::string_view() : batch.text(1, r);
      FixedSplit fixed;
      if (split == "train") {
        fixed = FixedSplit::kTrain;
      } else if (split == "tuning") {
        fixed = FixedSplit::kTuning;
      } else if (split == "held_out") {
        fixed = FixedSplit::kHeldOut;
      } else {
        throw InputError(
            fmt::format("{}: row {}: split '{}' is not one of train, tuning, held_out", path, row, split),
            "use MEDS's split names, or pass --resplit to ignore the file and draw every split "
            "from the subject key");
      }
      if (batch.is_null(0, r))
        throw InputError(fmt::format("{}: row {}: null subject_id", path, row), "fix the row");
      sink.set_split(meds_subject_text(batch.integer(0, r)), fixed);
      ++per_split[std::string(split)];
    }
  }
  audit.count_rows(kSplitsSpec.table, row);
  for (const auto& [split, n] : per_split)
    audit.count(fmt::format("subjects given split {} by {}", split, kSplitsSpec.table), n);
}

// metadata/codes.parquet: a code's first parent_codes entry becomes its parent for small-cell
// suppression (a rare code falls back to it before the built-in rule's coarser code).
void read_code_parents(const std::string& path, CodeHierarchy& hierarchy, PrepAudit& audit) {
  ParquetFile file(path);
  audit.declare_columns(path, file.column_names(), kCodesSpec, /*extra_columns_unread=*/true);
  const int code = require(file, "code", {ParquetType::kString}, "string");
  const int parents = file.find_column("parent_codes");
  if (parents < 0) {
    audit.count("codes in metadata/codes.parquet (no parent_codes column: built-in parents)", file.rows());
    return;
  }
  require(file, "parent_codes", {ParquetType::kStringList, ParquetType::kNull}, "list<string>");
  ParquetBatch batch;
  int64_t stated = 0, extra = 0;
  for (int group = 0; group < file.row_groups(); ++group) {
    file.read(group, {code, parents}, batch);
    for (int64_t r = 0; r < batch.rows(); ++r) {
      if (batch.is_null(0, r) || batch.is_null(1, r)) continue;
      const auto list = batch.text_list(1, r);
      if (list.empty()) continue;
      hierarchy.set_parent(std::string(batch.text(0, r)), list.front(), path);
      ++stated;
      extra += static_cast<int64_t>(list.size()) - 1;
    }
  }
  audit.count_rows(kCodesSpec.table, file.rows());
  audit.count("codes given a parent by metadata/codes.parquet (its first parent_codes entry)", stated);
  if (extra > 0) audit.count("further parent_codes entries not used (suppression follows the first)", extra);
}

// metadata/dataset.json: recorded as the export describes itself.
nlohmann::json read_dataset_json(const std::string& path) {
  std::ifstream in(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not valid JSON ({})", path, e.what()), "fix or remove the file");
  }
  if (!j.is_object()) throw InputError(fmt::format("{}: not a JSON object", path), "fix or remove the file");
  nlohmann::json kept = nlohmann::json::object();
  for (const char* key :
       {"dataset_name", "dataset_version", "etl_name", "etl_version", "meds_version", "created_at"}) {
    if (j.contains(key) && j[key].is_string()) kept[key] = j[key];
  }
  return kept;
}

// This part's files: the contiguous run whose first bytes fall in its 1/parts of all the bytes.
std::vector<std::string> files_of_part(const std::vector<std::string>& files, int part, int parts) {
  if (parts <= 1) return files;
  std::vector<uint64_t> bytes;
  uint64_t total = 0;
  for (const auto& f : files) {
    std::error_code ec;
    bytes.push_back(fs::file_size(f, ec));
    total += bytes.back();
  }
  std::vector<std::string> mine;
  uint64_t start = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    // The part whose byte range holds this file's start (a file of 0 bytes goes with its start).
    const uint64_t owner =
        total == 0 ? uint64_t(i) * uint64_t(parts) / files.size() : (start * uint64_t(parts)) / total;
    if (int(owner) == part) mine.push_back(files[i]);
    start += bytes[i];
  }
  return mine;
}

}  // namespace

void import_meds(const ImportOptions& options, EventSink& sink, PrepAudit& audit) {
  for (const auto& path : files_of_part(meds_files(options.input), options.part, options.parts)) {
    if (is_parquet(path)) {
      read_parquet(path, options, sink, audit);
    } else {
      read_csv(path, options, sink, audit);
    }
  }
  if (options.part != options.parts - 1) return;  // the metadata: with the last part
  std::error_code ec;
  const fs::path metadata = fs::path(options.input) / "metadata";
  if (!fs::is_directory(metadata, ec)) return;
  const fs::path dataset = metadata / "dataset.json";
  if (fs::is_regular_file(dataset, ec)) audit.set_source_metadata(read_dataset_json(dataset.string()));
  const fs::path codes = metadata / "codes.parquet";
  if (fs::is_regular_file(codes, ec) && options.hierarchy)
    read_code_parents(codes.string(), *options.hierarchy, audit);
  const fs::path splits = metadata / "subject_splits.parquet";
  if (!fs::is_regular_file(splits, ec)) {
    audit.note_missing_table(kSplitsSpec.table,
                             "no metadata/subject_splits.parquet: splits drawn from the key");
  } else if (!options.export_splits) {
    audit.note_unread_table(kSplitsSpec.table, "--resplit: splits drawn from the key instead");
  } else {
    read_subject_splits(splits.string(), sink, audit);
  }
}

std::string meds_subject_text(int64_t id) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, id);
  return std::string(buffer, result.ptr);
}

}  // namespace clinfm
