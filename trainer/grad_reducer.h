// Sums gradients over ranks during backward, in buckets (DDP's design).
// Parameters are grouped into buckets of about dist.bucket_mb in REVERSE registration order
// (the order in which backward produces their gradients). On the final micro-step of a step,
// a hook on each parameter copies its full gradient (what earlier micro-steps accumulated in
// .grad plus this one) into its bucket's flat buffer; when the last gradient of a bucket
// arrives, that bucket's all-reduce starts asynchronously while backward goes on. finish()
// waits for every bucket and writes the summed gradients back into .grad. On earlier
// micro-steps nothing is communicated. With overlap off, finish() does all the work after
// backward (for measuring the exposed communication time).
// Gradients are SUMMED: the trainer already normalises the loss by the global target count.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "trainer/comm/communicator.h"

namespace clinfm {

class GradReducer {
 public:
  GradReducer(const std::vector<torch::Tensor>& params, Communicator& comm, double bucket_mb, bool overlap);
  ~GradReducer();
  // Before the backward of a micro-step; `final_micro_step` arms the hooks.
  void begin_micro_step(bool final_micro_step);
  // After the backward of the final micro-step: every bucket reduced, .grad holds the sums.
  // Returns the milliseconds spent waiting for communication (the exposed part).
  double finish();
  int buckets() const { return static_cast<int>(buckets_.size()); }

 private:
  struct Bucket {
    std::vector<size_t> members;  // indices into params_
    std::vector<int64_t> offsets;
    torch::Tensor flat;  // [elements] float32
    int ready = 0;
    std::unique_ptr<CommWork> work;
  };
  void on_gradient(size_t param, const torch::Tensor& grad);
  void launch(Bucket& bucket);

  std::vector<torch::Tensor> params_;
  std::vector<std::pair<int, int64_t>> slot_;  // param -> (bucket, offset)
  std::vector<bool> arrived_;
  std::vector<Bucket> buckets_;
  Communicator& comm_;
  bool overlap_;
  bool armed_ = false;
};

// Copies rank 0's parameters to every rank.
void broadcast_parameters(const std::vector<torch::Tensor>& params, Communicator& comm);
// True when every rank holds bitwise the same parameters (one 64-bit checksum per rank).
bool parameters_agree(const std::vector<torch::Tensor>& params, Communicator& comm,
                      std::vector<int64_t>* checksums);

}  // namespace clinfm
