// Delphi-2M binary importer (gerstung-lab/Delphi's data format): little-endian uint32 triples
// (patient_id, age_in_days, raw_token) grouped by patient, and labels.csv naming model token i on
// line i+1 (no header). A raw token t is Delphi's model token t + 1 (its get_batch adds one: model
// token 0 is padding, 1 "No event"), so raw token t is named by labels.csv line t + 2. The sex
// tokens (Female/Male) become the static GENDER//F and GENDER//M, every other token the code
// DELPHI//<label up to " (">. Delphi's data already has ages, so each patient's birth is age 0.
//
// --input is either one .bin file (splits drawn from the keys like any export) or Delphi's data
// folder: train.bin for training and tuning (train or tuning drawn from the key), val.bin held
// out, as Delphi's code splits them. A patient id in both files is two patients, as in Delphi's
// code (each file's ids are read on their own). Each patient gets a "No event" token
// (DELPHI//No_event) at 1 day and every `no_event_years` after it up to its last event, as
// Delphi's regular padding does (no_event_token_rate = 5).
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>
#include <vector>

#include "common/error.h"
#include "data/source.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

constexpr double kDaysPerYear = 365.25;

std::vector<std::string> read_labels(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    throw InputError(fmt::format("Delphi labels file '{}' not found", path.string()),
                     "labels.csv must lie beside the .bin file; it names token i on line i+1");
  }
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() >= 2 && line.front() == '"' && line.back() == '"') line = line.substr(1, line.size() - 2);
    labels.push_back(line);
  }
  return labels;
}

std::string code_of(const std::string& label) {
  const size_t paren = label.find(" (");
  std::string name = paren == std::string::npos ? label : label.substr(0, paren);
  for (auto& c : name)
    if (c == ' ') c = '_';
  return "DELPHI//" + name;
}

// One .bin file of the input and what it holds.
struct BinFile {
  fs::path path;
  std::string subject_prefix;       // "" (one file) or "train:" / "val:" (a patient per file)
  std::optional<FixedSplit> split;  // none: drawn from the key
};

class DelphiReader {
 public:
  DelphiReader(const ImportOptions& options, std::vector<std::string> labels, EventSink& sink,
               PrepAudit& audit)
      : options_(options),
        labels_(std::move(labels)),
        sink_(sink),
        audit_(audit),
        no_event_counter_(fmt::format("\"No event\" tokens inserted every {} years of age (--no-event-years)",
                                      options.no_event_years)) {}

  void read(const BinFile& bin);

 private:
  void start_patient(const BinFile& bin, uint32_t patient);
  void end_patient();
  void add_triple(const std::string& table, uint64_t index, uint32_t age_days, uint32_t raw_token);

  const ImportOptions& options_;
  const std::vector<std::string> labels_;
  EventSink& sink_;
  PrepAudit& audit_;
  const std::string no_event_counter_;  // the audit line of the inserted "No event" tokens
  std::string file_, subject_;
  bool in_patient_ = false;
  uint32_t last_age_days_ = 0;
  int64_t no_event_tokens_ = 0;
};

void DelphiReader::start_patient(const BinFile& bin, uint32_t patient) {
  end_patient();
  subject_ = bin.subject_prefix + std::to_string(patient);
  sink_.add_birth(subject_, 0);
  if (bin.split && options_.export_splits) sink_.set_split(subject_, *bin.split);
  in_patient_ = true;
  last_age_days_ = 0;
}

// Delphi's regular padding: "No event" at 1 day, then every no_event_years, up to the last event.
void DelphiReader::end_patient() {
  if (!in_patient_ || options_.no_event_years <= 0) return;
  const double step_days = options_.no_event_years * kDaysPerYear;
  for (double age = 1.0; age <= double(last_age_days_); age += step_days) {
    sink_.add_event(subject_, std::llround(age * 86400.0), "DELPHI//No_event", std::nan(""));
    ++no_event_tokens_;
  }
  in_patient_ = false;
  audit_.count(no_event_counter_, std::exchange(no_event_tokens_, 0));
}

