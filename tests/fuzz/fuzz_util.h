// Shared by the libFuzzer targets: a per-process scratch folder and writing an input to a file
// there (the readers under test take paths, as clinfm's commands do).
// A target accepts clinfm::Error (the "clear error naming the file and line" every bad input
// must get) and nothing else: any other exception escapes and libFuzzer reports it as a crash.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace clinfm::fuzz {

inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    auto path = std::filesystem::temp_directory_path() / ("clinfm-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path;
  }();
  return dir;
}

// `optional`: a name that cannot be a file (an archive's "hosp/", a file where a folder is
// needed) gives "" instead of stopping the fuzzer.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size,
                               bool optional = false) {
  const std::filesystem::path path = scratch() / name;
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  FILE* file = ec ? nullptr : std::fopen(path.c_str(), "wb");
  if (file == nullptr && optional) return {};
  if (file == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, file) != size) std::abort();
  std::fclose(file);
  return path.string();
}

}  // namespace clinfm::fuzz
