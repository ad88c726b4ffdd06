// The CSV reader (plain, or gzip when the input starts with gzip's magic bytes) on arbitrary
// bytes, with and without skipping bad rows, and the field parsers (timestamps, numbers) on every
// field it returns. Bad input is a clinfm::Error naming the file and line.
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/csv_reader.h"
#include "data/timestamp.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool skip = data[0] & 1;
  const std::string path = clinfm::fuzz::write_input("input.csv", data + 1, size - 1);
  try {
    clinfm::CsvReader reader(path);
    reader.set_skip_bad_rows(skip);
    std::vector<std::string_view> fields;
    int64_t seconds = 0, integer = 0;
    double number = 0;
    while (reader.next(fields)) {
      if (fields.size() != reader.header().size()) std::abort();  // the reader's promise
      for (const auto field : fields) {
        clinfm::parse_timestamp(field, &seconds);
        clinfm::parse_double(field, &number);
        clinfm::parse_int64(field, &integer);
      }
    }
  } catch (const clinfm::Error&) {
  }
  return 0;
}
