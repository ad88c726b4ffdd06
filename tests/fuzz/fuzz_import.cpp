// Each importer's table parsing on arbitrary exports. An input is a small archive of text files:
//   @@format meds|mimic|synthea|delphi     (the first line)
//   @@file hosp/admissions.csv             (then files: a line naming one, its bytes after it,
//                                           up to the newline before the next @@file line)
// The files are written into a scratch folder; the importer reads the folder (MIMIC-IV, Synthea)
// or the first file (MEDS, Delphi), with and without --on-bad-row=skip. Bad input is a
// clinfm::Error naming the file and line; whatever an importer emits has a non-empty code.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"
#include "data/source.h"
#include "fuzz_util.h"

namespace {
namespace fs = std::filesystem;

class CheckingSink : public clinfm::EventSink {
 public:
  void add_birth(std::string_view subject_id, int64_t) override { check_id(subject_id); }
  void add_event(std::string_view subject_id, int64_t, std::string_view code, double) override {
    check_id(subject_id);
    if (code.empty()) std::abort();
  }
  void add_static(std::string_view subject_id, std::string_view code) override {
    check_id(subject_id);
    if (code.empty()) std::abort();
  }
  void set_split(std::string_view subject_id, clinfm::FixedSplit split) override {
    check_id(subject_id);
    if (static_cast<int>(split) > static_cast<int>(clinfm::FixedSplit::kDevelopment)) std::abort();
  }

 private:
  static void check_id(std::string_view id) {
    if (id.empty()) std::abort();  // a patient without an id would be merged with every other
  }
};

bool safe_name(std::string_view name) {
  if (name.empty() || name.size() > 80 || name.front() == '/' || name.find("..") != std::string_view::npos)
    return false;
  for (const char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' || c == '-'))
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t first_end = input.find('\n');
  if (first_end == std::string_view::npos || input.substr(0, 9) != "@@format ") return 0;
  const std::string format(input.substr(9, first_end - 9));
  const fs::path root = clinfm::fuzz::scratch() / "export";
  std::error_code ec;
  fs::remove_all(root, ec);
  fs::create_directories(root);
  std::string first_file;
  size_t at = first_end + 1;
  while (at < input.size()) {
    const size_t line_end = input.find('\n', at);
    if (line_end == std::string_view::npos || input.substr(at, 7) != "@@file ") break;
    const std::string_view name = input.substr(at + 7, line_end - at - 7);
    const size_t next = input.find("\n@@file ", line_end);
    const size_t body_end = next == std::string_view::npos ? input.size() : next;  // the '\n' separates
    if (safe_name(name)) {
      const std::string_view body = input.substr(line_end + 1, body_end - line_end - 1);
      const std::string path = clinfm::fuzz::write_input(
          "export/" + std::string(name), reinterpret_cast<const uint8_t*>(body.data()), body.size(), true);
      if (first_file.empty() && !path.empty()) first_file = path;
    }
    at = body_end + 1;
  }
  for (const bool skip : {false, true}) {
    clinfm::ImportOptions options;
    options.skip_bad_rows = skip;
    options.input = (format == "meds" || format == "delphi") ? first_file : root.string();
    if (options.input.empty()) return 0;
    CheckingSink sink;
    clinfm::PrepAudit audit;
    try {
      if (format == "meds")
        clinfm::import_meds(options, sink, audit);
      else if (format == "mimic")
        clinfm::import_mimic_iv(options, sink, audit);
      else if (format == "synthea")
        clinfm::import_synthea(options, sink, audit);
      else if (format == "delphi")
        clinfm::import_delphi(options, sink, audit);
      else
        return 0;
      audit.to_json();
      audit.to_markdown();
    } catch (const clinfm::Error&) {
    }
  }
  return 0;
}
