// Delphi-2M binary importer: little-endian uint32 triples (patient_id, age_in_days, token_id)
// grouped by patient, and labels.csv beside the .bin file naming token i on line i+1 (no
// header). Every triple becomes one event: the sex tokens (Female/Male) become the static
// GENDER//F and GENDER//M, every other token the code DELPHI//<label up to " (">. Delphi's
// data already has ages, so each patient's birth is age 0.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/error.h"
#include "data/source.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

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

}  // namespace

void import_delphi(const ImportOptions& options, EventSink& sink, PrepAudit& audit) {
  const fs::path bin(options.input);
  std::error_code ec;
  if (!fs::is_regular_file(bin, ec)) {
    throw InputError(fmt::format("Delphi input '{}' is not a file", options.input),
                     "give the .bin file of uint32 triples (e.g. train.bin)");
  }
  const auto labels = read_labels(bin.parent_path() / "labels.csv");
  const uint64_t bytes = fs::file_size(bin);
  if (bytes % 12 != 0) {
    throw InputError(
        fmt::format("{}: size {} is not a multiple of 12 bytes (uint32 triples)", options.input, bytes),
        "the file is truncated or not a Delphi .bin file");
  }
  const std::string table = "triples";
  audit.declare_binary_table(
      options.input,
      {table,
       {{"patient_id", ColumnUse::kTransformed,
         "keyed hash (HMAC-SHA256 with the secret salt): pseudonymous key"},
        {"age_in_days", ColumnUse::kKept, "age at the event"},
        {"token_id", ColumnUse::kTransformed,
         "code DELPHI//<label> from labels.csv; Female/Male become the static GENDER//F, GENDER//M"}}});
  FILE* file = std::fopen(options.input.c_str(), "rb");
  if (!file) throw InputError(fmt::format("cannot open '{}': {}", options.input, std::strerror(errno)));
  std::vector<uint32_t> block(3 * 65536);
  uint64_t triple_index = 0;
  std::string subject;
  uint32_t last_patient = 0;
  bool have_patient = false;  // (not a sentinel id: 4294967295 is a valid patient id; fuzz_import)
  for (;;) {
    const size_t n = std::fread(block.data(), sizeof(uint32_t), block.size(), file);
    if (n == 0) break;
    for (size_t i = 0; i + 2 < n; i += 3, ++triple_index) {
      const uint32_t patient = block[i], age_days = block[i + 1], token = block[i + 2];
      audit.count_row(table);
      if (!have_patient || patient != last_patient) {
        subject = std::to_string(patient);
        sink.add_birth(subject, 0);
        last_patient = patient;
        have_patient = true;
      }
      if (token == 0 || token >= labels.size()) {
        if (!options.skip_bad_rows) {
          std::fclose(file);
          throw InputError(
              fmt::format("{}: triple {} has token {}, which labels.csv ({} labels) does not name",
                          options.input, triple_index, token, labels.size()),
              "use the labels.csv written with this .bin, or pass --on-bad-row=skip");
        }
        audit.count_dropped(table, token == 0 ? "padding token 0" : "token not in labels.csv");
        continue;
      }
      const std::string& label = labels[token];
      if (label == "Female" || label == "Male") {
        sink.add_static(subject, label == "Female" ? "GENDER//F" : "GENDER//M");
      } else {
        sink.add_event(subject, static_cast<int64_t>(age_days) * 86400, code_of(label), std::nan(""));
      }
      audit.count_events(table);
    }
  }
  std::fclose(file);
}

}  // namespace clinfm
