// The contract between an importer (one file per source format in data/importers/) and prep.
// An importer reads its export table by table and reports, for each row, events of one subject
// with absolute times (seconds since 1970, see timestamp.h) to an EventSink. Prep turns those
// into de-identified, age-based timelines; importers never write anything themselves.
//
// Every column of every table an importer opens must be declared in a TableSpec with what
// happens to it (kept, transformed, dropped, and why). A column in the file that is not
// declared is an InputError: it may hold identifiers, and de-identification must never pass
// silently over it. The audit lists every declaration and counts every row.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clinfm {

class CodeHierarchy;
class CsvReader;

enum class ColumnUse { kKept, kTransformed, kDropped };

struct ColumnRule {
  std::string column;
  ColumnUse use;
  std::string what;  // "event code LAB//{itemid}", "dropped: free text, may hold identifiers", ...
};

struct TableSpec {
  std::string table;                // "hosp/labevents", "patients", "events"
  std::vector<ColumnRule> columns;  // every column the file may have
};

class PrepAudit {
 public:
  // Records the table's column rules and checks the file's header against them: an undeclared
  // column is an InputError naming the file and column. Declared columns absent from the file
  // are fine (exports differ by version) and are listed as absent.
  void declare_table(const CsvReader& reader, const TableSpec& spec);
  // The same for a file whose column names come from elsewhere (a Parquet schema). With
  // `extra_columns_unread`, undeclared columns are allowed: they are never read (a columnar
  // file is read column by column), and the audit lists each as dropped, not read.
  void declare_columns(const std::string& file, const std::vector<std::string>& names, const TableSpec& spec,
                       bool extra_columns_unread);
  // Column rules of a binary table (no header to check), e.g. Delphi's uint32 triples.
  void declare_binary_table(const std::string& file, const TableSpec& spec);
  // A table that the format knows but that is absent from this export (optional tables).
  void note_missing_table(const std::string& table, const std::string& why);
  // A table present in the export that this importer does not read (e.g. hosp/emar).
  void note_unread_table(const std::string& table, const std::string& why);

  void count_row(const std::string& table) { ++tables_[table].rows; }
  void count_rows(const std::string& table, int64_t n) { tables_[table].rows += n; }
  void count_events(const std::string& table, int64_t n = 1) { tables_[table].events += n; }
  void count_dropped(const std::string& table, const std::string& reason, int64_t n = 1) {
    tables_[table].dropped[reason] += n;
  }
  // Rows the CSV reader skipped for a wrong column count (--on-bad-row=skip): read and dropped.
  void count_bad_rows(const std::string& table, int64_t n) {
    if (n <= 0) return;
    tables_[table].rows += n;
    tables_[table].dropped["malformed row (skipped with --on-bad-row=skip)"] += n;
  }
  // Prep-level counters (suppressions, top-coding, patients without birth, ...).
  void count(const std::string& what, int64_t n = 1) { counters_[what] += n; }
  int64_t counter(const std::string& what) const;
  // The reconciliation of input rows with output events, in the order given (shown first).
  void set_accounting(std::vector<std::pair<std::string, int64_t>> lines) { accounting_ = std::move(lines); }
  void add_accounting_line(std::string what, int64_t n) { accounting_.emplace_back(std::move(what), n); }
  void set_source(const std::string& format, const std::string& input) {
    format_ = format;
    input_ = input;
  }
  // What the export says about itself (MEDS's metadata/dataset.json); prep copies it into the
  // data set's manifest.
  void set_source_metadata(nlohmann::json metadata) { source_metadata_ = std::move(metadata); }
  const nlohmann::json& source_metadata() const { return source_metadata_; }
  // Everything recorded so far as JSON, and its merge into this audit (prep on several ranks:
  // rank 0 merges the others' in rank order). Counts add up; a table's file and column rules
  // are the later rank's where it declared the table (as a single pass that read the ranks'
  // files in order would have kept the last).
  nlohmann::json state() const;
  void merge_state(const nlohmann::json& state);

