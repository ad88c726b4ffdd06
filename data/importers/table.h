// What the CSV importers (mimic_iv.cpp, synthea.cpp) share: one table being read with its
// reader, its audit entry, and the handling of malformed rows; finding a table's file and the
// tables of a folder. Error messages name the file, line and column, never a field's content
// (it may be an identifier or a date).
#pragma once

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/source.h"
#include "data/timestamp.h"

namespace clinfm::importers {

inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();
inline constexpr const char* kTimeFormats =
    "expected YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or YYYY-MM-DDTHH:MM:SSZ";

inline std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

// The file of `table` (its path under `root`, without extension) with the first of `extensions`
// that exists; empty when none does.
inline std::string table_file(const std::filesystem::path& root, const std::string& table,
                              std::initializer_list<const char*> extensions) {
  std::error_code ec;
  for (const char* extension : extensions) {
    const std::filesystem::path path = root / (table + extension);
    if (std::filesystem::is_regular_file(path, ec)) return path.string();
  }
  return {};
}

// The tables in `folder`: the names of its .csv.gz and .csv files without the extension, each
// after `prefix` ("hosp/"). None when the folder cannot be read.
inline std::set<std::string> csv_tables_in(const std::filesystem::path& folder, const std::string& prefix) {
  std::set<std::string> tables;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    for (const std::string extension : {".csv.gz", ".csv"}) {
      if (name.size() > extension.size() &&
          name.compare(name.size() - extension.size(), extension.size(), extension) == 0) {
        tables.insert(prefix + name.substr(0, name.size() - extension.size()));
        break;
      }
    }
  }
  return tables;
}

class Table {
 public:
  Table(const std::string& path, const TableSpec& spec, const ImportOptions& options, PrepAudit& audit)
      : reader_(path), name_(spec.table), skip_bad_rows_(options.skip_bad_rows), audit_(audit) {
    reader_.set_skip_bad_rows(skip_bad_rows_);
    audit_.declare_table(reader_, spec);
  }

  int column(std::string_view name) const { return reader_.require_column(name); }
  int optional_column(std::string_view name) const { return reader_.find_column(name); }
  std::string_view operator[](int column) const { return column < 0 ? std::string_view() : fields_[column]; }
  const std::string& path() const { return reader_.path(); }

  bool next() {
    if (!reader_.next(fields_)) return false;
    audit_.count_row(name_);
    return true;
  }

  // A row that does not read as the format says: an InputError, or with --on-bad-row=skip a
  // dropped row counted under `reason`.
  void bad_row(const std::string& reason, const std::string& detail) {
    if (!skip_bad_rows_) {
      throw InputError(fmt::format("{}: row of table {}: {}", reader_.where(), name_, detail),
                       "fix the row, or pass --on-bad-row=skip to skip and count such rows");
    }
    audit_.count_dropped(name_, reason);
  }

  // A time column that must hold a time; false (after bad_row) when it does not.
  bool required_time(int column, std::string_view name, int64_t* seconds) {
    if (parse_timestamp(trim(fields_[column]), seconds)) return true;
    bad_row("unparsable time", fmt::format("{} is empty or not a time ({})", name, kTimeFormats));
    return false;
  }
  // A time column that may be empty: *present says whether it held one; false (after bad_row)
  // when it holds something that is not a time.
  bool optional_time(int column, std::string_view name, int64_t* seconds, bool* present) {
    *present = false;
    if (column < 0 || trim(fields_[column]).empty()) return true;
    if (!parse_timestamp(trim(fields_[column]), seconds)) {
      bad_row("unparsable time", fmt::format("{} is not a time ({})", name, kTimeFormats));
      return false;
    }
    *present = true;
    return true;
  }
  bool has_patient(std::string_view patient) {
    if (!patient.empty()) return true;
    bad_row("empty patient id", "the patient id is empty");
    return false;
  }

  void emit(EventSink& sink, std::string_view subject, int64_t time_s, std::string_view code,
            double value = kNoValue) {
    sink.add_event(subject, time_s, code, value);
    audit_.count_events(name_);
  }
  void count_event() { audit_.count_events(name_); }
  void drop(const std::string& reason) { audit_.count_dropped(name_, reason); }

  // After the last row: rows the reader skipped for a wrong column count are rows read and dropped.
  void finish() { audit_.count_bad_rows(name_, reader_.bad_rows()); }

 private:
  CsvReader reader_;
  std::string name_;
  bool skip_bad_rows_;
  PrepAudit& audit_;
  std::vector<std::string_view> fields_;
};

}  // namespace clinfm::importers
