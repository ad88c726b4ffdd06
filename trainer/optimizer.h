// The update of a training step behind one interface, so that the trainer and its checkpoints
// call it the same way in every mode:
//   - ReplicatedAdamW: every rank holds the whole optimizer state; gradients are summed over
//     ranks by the GradReducer (buckets all-reduced while backward runs), clipped by their
//     global norm, and AdamW updates every parameter (trainer/optim.h: PyTorch's arithmetic).
//   - Zero1AdamW (trainer/zero1.h): the state is sharded over ranks; reduce-scatter, sharded
//     AdamW, all-gather.
// make_optimizer() picks one from the config. Per step the trainer calls begin_micro_step()
// before each backward, finish_backward() after the last one, and step(). What step() decides
// (clip, skip) it decides on the parameters' device: a GPU step needs no host synchronisation. The state of
// an optimizer is a range of the flat optimizer vector (every trainable parameter flattened in optimizer
// order, trainer/checkpoint/state_io.h): the whole vector when replicated, this rank's shard with ZeRO-1.
// What it does not do: zero the gradients (the trainer sets them to none before a step), or
// pick the learning rate (learning_rate() in trainer/optim.h).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "models/weights_io.h"
#include "trainer/checkpoint/state_io.h"
#include "trainer/comm/communicator.h"

namespace clinfm {

using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Before the backward of each micro-batch; `final_micro_step` on the step's last one, whose
  // gradients complete the step's sum.
  virtual void begin_micro_step(bool final_micro_step) = 0;
  // After the step's last backward, before step(): finishes what backward started (the
  // replicated optimizer waits for its buckets). Returns the milliseconds spent waiting.
  virtual double finish_backward() = 0;
  // Sums the gradients over ranks (where finish_backward has not), clips them to `max_norm` by
  // their global norm and updates the parameters with learning rate `lr`, unless `loss_finite`
  // (a bool scalar on the parameters' device, the same on every rank) is false or the norm is
  // not finite. Returns the global gradient norm before clipping as a float64 scalar on the
  // device, NaN when the loss was not finite: the update was skipped exactly when it is not
  // finite.
  virtual torch::Tensor step(double lr, double max_norm, const torch::Tensor& loss_finite) = 0;
  // Milliseconds of the last step waiting for communication that was not overlapped.
  virtual double comm_wait_ms() const = 0;
  // Updates applied so far (AdamW's bias correction counts them; read from the device when
  // counted there).
  virtual int64_t updates() const = 0;
  // Whether each rank keeps only its shard of the state (one checkpoint file per rank) or
  // every rank the whole of it (rank 0 writes it).
  virtual bool sharded() const = 0;
  // [begin, end) of the flat optimizer vector this rank keeps.
  virtual std::pair<int64_t, int64_t> state_range() const = 0;
  // This rank's state on the host: owned copies (SnapshotMode::kCopy, for an asynchronous
  // checkpoint) or, with kShare, the live state where it is on the host (a synchronous save
  // serialises it while training waits: no copy of hundreds of MB on the way to the file).
  virtual OptimizerRange state(SnapshotMode mode) const = 0;
  // Restores the state of state_range() (read from any checkpoint: read_optimizer_range).
  virtual void load_state(const OptimizerRange& state) = 0;
};

// ZeRO-1 when dist.zero1 and the world has several ranks (in a world of one there is nothing
// to shard), the replicated AdamW otherwise.
std::unique_ptr<Optimizer> make_optimizer(const NamedParameters& named_params, const Config& config,
                                          Communicator& comm);

// The names and sizes of the trainable parameters: the layout of the flat optimizer vector.
void describe_optimizer_vector(const NamedParameters& named_params, OptimizerRange* range);

}  // namespace clinfm
