// `clinfm export CHECKPOINT --out FILE`: the weights of a checkpoint as a PyTorch state dict
// that plain Python loads with `torch.load(FILE)` (a dict of parameter name -> tensor, the
// names of tests/models/reference_model.py), plus the model dimensions in FILE.json.
// CHECKPOINT may be a weights file, a checkpoint folder (RUN/checkpoints/step-XXXXXXXX) or a
// run folder, resolved by the rule `clinfm eval --checkpoint` shares
// (trainer/checkpoint/weights_path.h): a damaged checkpoint is never exported.
#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "app/cli.h"
#include "common/fs.h"
#include "common/log.h"
#include "models/weights_io.h"
#include "trainer/checkpoint/weights_path.h"

namespace clinfm {
namespace {

// torch::pickle_save tags typed containers with torch.jit._pickle.restore_type_tag, which
// torch.load(weights_only=True) (the default since PyTorch 2.6) refuses. A plain, untagged dict of
// tensors is what torch.save({...}) writes in Python and what the weights-only unpickler accepts.
std::vector<char> pickle_state_dict(const c10::Dict<std::string, at::Tensor>& state) {
  std::vector<char> pickle_bytes;
  torch::jit::Pickler pickler(
      [&](const char* data, size_t size) { pickle_bytes.insert(pickle_bytes.end(), data, data + size); },
      /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
      /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(c10::IValue(state));
  pickler.stop();
  std::vector<char> archive;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) {
    const char* bytes = static_cast<const char*>(data);
    archive.insert(archive.end(), bytes, bytes + size);
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pickle_bytes.data(), pickle_bytes.size(), pickler.tensorData(),
                                     writer);
  writer.writeEndOfFile();
  return archive;
}

struct ExportOptions {
  std::string checkpoint;
  std::string out;
};

int export_weights(const ExportOptions& options) {
  const std::string path = resolve_weights_path(options.checkpoint);
  ClinicalTransformer model = load_model(path);
  c10::Dict<std::string, at::Tensor> state;
  for (const auto& parameter : model->named_parameters())
    state.insert(parameter.key(), parameter.value().detach().clone());
  for (const auto& buffer : model->named_buffers())
    state.insert(buffer.key(), buffer.value().detach().clone());
  const std::vector<char> bytes = pickle_state_dict(state);
  write_file_atomic(options.out, std::string(bytes.begin(), bytes.end()));
  const ModelDims& model_dims = model->dims;
  const nlohmann::json dims = {{"source", path},
                               {"preset", model_dims.preset},
                               {"attention", model_dims.attention},
                               {"vocab_size", model_dims.vocab_size},
                               {"value_bins", model_dims.value_bins},
                               {"n_layers", model_dims.n_layers},
                               {"n_heads", model_dims.n_heads},
                               {"d_model", model_dims.d_model},
                               {"d_ff", model_dims.d_ff},
                               {"dropout", model_dims.dropout}};
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
