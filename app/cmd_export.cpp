// `clinfm export CHECKPOINT --out FILE`: the weights of a checkpoint as a PyTorch state dict
// that plain Python loads with `torch.load(FILE)` (a dict of parameter name -> tensor, the
// names of tests/models/reference_model.py), plus the model dimensions in FILE.json.
// CHECKPOINT may be a checkpoint folder (RUN/checkpoints/step-XXXXXXXX), a run folder (its
// newest valid checkpoint, else its final model.pt) or a weights file.
#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "app/cli.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "models/weights_io.h"
#include "trainer/checkpoint/layout.h"

namespace clinfm {
namespace fs = std::filesystem;
namespace {

struct ExportOptions {
  std::string checkpoint;
  std::string out;
};

std::string weights_path(const std::string& source) {
  std::error_code ec;
  if (fs::is_regular_file(source, ec)) return source;
  if (!fs::is_directory(source, ec))
    throw InputError(fmt::format("{}: no such checkpoint, run folder or weights file", source));
  if (fs::exists(fs::path(source) / "model.pt", ec) &&
      parse_checkpoint_name(fs::path(source).filename().string()) >= 0) {
    const std::string problem = verify_checkpoint(source);
    if (!problem.empty())
      throw InputError(fmt::format("{}: the checkpoint is damaged: {}", source, problem),
                       "export an earlier checkpoint");
    return (fs::path(source) / "model.pt").string();
  }
  if (fs::is_directory(fs::path(source) / "checkpoints", ec)) {
    const ResumeChoice choice = choose_checkpoint(source, "auto");
    for (const auto& w : choice.warnings) log_warn("{}", w);
    if (!choice.dir.empty()) return (fs::path(choice.dir) / "model.pt").string();
  }
  if (fs::exists(fs::path(source) / "model.pt", ec)) return (fs::path(source) / "model.pt").string();
  throw InputError(fmt::format("{}: holds neither checkpoints nor model.pt", source),
                   "name a RUN/checkpoints/step-XXXXXXXX folder or a weights file");
}

int export_weights(const ExportOptions& options) {
  const std::string path = weights_path(options.checkpoint);
  ClinicalTransformer model = load_model(path);
  c10::Dict<std::string, at::Tensor> state;
  for (const auto& p : model->named_parameters()) state.insert(p.key(), p.value().detach().clone());
  for (const auto& b : model->named_buffers()) state.insert(b.key(), b.value().detach().clone());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(state));
  write_file_atomic(options.out, std::string(bytes.begin(), bytes.end()));
  const ModelDims& d = model->dims;
  const nlohmann::json dims = {{"source", path},
                               {"preset", d.preset},
                               {"attention", d.attention},
                               {"vocab_size", d.vocab_size},
                               {"value_bins", d.value_bins},
                               {"n_layers", d.n_layers},
                               {"n_heads", d.n_heads},
                               {"d_model", d.d_model},
                               {"d_ff", d.d_ff},
                               {"dropout", d.dropout}};
  write_file_atomic(options.out + ".json", dims.dump(2) + "\n");
  log_info("exported {} tensors of {} to {} (torch.load) and its dimensions to {}.json", state.size(), path,
           options.out, options.out);
  return 0;
}

}  // namespace

void add_export_command(CLI::App& app, CommandAction* action) {
  auto options = std::make_shared<ExportOptions>();
  CLI::App* cmd =
      app.add_subcommand("export", "Write a checkpoint's weights as a PyTorch state dict (torch.load)");
  cmd->add_option("checkpoint", options->checkpoint, "Checkpoint folder, run folder or weights file")
      ->required();
  cmd->add_option("--out", options->out, "Output file (a .pt that Python's torch.load reads)")->required();
  cmd->callback([action, options] { *action = [options] { return export_weights(*options); }; });
}

}  // namespace clinfm
