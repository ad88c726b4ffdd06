// PATH -> weights file, by the rule in weights_path.h. Checkpoints are verified with
// verify_checkpoint (layout.h), the same check that --resume uses, so "valid" means one thing.
#include "trainer/checkpoint/weights_path.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <sstream>

#include "common/error.h"
#include "common/file_hash.h"
#include "common/fs.h"
#include "common/log.h"
#include "trainer/checkpoint/layout.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

constexpr const char* kWeightsFile = "model.pt";
constexpr const char* kWhatToPass =
    "pass a weights file (model.pt), a checkpoint folder (RUN/checkpoints/step-XXXXXXXX) or a run folder";

// The last component of a folder path, also when it ends in a separator ("run/step-00000100/").
std::string folder_name(const fs::path& folder) {
  fs::path normal = folder.lexically_normal();
  if (!normal.has_filename()) normal = normal.parent_path();
  return normal.filename().string();
}

// A run folder holds checkpoints/; a checkpoint folder is named like one or holds a manifest.
bool is_checkpoint_folder(const fs::path& folder) {
  std::error_code ec;
  if (fs::is_directory(folder / "checkpoints", ec)) return false;
  return parse_checkpoint_name(folder_name(folder)) >= 0 || fs::is_regular_file(folder / kChecksumFile, ec);
}

WeightsChoice from_checkpoint_folder(const fs::path& folder, const std::string& path) {
  const std::string problem = verify_checkpoint(folder.string());
  if (!problem.empty()) {
    throw InputError(fmt::format("{}: the checkpoint is damaged: {}", path, problem),
                     "pick an earlier checkpoint of the run (ls RUN/checkpoints), or pass the run folder, "
                     "which passes over damaged checkpoints");
  }
  return {(folder / kWeightsFile).string(), (folder / kChecksumFile).string(), {}};
}

// The folder RUN/checkpoints/latest names; empty when there is no pointer or it names no
// checkpoint (a warning says so).
std::string latest_checkpoint_dir(const fs::path& run, std::vector<std::string>& warnings) {
  const fs::path pointer = fs::path(checkpoints_dir(run.string())) / "latest";
  std::error_code ec;
  if (!fs::is_regular_file(pointer, ec)) return {};
  std::string name = read_file(pointer.string());
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
  if (parse_checkpoint_name(name) < 0) {
    warnings.push_back(fmt::format("{} holds '{}', not a checkpoint name such as step-00000100; ignored",
                                   pointer.string(), name));
    return {};
  }
  return (fs::path(checkpoints_dir(run.string())) / name).string();
}

[[noreturn]] void throw_nothing_usable(const std::string& path, const fs::path& run, bool had_checkpoints,
                                       const std::vector<std::string>& warnings) {
  std::string message = had_checkpoints
                            ? fmt::format("{}: every checkpoint under {} is damaged and there is no {}", path,
                                          checkpoints_dir(run.string()), (run / kWeightsFile).string())
                            : fmt::format("{}: a folder with neither checkpoints nor {}", path, kWeightsFile);
  for (const std::string& warning : warnings) message += "\n  " + warning;
  throw InputError(message, had_checkpoints ? "restore a checkpoint from a copy, or pass a weights file"
                                            : std::string(kWhatToPass));
}

WeightsChoice from_run_folder(const fs::path& run, const std::string& path) {
  WeightsChoice choice;
  const std::string latest = latest_checkpoint_dir(run, choice.warnings);
  std::vector<std::string> candidates;  // the latest first, then the others newest first
  if (!latest.empty()) candidates.push_back(latest);
  for (const std::string& dir : list_checkpoints(run.string()))
    if (dir != latest) candidates.push_back(dir);
  for (const std::string& dir : candidates) {
    const std::string problem = verify_checkpoint(dir);
    if (problem.empty()) {
      choice.path = (fs::path(dir) / kWeightsFile).string();
      choice.verified_against = (fs::path(dir) / kChecksumFile).string();
      return choice;
    }
    choice.warnings.push_back(
        dir == latest ? fmt::format("checkpoint {} (named by checkpoints/latest) is damaged ({}); skipped",
                                    dir, problem)
                      : fmt::format("checkpoint {} is damaged ({}); skipped", dir, problem));
  }
  std::error_code ec;
  if (!fs::is_regular_file(run / kWeightsFile, ec))
    throw_nothing_usable(path, run, !candidates.empty(), choice.warnings);
  choice.path = (run / kWeightsFile).string();
  return choice;
}

}  // namespace

WeightsChoice choose_weights(const std::string& path) {
  const fs::path given(path);
  std::error_code ec;
  if (fs::is_regular_file(given, ec)) {
    WeightsChoice choice{path, {}, {}};
    if (verify_weights_checksum(path))
      choice.verified_against = (given.parent_path() / kChecksumFile).string();
    return choice;
  }
  if (!fs::is_directory(given, ec))
    throw InputError(fmt::format("{}: no such file or folder", path), kWhatToPass);
  if (is_checkpoint_folder(given)) return from_checkpoint_folder(given, path);
  return from_run_folder(given, path);
}

std::string resolve_weights_path(const std::string& path) {
  const WeightsChoice choice = choose_weights(path);
  for (const std::string& warning : choice.warnings) log_warn("{}", warning);
  if (!choice.verified_against.empty())
    log_info("{}: SHA-256 matches {}", choice.path, choice.verified_against);
  return choice.path;
}

bool verify_weights_checksum(const std::string& weights_path) {
  const fs::path weights(weights_path);
  const fs::path manifest = weights.parent_path() / kChecksumFile;
  std::error_code ec;
  if (!fs::is_regular_file(manifest, ec)) return false;
  // sha256sum's format: "<64 hex>  <name>" (or " *<name>" for binary mode), one file per line.
  std::istringstream lines(read_file(manifest.string()));
  std::string line, expected;
  while (std::getline(lines, line)) {
    if (line.size() < 66) continue;
    std::string name = line.substr(66);
    if (!name.empty() && name[0] == '*') name.erase(0, 1);
    if (name == weights.filename().string()) expected = line.substr(0, 64);
  }
  if (expected.empty()) {
    throw InputError(fmt::format("{}: {} has no entry for {}", weights_path, manifest.string(),
                                 weights.filename().string()),
                     "the checkpoint is incomplete or damaged; use another checkpoint of the run");
  }
  std::string actual;
  try {
    actual = file_sha256_hex(weights_path);
  } catch (const Error& error) {
    throw InputError(fmt::format("{}: cannot be read: {}", weights_path, error.what()));
  }
  if (actual != expected) {
    throw InputError(fmt::format("{}: checksum mismatch against {} (SHA-256 {}, expected {})", weights_path,
                                 manifest.string(), actual, expected),
                     "the file was damaged or changed after the checkpoint was written; use an earlier "
                     "checkpoint of the run (RUN/checkpoints/step-...)");
  }
  return true;
}

}  // namespace clinfm
