#include "models/weights_io.h"

#include <fmt/format.h>

#include <sstream>

#include "common/error.h"
#include "common/fs.h"
#include "models/archive.h"
#include "models/cpu/attention.h"

namespace clinfm {
namespace {

void write_int(Archive& archive, const std::string& key, int64_t value) {
  archive.write(key, c10::IValue(value));
}
int64_t read_int(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toInt();
}

}  // namespace

torch::Tensor host_tensor(const torch::Tensor& tensor, SnapshotMode mode) {
  if (mode == SnapshotMode::kShare && tensor.device().is_cpu()) return tensor.detach();
  return tensor.detach().to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);
}

ModuleSnapshot snapshot_module(const torch::nn::Module& module, SnapshotMode mode) {
  torch::NoGradGuard no_grad;
  ModuleSnapshot s;
  for (const auto& p : module.named_parameters(/*recurse=*/false))
    // requires_grad is kept: the archive records it, and the bytes match Module::save's.
    // Host tensors: a checkpoint written on a GPU loads on a CPU and the writer thread never
    // touches device memory.
    s.parameters.emplace_back(p.key(),
                              host_tensor(p.value(), mode).set_requires_grad(p.value().requires_grad()));
  for (const auto& b : module.named_buffers(/*recurse=*/false))
    s.buffers.emplace_back(b.key(), host_tensor(b.value(), mode));
  for (const auto& child : module.named_children())
    s.children.emplace_back(child.key(), snapshot_module(*child.value(), mode));
  return s;
}

namespace {

// What torch::nn::Module::save writes, from a snapshot (without the zip's CRC-32s: archive.h).
void write_snapshot(const ModuleSnapshot& s, Archive& archive) {
  for (const auto& [name, tensor] : s.parameters) archive.write(name, tensor);
  for (const auto& [name, tensor] : s.buffers) archive.write(name, tensor, /*is_buffer=*/true);
  for (const auto& [name, child] : s.children) {
    Archive child_archive(archive.compilation_unit());
    write_snapshot(child, child_archive);
    archive.write(name, child_archive);
  }
}

}  // namespace

void write_weights(const ModuleSnapshot& snapshot, const ModelDims& d,
                   const std::function<size_t(const void*, size_t)>& out) {
  Archive archive;
  write_snapshot(snapshot, archive);
  archive.write("clinfm/format", c10::IValue(std::string(kWeightsFormat)));
  write_int(archive, "clinfm/version", kWeightsVersion);
  archive.write("clinfm/dims/preset", c10::IValue(d.preset));
  archive.write("clinfm/dims/attention", c10::IValue(d.attention));
  write_int(archive, "clinfm/dims/vocab_size", d.vocab_size);
  write_int(archive, "clinfm/dims/value_bins", d.value_bins);
  write_int(archive, "clinfm/dims/n_layers", d.n_layers);
  write_int(archive, "clinfm/dims/n_heads", d.n_heads);
  write_int(archive, "clinfm/dims/d_model", d.d_model);
  write_int(archive, "clinfm/dims/d_ff", d.d_ff);
  archive.write("clinfm/dims/dropout", c10::IValue(d.dropout));
  archive.save_to(out);
}

std::string weights_bytes(const ModuleSnapshot& snapshot, const ModelDims& dims) {
  std::string bytes;
  write_weights(snapshot, dims, [&bytes](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  return bytes;
}

void save_model(ClinicalTransformer& model, const std::string& path) {
  write_file_atomic(path, weights_bytes(snapshot_module(*model), model->dims));
}

ClinicalTransformer load_model(const std::string& path, torch::Device device) {
  torch::serialize::InputArchive archive;
  ModelDims d;
  try {
    archive.load_from(path, device);
    c10::IValue format;
    archive.read("clinfm/format", format);
    if (format.toStringRef() != kWeightsFormat) throw std::runtime_error("wrong format tag");
    const int64_t version = read_int(archive, "clinfm/version");
    if (version != kWeightsVersion) {
      throw InputError(fmt::format("{}: weights format version {} is not supported (this clinfm reads {})",
                                   path, version, kWeightsVersion));
    }
    c10::IValue text;
    archive.read("clinfm/dims/preset", text);
    d.preset = text.toStringRef();
    archive.read("clinfm/dims/attention", text);
    d.attention = text.toStringRef();
    d.vocab_size = read_int(archive, "clinfm/dims/vocab_size");
    d.value_bins = read_int(archive, "clinfm/dims/value_bins");
    d.n_layers = read_int(archive, "clinfm/dims/n_layers");
    d.n_heads = read_int(archive, "clinfm/dims/n_heads");
    d.d_model = read_int(archive, "clinfm/dims/d_model");
    d.d_ff = read_int(archive, "clinfm/dims/d_ff");
    c10::IValue dropout;
    archive.read("clinfm/dims/dropout", dropout);
    d.dropout = dropout.toDouble();
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(
        fmt::format("{}: not a readable clinfm weights file: {}", path, std::string(e.what()).substr(0, 300)),
        "the file may be truncated or from another program");
  }
  // Same math, other kernel: a file names the kernel it was trained with, not one this build must have.
  if (d.attention == "fused" && !fused_attention_available()) d.attention = "explicit";
  ClinicalTransformer model(d);
  try {
    model->load(archive);
  } catch (const std::exception& e) {
    throw InputError(fmt::format("{}: the weights do not fit the model they describe: {}", path,
                                 std::string(e.what()).substr(0, 300)));
  }
  model->to(device);
  return model;
}

}  // namespace clinfm
