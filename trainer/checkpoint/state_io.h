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
#include <functional>
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

// Streamed into `out` as the archive is written (out returns the bytes it took).
void write_optimizer_range(const OptimizerRange& range,
                           const std::function<size_t(const void*, size_t)>& out);
OptimizerRange read_optimizer_range_file(const std::string& path);

// Elements [begin, end) of the optimizer vector assembled from `files` (paths); checks that
// names and sizes match `names`/`numels` and that the files cover the range. InputError
// naming the checkpoint otherwise.
OptimizerRange read_optimizer_range(const std::vector<std::string>& files, int64_t begin, int64_t end,
                                    const std::vector<std::string>& names, const std::vector<int64_t>& numels,
                                    const std::string& checkpoint);

// The generators a rank's random stream depends on: the default CPU generator and, when the
// run trains on a CUDA device, that device's default generator (undefined otherwise). Both are
// copies (uint8 tensors on the CPU).
struct GeneratorStates {
  torch::Tensor cpu;
  torch::Tensor cuda;
};

// The states of the default generators of the CPU and of `device` (when it is a CUDA device).
GeneratorStates generator_states(const torch::Device& device);
// Restores the CPU generator, and `device`'s generator when `device` is a CUDA device and the
// states have one. Returns false when `device` is a CUDA device and the states have none (a
// checkpoint written on the CPU): the caller reseeds that generator.
bool set_generator_states(const GeneratorStates& states, const torch::Device& device);
// Seeds `device`'s default generator (the one set_generator_states could not restore).
void reseed_generator(const torch::Device& device, uint64_t seed);
// The rng file of a checkpoint: "cpu" always, "cuda" when the run was on a CUDA device.
std::string generator_states_bytes(const GeneratorStates& states);
GeneratorStates read_generator_states_file(const std::string& path);

}  // namespace clinfm
