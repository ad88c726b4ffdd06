// The tensor files of a checkpoint: optimizer state and generator states.
// Optimizer state is stored as ranges of the optimizer vector: every trainable parameter,
// flattened and concatenated in optimizer order (AdamW and ZeRO-1 use the same order). A
// file holds [begin, end) of that vector for exp_avg and exp_avg_sq, with the parameter names
// and sizes of the whole vector so that a resume checks it restores the same model. A run
// without ZeRO-1 writes one file with the whole vector; ZeRO-1 writes one per rank with its
// shard. Any range can be read back from any set of files, which is what lets a run resume on
// another number of ranks, with or without ZeRO-1.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace clinfm {

struct OptimizerRange {
  int64_t begin = 0, end = 0, total = 0;
  int64_t updates = 0;                // AdamW updates applied so far (bias correction)
  std::vector<std::string> names;     // every trainable parameter, optimizer order
  std::vector<int64_t> numels;        // their sizes
  torch::Tensor exp_avg, exp_avg_sq;  // [end - begin] float32, owned copies
};

std::string optimizer_range_bytes(const OptimizerRange& range);
OptimizerRange read_optimizer_range_file(const std::string& path);

// Elements [begin, end) of the optimizer vector assembled from `files` (paths); checks that
// names and sizes match `names`/`numels` and that the files cover the range. InputError
// naming the checkpoint otherwise.
OptimizerRange read_optimizer_range(const std::vector<std::string>& files, int64_t begin, int64_t end,
                                    const std::vector<std::string>& names, const std::vector<int64_t>& numels,
                                    const std::string& checkpoint);

// The default CPU generator's state (a copy) and its file.
torch::Tensor cpu_generator_state();
void set_cpu_generator_state(const torch::Tensor& state);
std::string generator_state_bytes(const torch::Tensor& cpu_state);
torch::Tensor read_generator_state_file(const std::string& path);

}  // namespace clinfm
