// Model weights on disk with the dimensions needed to rebuild the model from the file alone.
// A LibTorch archive holding every parameter and buffer under its module name, plus
// "clinfm/format" (kWeightsFormat), "clinfm/version" and "clinfm/dims/<field>" entries.
// Written atomically (temporary file + rename).
#pragma once

#include <string>

#include "models/transformer.h"

namespace clinfm {

inline constexpr const char* kWeightsFormat = "clinfm-weights";
inline constexpr int64_t kWeightsVersion = 1;

void save_model(ClinicalTransformer& model, const std::string& path);
// Throws InputError naming the file when it is not a clinfm weights file or is damaged.
ClinicalTransformer load_model(const std::string& path, torch::Device device = torch::kCPU);

}  // namespace clinfm
