// MEDS CSV importer: `subject_id,time,code,numeric_value,text_value` rows from one .csv/.csv.gz
// file or from every such file in a folder (sorted by name). MEDS_BIRTH gives the birth time;
// rows with an empty time are static attributes (placed at birth); text_value is free text and
// is dropped. Each row becomes exactly one event or is dropped with a reason.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "data/csv_reader.h"
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

std::vector<std::string> meds_files(const std::string& input) {
  std::error_code ec;
  if (fs::is_regular_file(input, ec)) return {input};
  if (!fs::is_directory(input, ec)) {
    throw InputError(fmt::format("MEDS input '{}' does not exist", input),
                     "give a MEDS .csv/.csv.gz file or a folder of them");
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(input)) {
    const std::string name = entry.path().filename().string();
    const bool csv =
        name.size() > 4 && (name.compare(name.size() - 4, 4, ".csv") == 0 ||
                            (name.size() > 7 && name.compare(name.size() - 7, 7, ".csv.gz") == 0));
    // Metadata beside MEDS data files, and the truth file `clinfm synth` writes beside its cohort.
    const bool metadata = name.rfind("codes", 0) == 0 || name.rfind("subject_splits", 0) == 0 ||
                          name.find(".truth.csv") != std::string::npos;
    if (entry.is_regular_file() && csv && !metadata) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    throw InputError(
        fmt::format("MEDS folder '{}' holds no .csv or .csv.gz file", input),
        "MEDS data files look like data/*.csv(.gz) with columns subject_id,time,code,numeric_value");
  }
  return files;
}

}  // namespace

void import_meds(const ImportOptions& options, EventSink& sink, PrepAudit& audit) {
  const std::string table = "events";
  for (const auto& path : meds_files(options.input)) {
    CsvReader reader(path);
    reader.set_skip_bad_rows(options.skip_bad_rows);
    audit.declare_table(reader, kEventsSpec);
    const int subject_col = reader.require_column("subject_id");
    const int time_col = reader.require_column("time");
    const int code_col = reader.require_column("code");
    const int value_col = reader.find_column("numeric_value");
    std::vector<std::string_view> f;
    auto bad = [&](const std::string& reason, const std::string& detail) {
      if (!options.skip_bad_rows) {
        throw InputError(fmt::format("{}: {}", reader.where(), detail),
                         "fix the row, or pass --on-bad-row=skip to skip and count such rows");
      }
      audit.count_dropped(table, reason);
    };
    int64_t rows = 0, events = 0;  // counted here, added to the audit once per file
    while (reader.next(f)) {
      ++rows;
      const std::string_view subject = f[subject_col], time = f[time_col], code = f[code_col];
      if (subject.empty()) {
        bad("empty subject_id", "empty subject_id");
        continue;
      }
      if (code.empty()) {
        bad("empty code", "empty code");
        continue;
      }
      if (time.empty()) {
        if (code == kBirthCode) {
          bad("MEDS_BIRTH without time", "MEDS_BIRTH row without a time");
          continue;
        }
        sink.add_static(subject, code);
        ++events;
        continue;
      }
      int64_t seconds = 0;
      if (!parse_timestamp(time, &seconds)) {
        bad("unparsable time", fmt::format("unparsable time '{}' (expected YYYY-MM-DD[ HH:MM:SS])", time));
        continue;
      }
      double value = std::nan("");
      if (value_col >= 0 && !f[value_col].empty() && !parse_double(f[value_col], &value)) {
        bad("unparsable numeric_value", fmt::format("numeric_value '{}' is not a number", f[value_col]));
        continue;
      }
      if (code == kBirthCode) {
        sink.add_birth(subject, seconds);
      } else {
        sink.add_event(subject, seconds, code, value);
      }
      ++events;
    }
    audit.count_rows(table, rows);
    audit.count_events(table, events);
    audit.count_bad_rows(table, reader.bad_rows());
  }
}

}  // namespace clinfm
