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

// A module's parameters and buffers on the host, in its module tree (detached): copies taken on
// the training thread so that a background thread can serialise them while training goes on
// (async checkpoints), or the live tensors (SnapshotMode below).
struct ModuleSnapshot {
  std::vector<std::pair<std::string, torch::Tensor>> parameters, buffers;  // on the host, detached
  std::vector<std::pair<std::string, ModuleSnapshot>> children;
};
// How a snapshot is taken. kCopy: owned host copies, safe to serialise on another thread while
// training changes the live tensors (an asynchronous checkpoint). kShare: the live tensors
// themselves where they are on the host (a device tensor is still copied to the host), for a
// synchronous save, which serialises while training waits: no copy on the way to the file.
enum class SnapshotMode { kCopy, kShare };
torch::Tensor host_tensor(const torch::Tensor& tensor, SnapshotMode mode);
ModuleSnapshot snapshot_module(const torch::nn::Module& module, SnapshotMode mode = SnapshotMode::kCopy);

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
