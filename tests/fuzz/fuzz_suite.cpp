// The evaluation suite parser on arbitrary YAML: a bad suite is a clinfm::Error naming the file,
// line and key.
#include <cstdint>
#include <string>

#include "common/error.h"
#include "eval/suite.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    clinfm::parse_suite(std::string(reinterpret_cast<const char*>(data), size), "fuzz-suite.yaml");
  } catch (const clinfm::Error&) {
  }
  return 0;
}
