#include "trainer/checkpoint/layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "common/error.h"
#include "common/file_hash.h"
#include "common/fs.h"

namespace clinfm {
namespace fs = std::filesystem;

nlohmann::json CheckpointMeta::to_json() const {
  nlohmann::json j = {{"format", kCheckpointFormat},
                      {"version", kCheckpointVersion},
                      {"step", step},
                      {"consumed_samples", consumed_samples},
                      {"optimizer_updates", optimizer_updates},
                      {"skipped_steps", skipped_steps},
                      {"consecutive_bad_steps", consecutive_bad_steps},
                      {"world_size", world_size},
                      {"zero1", zero1},
                      {"optimizer_files", optimizer_files},
                      {"global_batch_size", global_batch_size},
                      {"config_hash", config_hash},
                      {"dataset_manifest_sha256", dataset_manifest_sha256},
                      {"vocab_sha256", vocab_sha256},
                      {"clinfm_version", clinfm_version},
                      {"run_id", run_id}};
  if (validation_loss) j["validation_loss"] = *validation_loss;
  return j;
}

CheckpointMeta CheckpointMeta::from_json(const nlohmann::json& j, const std::string& source) {
  try {
    if (j.at("format").get<std::string>() != kCheckpointFormat)
      throw InputError(
          fmt::format("{}: not a clinfm checkpoint (format '{}')", source, j.at("format").dump()));
    const int version = j.at("version").get<int>();
    if (version != kCheckpointVersion) {
      throw InputError(fmt::format("{}: checkpoint version {} is not supported (this clinfm reads {})",
                                   source, version, kCheckpointVersion),
                       "resume it with the clinfm version that wrote it (state.json: clinfm_version)");
    }
    CheckpointMeta m;
    m.step = j.at("step").get<int64_t>();
    m.consumed_samples = j.at("consumed_samples").get<int64_t>();
    m.optimizer_updates = j.at("optimizer_updates").get<int64_t>();
    m.skipped_steps = j.at("skipped_steps").get<int64_t>();
    m.consecutive_bad_steps = j.at("consecutive_bad_steps").get<int64_t>();
    m.world_size = j.at("world_size").get<int64_t>();
    m.zero1 = j.at("zero1").get<bool>();
    m.optimizer_files = j.at("optimizer_files").get<int64_t>();
    m.global_batch_size = j.at("global_batch_size").get<int64_t>();
    m.config_hash = j.at("config_hash").get<std::string>();
    m.dataset_manifest_sha256 = j.at("dataset_manifest_sha256").get<std::string>();
    m.vocab_sha256 = j.at("vocab_sha256").get<std::string>();
    m.clinfm_version = j.at("clinfm_version").get<std::string>();
    m.run_id = j.value("run_id", std::string());
    if (j.contains("validation_loss") && j.at("validation_loss").is_number())
      m.validation_loss = j.at("validation_loss").get<double>();
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: malformed checkpoint state: {}", source, e.what()));
  }
}

std::string checkpoints_dir(const std::string& run_dir) {
  return (fs::path(run_dir) / "checkpoints").string();
}

std::string checkpoint_name(int64_t step) { return fmt::format("step-{:08d}", step); }

int64_t parse_checkpoint_name(const std::string& name) {
  if (name.size() != 13 || name.compare(0, 5, "step-") != 0) return -1;
  int64_t step = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

std::string rank_file(const std::string& stem, int rank) {
  return fmt::format("{}-rank-{:05d}.pt", stem, rank);
}

std::vector<std::string> list_checkpoints(const std::string& run_dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  const fs::path dir = checkpoints_dir(run_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const int64_t step = parse_checkpoint_name(entry.path().filename().string());
    if (step >= 0 && entry.is_directory()) found.emplace_back(step, entry.path().string());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

std::string verify_checkpoint(const std::string& dir) {
  const fs::path root(dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return "not a folder";
  if (!fs::exists(root / kChecksumFile, ec))
    return std::string(kChecksumFile) + " is missing (incomplete checkpoint)";
  std::string listing;
  try {
    listing = read_file((root / kChecksumFile).string());
  } catch (const Error& e) {
    return e.what();
  }
  std::istringstream lines(listing);
  std::string line;
  std::vector<std::string> names;
  int line_no = 0;
  while (std::getline(lines, line)) {
    ++line_no;
    if (line.empty()) continue;
    // "<64 hex>  <name>" as sha256sum writes it, so `sha256sum -c` also checks a checkpoint.
    if (line.size() < 67 || line[64] != ' ' || line[65] != ' ')
      return fmt::format("{} line {} is malformed", kChecksumFile, line_no);
    const std::string expected = line.substr(0, 64), name = line.substr(66);
    if (name.find('/') != std::string::npos)
      return fmt::format("{} names a path outside the checkpoint", kChecksumFile);
    if (!fs::exists(root / name, ec)) return name + " is missing";
    std::string actual;
    try {
      actual = file_sha256_hex((root / name).string());
    } catch (const Error& e) {
      return e.what();
    }
    if (actual != expected) return name + ": checksum mismatch (damaged or truncated)";
    names.push_back(name);
  }
  for (const char* required : {"state.json", "config.yaml", "model.pt"}) {
    if (std::find(names.begin(), names.end(), required) == names.end())
      return fmt::format("{} does not list {}", kChecksumFile, required);
  }
  return {};
}

CheckpointMeta read_checkpoint_meta(const std::string& dir) {
  const std::string path = (fs::path(dir) / "state.json").string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
  return CheckpointMeta::from_json(j, path);
}

namespace {

ResumeChoice newest_valid(const std::string& run_dir, bool required, const std::string& mode) {
  ResumeChoice choice;
  const std::vector<std::string> all = list_checkpoints(run_dir);
  for (const auto& dir : all) {
    const std::string problem = verify_checkpoint(dir);
    if (problem.empty()) {
      choice.dir = dir;
      return choice;
    }
    choice.warnings.push_back(fmt::format("checkpoint {} is damaged ({}); skipped", dir, problem));
  }
  if (!all.empty()) {
    throw InputError(
        fmt::format("--resume {}: every checkpoint under {} is damaged:\n  {}", mode,
                    checkpoints_dir(run_dir), fmt::join(choice.warnings, "\n  ")),
        "move the damaged checkpoints away to start fresh (--resume none), or restore them from a copy");
  }
  if (required) {
    throw InputError(fmt::format("--resume latest: no checkpoint under {}", checkpoints_dir(run_dir)),
                     "use --resume auto to start fresh when there is none, or name a checkpoint folder");
  }
  return choice;
}

}  // namespace

ResumeChoice choose_checkpoint(const std::string& run_dir, const std::string& mode) {
  if (mode == "none") return {};
  if (mode == "auto" || mode == "latest") return newest_valid(run_dir, mode == "latest", mode);
  std::error_code ec;
  if (!fs::is_directory(mode, ec))
    throw InputError(fmt::format("--resume {}: no such checkpoint folder", mode),
                     "give a RUN/checkpoints/step-XXXXXXXX folder, a run folder, or auto/latest/none");
  if (parse_checkpoint_name(fs::path(mode).lexically_normal().filename().string()) < 0 &&
      fs::is_directory(fs::path(mode) / "checkpoints", ec)) {
    return newest_valid(mode, /*required=*/true, mode);
  }
  const std::string problem = verify_checkpoint(mode);
  if (!problem.empty()) {
    throw InputError(
        fmt::format("--resume {}: the checkpoint is damaged: {}", mode, problem),
        "pick an earlier checkpoint of the run (ls RUN/checkpoints) or --resume auto, which skips "
        "damaged ones");
  }
  return {mode, {}};
}

}  // namespace clinfm
