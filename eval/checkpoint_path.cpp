// --checkpoint PATH -> weights file.
#include "eval/checkpoint_path.h"

#include <fmt/format.h>

#include <filesystem>

#include "common/error.h"
#include "common/fs.h"

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

}  // namespace clinfm
