#include "trainer/device.h"

#include <ATen/autocast_mode.h>
#include <fmt/format.h>

#include "common/error.h"

#ifdef CLINFM_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace clinfm {

int visible_gpus() { return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

torch::Device choose_device(const Config& config, const WorldInfo& world, int gpus) {
  const std::string& wanted = config.run.device;
  if (wanted == "cpu" || (wanted == "auto" && gpus == 0)) {
    if (config.train.precision == "bf16")
      throw InputError("train.precision=bf16 needs CUDA; on CPU clinfm trains in fp32",
                       "set train.precision=fp32, or run.device=cuda on a GPU machine");
    return torch::kCPU;
  }
  if (gpus == 0) {
#ifdef CLINFM_WITH_CUDA
    throw InputError("run.device=cuda: no CUDA device is visible to this process",
                     "check nvidia-smi and CUDA_VISIBLE_DEVICES, or use run.device=cpu (or auto)");
#else
    throw NotBuiltError("run.device=cuda: this clinfm was built without CUDA (CLINFM_WITH_CUDA=OFF)",
                        "rebuild where the CUDA toolkit is found (scripts/setup.sh), or use run.device=cpu");
#endif
  }
  if (world.local_rank >= gpus) {
    throw InputError(
        fmt::format("run.device=cuda: {} ranks on this host but {} visible GPU(s): rank {} (local "
                    "rank {}) has no GPU of its own",
                    world.local_size, gpus, world.rank, world.local_rank),
        "start at most one rank per GPU (mpirun -np / srun --ntasks-per-node), or make more GPUs "
        "visible (CUDA_VISIBLE_DEVICES)");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(world.local_rank));
}

AutocastScope::AutocastScope(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
  previous_ = at::autocast::is_autocast_enabled(at::kCUDA);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  // The cast weights are cached for the scope; the outermost scope frees them.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(at::kCUDA, previous_);
}

void use_device(const torch::Device& device, bool tf32) {
  if (!device.is_cuda()) return;
#ifdef CLINFM_WITH_CUDA
  c10::cuda::set_device(device.index());
#endif
  at::globalContext().setAllowTF32CuBLAS(tf32);
  at::globalContext().setAllowTF32CuDNN(tf32);
}

}  // namespace clinfm
