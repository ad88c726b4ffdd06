// Model weights on disk with the dimensions needed to rebuild the model from the file alone.
// A LibTorch archive holding every parameter and buffer under its module name, plus
// "clinfm/format" (kWeightsFormat), "clinfm/version" and "clinfm/dims/<field>" entries.
// Written atomically (temporary file + rename).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "models/transformer.h"

namespace clinfm {

inline constexpr const char* kWeightsFormat = "clinfm-weights";
inline constexpr int64_t kWeightsVersion = 1;

// A copy of a module's parameters and buffers, in its module tree, taken on the training thread
// so that a background thread can serialise it while training goes on (async checkpoints).
struct ModuleSnapshot {
  std::vector<std::pair<std::string, torch::Tensor>> parameters, buffers;  // cloned, detached
  std::vector<std::pair<std::string, ModuleSnapshot>> children;
};
ModuleSnapshot snapshot_module(const torch::nn::Module& module);

// A weights file (the archive torch::nn::Module::save writes, plus the dims), streamed into
// `out` as the archive is written (out returns the bytes it took). Safe to call from any
// thread; uses no random numbers.
void write_weights(const ModuleSnapshot& snapshot, const ModelDims& dims,
                   const std::function<size_t(const void*, size_t)>& out);
std::string weights_bytes(const ModuleSnapshot& snapshot, const ModelDims& dims);

void save_model(ClinicalTransformer& model, const std::string& path);
// Throws InputError naming the file when it is not a clinfm weights file or is damaged.
ClinicalTransformer load_model(const std::string& path, torch::Device device = torch::kCPU);

}  // namespace clinfm
