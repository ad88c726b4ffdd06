// --checkpoint PATH -> weights file.
#include "eval/checkpoint_path.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "common/sha256.h"

namespace clinfm {
namespace fs = std::filesystem;

std::string resolve_checkpoint_path(const std::string& path) {
  const fs::path p(path);
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return p.string();
  if (!fs::is_directory(p, ec)) {
    throw InputError(fmt::format("--checkpoint {}: no such file or folder", path),
                     "pass a weights file (model.pt), a checkpoint folder or a run folder");
  }
  if (fs::is_regular_file(p / "model.pt", ec) && !fs::exists(p / "checkpoints", ec))
    return (p / "model.pt").string();
  const fs::path latest = p / "checkpoints" / "latest";
  if (fs::is_regular_file(latest, ec)) {
    std::string name = read_file(latest.string());
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r' || name.back() == ' '))
      name.pop_back();
    if (name.empty() || name.find('/') != std::string::npos || name == "..") {
      throw InputError(fmt::format("--checkpoint {}: {} does not name a checkpoint folder ('{}')", path,
                                   latest.string(), name),
                       "it should hold a folder name such as step-00000200");
    }
    const fs::path weights = p / "checkpoints" / name / "model.pt";
    if (!fs::is_regular_file(weights, ec)) {
      throw InputError(fmt::format("--checkpoint {}: {} points to {}, which has no model.pt", path,
                                   latest.string(), (p / "checkpoints" / name).string()),
                       "the checkpoint may have been deleted; pass a checkpoint folder explicitly");
    }
    return weights.string();
  }
  if (fs::is_regular_file(p / "model.pt", ec)) return (p / "model.pt").string();
  throw InputError(
      fmt::format("--checkpoint {}: a folder without model.pt or checkpoints/latest", path),
      "pass a weights file, a checkpoint folder (checkpoints/step-XXXXXXXX) or a finished run folder");
}

bool verify_weights_checksum(const std::string& weights_path) {
  const fs::path weights(weights_path);
  const fs::path manifest = weights.parent_path() / "checksums.sha256";
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
                     "the checkpoint is incomplete or damaged; evaluate another checkpoint of the run");
  }
  std::ifstream in(weights, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot be read", weights_path));
  Sha256 hash;
  std::vector<char> chunk(1 << 20);  // a multi-GB checkpoint is never read whole
  while (in) {
    in.read(chunk.data(), std::streamsize(chunk.size()));
    hash.update(chunk.data(), size_t(in.gcount()));
  }
  const auto digest = hash.finish();
  const std::string actual = to_hex(digest.data(), digest.size());
  if (actual != expected) {
    throw InputError(fmt::format("{}: checksum mismatch against {} (SHA-256 {}, expected {})", weights_path,
                                 manifest.string(), actual, expected),
                     "the file was damaged or changed after the checkpoint was written; evaluate an "
                     "earlier checkpoint of the run (RUN/checkpoints/step-...)");
  }
  return true;
}

}  // namespace clinfm
