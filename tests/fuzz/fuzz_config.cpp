// The YAML config resolver on arbitrary files and `section.key=value` overrides: a bad config is
// a clinfm::Error (an InputError naming file, line and key), never a crash or another exception.
// Input: the YAML file; its first line is also tried as a command-line override.
#include <cstdint>
#include <string>

#include "common/config/resolve.h"
#include "common/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = clinfm::fuzz::write_input("config.yaml", data, size);
  try {
    clinfm::resolve_config(path, {});
  } catch (const clinfm::Error&) {
  }
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    clinfm::resolve_config("", {text.substr(0, text.find('\n'))});
  } catch (const clinfm::Error&) {
  }
  return 0;
}
