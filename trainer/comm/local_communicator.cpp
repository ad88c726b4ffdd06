// The communicator of a world of one (a plain `clinfm train` without a launcher): every
// collective is the identity, so the trainer, the optimizers and the checkpoint writer call the
// same collectives in every world size and never test for a missing communicator.
// What it does not do: copy when it need not. all_reduce and broadcast leave the tensor as it is
// (kAverage over one rank is the tensor itself); all_gather and reduce_scatter copy the input
// into the output, which in a world of one covers the same elements.
#include <torch/torch.h>

#include "common/check.h"
#include "trainer/comm/communicator.h"

namespace clinfm {
namespace {

class DoneWork final : public CommWork {
 public:
  void wait() override {}
};

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "local"; }

  void all_reduce(torch::Tensor&, ReduceOp) override {}
  std::unique_ptr<CommWork> all_reduce_async(torch::Tensor, ReduceOp) override {
    return std::make_unique<DoneWork>();
  }
  void broadcast(torch::Tensor&, int root) override {
    CLINFM_CHECK(root == 0, "broadcast from rank {} in a world of one rank", root);
  }
  void all_gather(const torch::Tensor& input, torch::Tensor& output) override {
    copy(input, output, "all_gather");
  }
  void reduce_scatter(const torch::Tensor& input, torch::Tensor& output, ReduceOp) override {
    copy(input, output, "reduce_scatter");
  }
  void barrier() override {}
  void sum_loss_sums(torch::Tensor&) override {}

 private:
  static void copy(const torch::Tensor& input, torch::Tensor& output, const char* what) {
    CLINFM_CHECK(input.numel() == output.numel(), "{}: input of {} elements, output of {} in a world of one",
                 what, input.numel(), output.numel());
    output.view({-1}).copy_(input.view({-1}));
  }
};

}  // namespace

std::unique_ptr<Communicator> make_local_communicator() { return std::make_unique<LocalCommunicator>(); }

void Communicator::sum_loss_sums(torch::Tensor& values) {
  // Sums travel as float32, as the loss sums always have: a world of one (which overrides
  // this) keeps its doubles unrounded, so its losses are the ones it always logged.
  torch::Tensor sums = values.to(torch::kFloat32);
  all_reduce(sums, ReduceOp::kSum);
  values = sums.to(torch::kFloat64);
}

}  // namespace clinfm