void DelphiReader::add_triple(const std::string& table, uint64_t index, uint32_t age_days,
                              uint32_t raw_token) {
  const uint64_t model_token = uint64_t(raw_token) + 1;
  if (raw_token == 0 || model_token >= labels_.size()) {
    if (!options_.skip_bad_rows) {
      throw InputError(fmt::format("{}: triple {} has token {}, which labels.csv ({} labels) does not name "
                                   "as an event (raw token t is label line t + 2; raw 0 is \"No event\")",
                                   file_, index, raw_token, labels_.size()),
                       "use the labels.csv written with this .bin, or pass --on-bad-row=skip");
    }
    audit_.count_dropped(table, raw_token == 0 ? "raw token 0 (\"No event\": prep inserts its own)"
                                               : "token not in labels.csv");
    return;
  }
  const std::string& label = labels_[model_token];
  if (label == "Female" || label == "Male") {
    sink_.add_static(subject_, label == "Female" ? "GENDER//F" : "GENDER//M");
  } else {
    sink_.add_event(subject_, static_cast<int64_t>(age_days) * 86400, code_of(label), std::nan(""));
    last_age_days_ = std::max(last_age_days_, age_days);
  }
  audit_.count_events(table);
}

void DelphiReader::read(const BinFile& bin) {
  file_ = bin.path.string();
  std::error_code ec;
  if (!fs::is_regular_file(bin.path, ec)) {
    throw InputError(fmt::format("Delphi input '{}' is not a file", file_),
                     "give the .bin file of uint32 triples (e.g. train.bin) or Delphi's data folder "
                     "holding train.bin, val.bin and labels.csv");
  }
  const uint64_t bytes = fs::file_size(bin.path);
  if (bytes % 12 != 0) {
    throw InputError(fmt::format("{}: size {} is not a multiple of 12 bytes (uint32 triples)", file_, bytes),
                     "the file is truncated or not a Delphi .bin file");
  }
  const std::string table = bin.subject_prefix.empty() ? "triples" : bin.path.filename().string();
  audit_.declare_binary_table(
      file_, {table,
              {{"patient_id", ColumnUse::kTransformed,
                "keyed hash (HMAC-SHA256 with the secret salt): pseudonymous key"},
               {"age_in_days", ColumnUse::kKept, "age at the event"},
               {"token_id", ColumnUse::kTransformed,
                "code DELPHI//<label> from labels.csv (raw token t: line t + 2); Female/Male become the "
                "static GENDER//F, GENDER//M"}}});
  FILE* file = std::fopen(file_.c_str(), "rb");
  if (!file) throw InputError(fmt::format("cannot open '{}': {}", file_, std::strerror(errno)));
  std::vector<uint32_t> block(3 * 65536);
  uint64_t triple_index = 0;
  uint32_t last_patient = 0;
  try {
    for (;;) {
      const size_t n = std::fread(block.data(), sizeof(uint32_t), block.size(), file);
      if (n == 0) break;
      for (size_t i = 0; i + 2 < n; i += 3, ++triple_index) {
        const uint32_t patient = block[i];
        audit_.count_row(table);
        // (not a sentinel id: 4294967295 is a valid patient id; fuzz_import)
        if (!in_patient_ || patient != last_patient) start_patient(bin, patient);
        last_patient = patient;
        add_triple(table, triple_index, block[i + 1], block[i + 2]);
      }
    }
    end_patient();
  } catch (...) {
    std::fclose(file);
    throw;
  }
  std::fclose(file);
}

std::vector<BinFile> input_files(const fs::path& input) {
  std::error_code ec;
  if (!fs::is_directory(input, ec)) return {{input, "", std::nullopt}};
  std::vector<BinFile> files = {{input / "train.bin", "train:", FixedSplit::kDevelopment},
                                {input / "val.bin", "val:", FixedSplit::kHeldOut}};
  for (const BinFile& bin : files) {
    if (!fs::is_regular_file(bin.path, ec)) {
      throw InputError(
          fmt::format("Delphi data folder '{}' has no {}", input.string(), bin.path.filename().string()),
          "a Delphi data folder holds train.bin (training and tuning), val.bin (held out) and "
          "labels.csv; or give one .bin file");
    }
  }
  return files;
}

}  // namespace

void import_delphi(const ImportOptions& options, EventSink& sink, PrepAudit& audit) {
  const fs::path input(options.input);
  const std::vector<BinFile> files = input_files(input);
  const fs::path folder = files.size() == 1 ? input.parent_path() : input;
  DelphiReader reader(options, read_labels(folder / "labels.csv"), sink, audit);
  for (const BinFile& bin : files) reader.read(bin);
}

}  // namespace clinfm
