// Test-only fault injection for the trainer, installed from outside the training step: the
// `clinfm train` command reads the environment once and hands the trainer a hook, so the step
// itself only calls a hook when one was installed. Never set these in production.
//   CLINFM_FAULT_NAN_STEPS="3,4"  the next-event loss of those (1-based) steps is NaN on rank 0,
//                                 as a numerical blow-up would make it (tests/mpi/resume_faults.sh).
//   CLINFM_FAULT_STEP_DELAY_MS=50 every rank sleeps that long at each micro-batch: a run slow
//                                 enough that a test's signal lands mid-run, with the same numbers
//                                 (tests/mpi/resume_faults.sh).
// (CLINFM_FAULT_CHECKPOINT_WRITE is read by the checkpoint writer: trainer/checkpoint/writer.cpp.)
#pragma once

#include <cstdint>
#include <functional>

#include "models/losses.h"

namespace clinfm {

// Called with the 1-based step and each micro-batch's loss sums before they make the loss.
using LossHook = std::function<void(int64_t step, LossSums& sums)>;

// The hook CLINFM_FAULT_NAN_STEPS and CLINFM_FAULT_STEP_DELAY_MS ask for on this rank; empty
// when they ask for nothing.
LossHook loss_hook_from_env(int rank);

}  // namespace clinfm
