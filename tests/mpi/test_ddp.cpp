// Under mpirun (2 and 4 ranks): the gradient reducer sums every parameter's gradient over
// ranks, with several buckets, with and without overlap, including the gradient accumulated
// by earlier micro-steps; parameters are broadcast from rank 0; the divergence check fires
// when one rank's parameters are perturbed.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include "common/check.h"
#include "trainer/comm/communicator.h"
#include "trainer/comm/launch.h"
#include "trainer/grad_reducer.h"

namespace clinfm {
namespace {

std::unique_ptr<Communicator>& comm() {
  static std::unique_ptr<Communicator> c = make_mpi_communicator(60.0);
  return c;
}

// Three parameters of different sizes whose gradients depend on the rank.
std::vector<torch::Tensor> make_params() {
  torch::manual_seed(1);
  return {torch::randn({300}, torch::requires_grad()), torch::randn({40, 50}, torch::requires_grad()),
          torch::randn({7}, torch::requires_grad())};
}

torch::Tensor rank_loss(const std::vector<torch::Tensor>& params, int micro) {
  const double r = world().rank + 1 + 10 * micro;
  return (params[0] * r).sum() + (params[1].pow(2) * r).sum() + (params[2] * params[2].sum() * r).sum();
}

void expect_summed_gradients(bool overlap, double bucket_mb, int micro_steps) {
  auto params = make_params();
  GradReducer reducer(params, *comm(), bucket_mb, overlap);
  for (int m = 0; m < micro_steps; ++m) {
    reducer.begin_micro_step(m + 1 == micro_steps);
    rank_loss(params, m).backward();
  }
  reducer.finish();
  // Expected: the sum over ranks and micro-steps, computed here without communication.
  auto reference = make_params();
  for (int rank = 0; rank < world().world_size; ++rank) {
    for (int m = 0; m < micro_steps; ++m) {
      const double r = rank + 1 + 10 * m;
      ((reference[0] * r).sum() + (reference[1].pow(2) * r).sum() +
       (reference[2] * reference[2].sum() * r).sum())
          .backward();
    }
  }
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(torch::allclose(params[i].grad(), reference[i].grad(), 1e-5, 1e-4))
        << "parameter " << i << ", overlap " << overlap << ", buckets of " << bucket_mb << " MB";
  }
}

TEST(GradReducer, SumsOverRanksWithOneBucket) { expect_summed_gradients(true, 25.0, 1); }
TEST(GradReducer, SumsOverRanksWithManyBuckets) { expect_summed_gradients(true, 0.001, 1); }
TEST(GradReducer, SumsWithoutOverlap) { expect_summed_gradients(false, 0.001, 1); }
TEST(GradReducer, IncludesEarlierMicroSteps) { expect_summed_gradients(true, 0.001, 3); }

TEST(GradReducer, BucketsFollowReverseRegistrationOrder) {
  auto params = make_params();  // 300, 2000, 7 floats
  GradReducer one(params, *comm(), 25.0, false);
  EXPECT_EQ(one.buckets(), 1);
  GradReducer many(params, *comm(), 1000 * 4 / (1024.0 * 1024.0), false);  // 1000 floats a bucket
  EXPECT_EQ(many.buckets(), 3);  // [7], [2000] (a parameter larger than a bucket gets its own), [300]
}

TEST(Parameters, BroadcastAndDivergenceCheck) {
  auto params = make_params();
  {
    torch::NoGradGuard no_grad;
    params[0].add_(world().rank);  // ranks differ
  }
  std::vector<int64_t> checksums;
  if (world().world_size > 1) {
    EXPECT_FALSE(parameters_agree(params, *comm(), &checksums));
  }
  broadcast_parameters(params, *comm());
  EXPECT_TRUE(parameters_agree(params, *comm(), &checksums));
  EXPECT_EQ(static_cast<int>(checksums.size()), world().world_size);
  // One rank perturbs one value by one ulp: the check fires on every rank.
  if (world().rank == world().world_size - 1) {
    torch::NoGradGuard no_grad;
    params[1].view(-1)[5] = std::nextafter(params[1].view(-1)[5].item<float>(), 1e9f);
  }
  EXPECT_EQ(parameters_agree(params, *comm(), &checksums), world().world_size == 1);
}

}  // namespace
}  // namespace clinfm

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  clinfm::init_distributed(&argc, &argv);
  const int failed = RUN_ALL_TESTS();
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  clinfm::comm().reset();
  clinfm::finalize_distributed();
  return any_failed;
}
