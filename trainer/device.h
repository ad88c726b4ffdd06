// Where a rank trains and in which precision.
//   run.device: cpu | cuda | auto. With cuda each rank takes the GPU of its local rank (the
//   launcher's OpenMPI / Slurm / PMIx variables, trainer/comm/launch.h); more local ranks than
//   visible GPUs is an error naming both counts. auto is cuda when a GPU is visible.
//   train.precision: fp32 | bf16. bf16 is autocast on CUDA (matmuls and attention in bfloat16,
//   reductions and the loss in float32) with float32 master weights and optimizer state.
//   train.tf32: TF32 tensor cores for the float32 matmuls and convolutions that remain.
// What it does not do: pick a communicator (trainer.cpp: NCCL for CUDA, MPI for CPU).
#pragma once

#include <torch/torch.h>

#include <string>

#include "common/config/config.h"
#include "trainer/comm/launch.h"

namespace clinfm {

// Visible CUDA devices (0 on a build without CUDA).
int visible_gpus();

// InputError when the config asks for what this build or machine cannot give.
torch::Device choose_device(const Config& config, const WorldInfo& world, int gpus);

// Turns bf16 autocast on for the forward passes in its scope when `enabled` (CUDA only).
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_ = false;
  bool previous_ = false;
};

// Makes `device` this process's current CUDA device and sets TF32 for its float32 matmuls
// (nothing on CPU).
void use_device(const torch::Device& device, bool tf32);

}  // namespace clinfm