  struct TableCounts {
    int64_t rows = 0;
    int64_t events = 0;
    std::map<std::string, int64_t> dropped;
    std::vector<ColumnRule> columns;
    std::vector<std::string> absent_columns;
    std::string file;
    std::string missing_reason;  // non-empty: table not in this export
    std::string unread_reason;   // non-empty: in the export, not imported
  };
  const std::map<std::string, TableCounts>& tables() const { return tables_; }
  nlohmann::json to_json() const;
  std::string to_markdown() const;

 private:
  std::string format_, input_;
  nlohmann::json source_metadata_ = nlohmann::json::object();
  std::map<std::string, TableCounts> tables_;
  std::map<std::string, int64_t> counters_;
  std::vector<std::pair<std::string, int64_t>> accounting_;
};

// A split the export fixes itself (Delphi's train.bin and val.bin; MEDS subject_splits): the
// patient goes there instead of where its key would put it. kDevelopment: train or tuning, drawn
// from the key with data.split_tuning (a held-out split is never drawn for it).
enum class FixedSplit : uint8_t { kTrain = 0, kTuning = 1, kHeldOut = 2, kDevelopment = 3 };

// Receives a source's events. Subject ids are the source's raw ids: the sink pseudonymises
// them at once and never stores or prints them. `table` names the source table for the audit.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Date of birth (required for every patient: events are placed on the age axis).
  virtual void add_birth(std::string_view subject_id, int64_t time_s) = 0;
  // A timed event. `value` is NaN when the event has no numeric value.
  virtual void add_event(std::string_view subject_id, int64_t time_s, std::string_view code,
                         double value) = 0;
  // A static attribute without time (e.g. GENDER//F); placed at birth. Codes starting with
  // "GENDER//" also set the patient's sex attribute (F, M, else unknown).
  virtual void add_static(std::string_view subject_id, std::string_view code) = 0;
  // The patient's split, when the export fixes it (see FixedSplit); else prep draws it from the key.
  virtual void set_split(std::string_view subject_id, FixedSplit split) = 0;
};

struct ImportOptions {
  std::string input;                   // folder or file as given on the command line
  bool skip_bad_rows = false;          // --on-bad-row=skip
  double no_event_years = 5.0;         // --format delphi: a "No event" token every N years of age (0: none)
  bool export_splits = true;           // false (--resplit): ignore the export's splits, draw all from the key
  CodeHierarchy* hierarchy = nullptr;  // where an importer puts the parents the export states
  // Prep on several ranks: this rank imports part `part` of `parts` (import_meds: a contiguous
  // run of the data files, about 1/parts of their bytes; the metadata with the last part), so
  // that the parts' records in part order are the single pass's records in its order.
  int part = 0, parts = 1;
};

// The formats whose import splits over ranks (ImportOptions::parts); the others import on rank 0.
inline bool import_splits_over_ranks(std::string_view format) { return format == "meds"; }

// One per format; each throws InputError for a missing required table/column or bad rows.
void import_meds(const ImportOptions& options, EventSink& sink, PrepAudit& audit);
void import_mimic_iv(const ImportOptions& options, EventSink& sink, PrepAudit& audit);
void import_synthea(const ImportOptions& options, EventSink& sink, PrepAudit& audit);
void import_delphi(const ImportOptions& options, EventSink& sink, PrepAudit& audit);

// A MEDS integer subject_id as the text prep hashes ("123"): the same as the id's CSV form, so the
// Parquet and CSV forms of a data set get the same keys, and eval's MEDS label files match them.
std::string meds_subject_text(int64_t id);

// Standard codes of special events.
inline constexpr std::string_view kBirthCode = "MEDS_BIRTH";
inline constexpr std::string_view kDeathCode = "MEDS_DEATH";

}  // namespace clinfm
